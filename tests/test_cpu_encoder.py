"""The audio encoder on a CPU (app/core/asr/cpu_encoder.py): a batch encoded a window at a
time gives the whole batch's output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app.core.asr import cpu_encoder
from app.core.asr.engine import Engine, EngineOptions
from app.core.errors import ModelError
from tests.fixtures_model import decoded_by_each
from tests.listener_speech import HELD_OUT_SEED, LISTENER, WER_BAR, sentence_clips, wer


def _features(count: int, frames: int = 3000) -> torch.Tensor:
    gen = torch.Generator().manual_seed(5)
    return torch.randn(count, 128, frames, generator=gen)


@pytest.mark.parametrize("windows", [1, 2])
def test_a_batch_encoded_in_groups_equals_the_whole_batch(
    tiny_model_dir: Path, windows: int
) -> None:
    from transformers import GlmAsrForConditionalGeneration

    whole = GlmAsrForConditionalGeneration.from_pretrained(tiny_model_dir).eval()
    grouped = GlmAsrForConditionalGeneration.from_pretrained(tiny_model_dir).eval()
    assert cpu_encoder.encode_in_groups(grouped, windows)
    assert not cpu_encoder.encode_in_groups(grouped, windows)  # once only
    features = _features(5)
    lengths = torch.tensor([3000, 2400, 3000, 800, 1500])
    mask = (torch.arange(3000)[None, :] < lengths[:, None]).long()
    calls: list[int] = []
    grouped.model.audio_tower.register_forward_hook(lambda m, a, o: calls.append(1))
    with torch.inference_mode():
        a = whole.get_audio_features(features, mask, return_dict=True)
        b = grouped.get_audio_features(features, mask, return_dict=True)
    assert calls == [1]  # hooks (the benchmark's timers) see one call
    assert b.last_hidden_state.shape == a.last_hidden_state.shape == (5, 1500, 64)
    torch.testing.assert_close(b.last_hidden_state, a.last_hidden_state, rtol=1e-5, atol=1e-5)
    # the audio tokens handed to the decoder: every window's valid ones, in order
    assert b.pooler_output.shape == a.pooler_output.shape
    torch.testing.assert_close(b.pooler_output, a.pooler_output, rtol=1e-5, atol=1e-5)


def _clips(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(8)
    return [
        (0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32)
        for s in (12.0, 4.5, 27.0, 8.0)[:count]
    ]


def test_groups_are_sized_to_the_caches() -> None:
    # GLM-ASR-Nano: 1,500 positions, a 5,120-wide MLP: one window at a time, bf16 or fp32
    assert cpu_encoder.group_size(1500, 5120, 2) == 1
    assert cpu_encoder.group_size(1500, 5120, 4) == 1
    # the test listener (10 s windows, 512 wide): a whole CPU batch of 16 at once
    assert cpu_encoder.group_size(500, 512, 4) >= 16
    assert cpu_encoder.group_size(0, 0, 2) >= 1


def _engines(model: Path, dtype: str, windows: int | None = 1) -> tuple[Engine, Engine]:
    """A CPU engine encoding ``windows`` windows at a time, and one encoding the whole
    batch at once."""
    ours = Engine(
        EngineOptions(
            model=str(model), device="cpu", dtype=dtype, batch_size=5, encoder_windows=windows
        )
    )
    base = Engine(
        EngineOptions(model=str(model), device="cpu", dtype=dtype, batch_size=5, encoder_windows=0)
    )
    ours.load()
    base.load()
    return ours, base


def test_the_cpu_engine_encodes_a_window_at_a_time_with_the_same_tokens(
    tiny_model_dir: Path,
) -> None:
    ours, base = _engines(tiny_model_dir, "fp32")
    try:
        assert ours.model.model.audio_tower._murmur_windows == 1
        assert not hasattr(base.model.model.audio_tower, "_murmur_windows")
        auto = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu"))
        auto.load()
        assert auto.model.model.audio_tower._murmur_windows is None  # sized per call
        auto.unload()
        clips = _clips(4)
        a = ours.decode_batch(clips)
        b = base.decode_batch(clips)
        assert [d.ids for d in a] == [d.ids for d in b]
        assert all(len(d.ids) >= 2 for d in a)
        with pytest.raises(ModelError):
            ours.with_options(encoder_windows=0)
    finally:
        ours.unload()
        base.unload()


def test_in_bf16_the_encoding_differs_by_rounding_and_the_listener_hears_the_same(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import GlmAsrForConditionalGeneration

    # bf16 matrix products of a different shape round differently: close, not equal
    model = GlmAsrForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=torch.bfloat16)
    features = _features(4).to(torch.bfloat16)
    mask = torch.ones(4, 3000, dtype=torch.long)
    with torch.inference_mode():
        whole = model.get_audio_features(features, mask, return_dict=True).pooler_output
        cpu_encoder.encode_in_groups(model, 1)
        alone = model.get_audio_features(features, mask, return_dict=True).pooler_output
    torch.testing.assert_close(alone.float(), whole.float(), rtol=2e-2, atol=2e-2)

    # a trained model's words do not move: held-out sentences of different lengths
    track, clips = sentence_clips(tmp_path, HELD_OUT_SEED + 43)
    a, b = decoded_by_each(_engines(LISTENER, "bf16"), clips)
    assert [d.ids for d in a] == [d.ids for d in b]
    assert wer(track.sentences, [d.text for d in a]) <= WER_BAR
