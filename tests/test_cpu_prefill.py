"""The prefill on a CPU row by row (app/core/asr/cpu_prefill.py): the padded batch's
output, without computing its padding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from app.core.asr import cpu_prefill
from app.core.asr.engine import Engine, EngineOptions
from app.core.errors import ModelError
from tests.fixtures_model import decoded_by_each
from tests.listener_speech import HELD_OUT_SEED, LISTENER, WER_BAR, sentence_clips, wer


def _left_padded(lengths: list[int], width: int) -> torch.Tensor:
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        mask[row, width - n :] = 1
    return mask


def test_only_a_left_padded_prefill_into_an_empty_cache_goes_row_by_row() -> None:
    from transformers import DynamicCache

    embeds = torch.zeros(3, 6, 4)
    padded = _left_padded([6, 4, 2], 6)
    base: dict[str, Any] = {"inputs_embeds": embeds, "attention_mask": padded}
    assert cpu_prefill._applies({**base, "cache": DynamicCache()})
    assert not cpu_prefill._applies({**base, "cache": None})
    assert not cpu_prefill._applies({**base, "cache": DynamicCache(), "use_cache": False})
    assert not cpu_prefill._applies({**base, "cache": DynamicCache(), "output_attentions": True})
    full = {**base, "attention_mask": torch.ones(3, 6, dtype=torch.long)}
    assert not cpu_prefill._applies({**full, "cache": DynamicCache()})  # nothing to gain
    right = {**base, "attention_mask": padded.flip(1)}
    assert not cpu_prefill._applies({**right, "cache": DynamicCache()})
    step = {**base, "inputs_embeds": embeds[:, :1], "attention_mask": padded[:, :1]}
    assert not cpu_prefill._applies({**step, "cache": DynamicCache()})
    one_row = {"inputs_embeds": embeds[:1], "attention_mask": padded[1:2]}
    assert not cpu_prefill._applies({**one_row, "cache": DynamicCache()})
    used = DynamicCache()
    used.update(torch.zeros(3, 2, 1, 4), torch.zeros(3, 2, 1, 4), 0)
    assert not cpu_prefill._applies({**base, "cache": used})


def test_rows_go_alone_only_where_the_padding_outweighs_the_calls() -> None:
    # GLM-ASR-Nano on rtf.py's 13 packed windows: 2 x 1.35 G weights a token, 30 tokens
    # of padding a row on average
    nano = _left_padded([300 - (k * 60) % 61 for k in range(13)], 300)
    assert cpu_prefill._worth_it(nano, 2 * 1.35e9)
    # the test listener: 0.9 M weights a token, a batch of 16 with 50 tokens of padding each
    listener = _left_padded([150 - 50 * (k % 2) * 2 for k in range(16)], 150)
    assert not cpu_prefill._worth_it(listener, 2 * 0.9e6)
    # no padding is never worth it, a single row always is (no extra call)
    assert not cpu_prefill._worth_it(torch.ones(4, 9, dtype=torch.long), 1e12)
    assert cpu_prefill._worth_it(_left_padded([3], 9), 1.0)


@pytest.fixture
def always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows alone even for the tiny models (whose padding is too cheap to be worth it)."""
    monkeypatch.setattr(cpu_prefill, "_MIN_SAVED_FLOP", 0.0)


@pytest.mark.usefixtures("always")
def test_rows_alone_give_the_padded_batch_s_states_and_cache(tiny_model_dir: Path) -> None:
    from transformers import DynamicCache, GlmAsrForConditionalGeneration

    padded_model = GlmAsrForConditionalGeneration.from_pretrained(tiny_model_dir).eval()
    rows_model = GlmAsrForConditionalGeneration.from_pretrained(tiny_model_dir).eval()
    assert cpu_prefill.prefill_rows_alone(rows_model)
    assert not cpu_prefill.prefill_rows_alone(rows_model)  # once only
    lengths, width = [9, 5, 9, 2], 9
    mask = _left_padded(lengths, width)
    embeds = torch.randn(4, width, padded_model.config.text_config.hidden_size)
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)  # as generate makes them
    outputs = []
    for model in (padded_model, rows_model):
        cache = DynamicCache(config=model.config.text_config)
        with torch.inference_mode():
            out = model.model.language_model(
                inputs_embeds=embeds,
                attention_mask=mask,
                position_ids=positions,
                cache=cache,
                use_cache=True,
            )
        outputs.append((out.last_hidden_state, cache))
    (h_pad, c_pad), (h_rows, c_rows) = outputs
    real = mask.bool()
    torch.testing.assert_close(h_rows[real], h_pad[real], rtol=1e-5, atol=1e-5)
    assert not h_rows[~real].any()  # the padding's states are zeros, never read
    assert len(c_rows.layers) == len(c_pad.layers)
    for a, b in zip(c_rows.layers, c_pad.layers, strict=True):
        assert a.keys.shape == b.keys.shape
        keep = real[:, None, :, None].expand_as(a.keys)
        torch.testing.assert_close(a.keys[keep], b.keys[keep], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(a.values[keep], b.values[keep], rtol=1e-5, atol=1e-5)
        assert not a.keys[~keep].any()


def _clips() -> list[np.ndarray]:
    rng = np.random.default_rng(8)
    return [
        (0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32)
        for s in (12.0, 4.5, 27.0, 8.0)
    ]


def _engines(model: Path, dtype: str) -> tuple[Engine, Engine]:
    rows = Engine(EngineOptions(model=str(model), device="cpu", dtype=dtype, batch_size=5))
    padded = Engine(
        EngineOptions(model=str(model), device="cpu", dtype=dtype, batch_size=5, prefill_rows=False)
    )
    rows.load()
    padded.load()
    return rows, padded


@pytest.mark.usefixtures("always")
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_the_cpu_engine_prefills_row_by_row_with_the_same_tokens(
    tiny_model_dir: Path, dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    by_rows = cpu_prefill._by_rows

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return by_rows(*args, **kwargs)

    monkeypatch.setattr(cpu_prefill, "_by_rows", counted)
    rows, padded = _engines(tiny_model_dir, dtype)
    try:
        clips = _clips()  # 4.5-27 s: a left-padded batch
        a = rows.decode_batch(clips)
        assert calls == [1]  # one prefill, row by row
        b = padded.decode_batch(clips)
        assert calls == [1]
        # the tiny model's decoder is drawn to be chaotic: any drift would show
        assert [d.ids for d in a] == [d.ids for d in b]
        assert all(len(d.ids) >= 2 for d in a)
        with pytest.raises(ModelError):
            rows.with_options(prefill_rows=False)
    finally:
        rows.unload()
        padded.unload()


def test_the_listener_hears_the_same_in_bf16(
    tmp_path: Path, always: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    by_rows = cpu_prefill._by_rows
    monkeypatch.setattr(
        cpu_prefill, "_by_rows", lambda *a, **k: calls.append(1) or by_rows(*a, **k)
    )
    track, clips = sentence_clips(tmp_path, HELD_OUT_SEED + 44)
    a, b = decoded_by_each(_engines(LISTENER, "bf16"), clips)
    assert calls == [1]
    assert [d.ids for d in a] == [d.ids for d in b]
    assert wer(track.sentences, [d.text for d in a]) <= WER_BAR
