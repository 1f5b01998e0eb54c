"""The CPU decoding-step attention (app/core/asr/cpu_attention.py) gives SDPA's results."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from app.core.asr import cpu_attention
from app.core.asr.engine import Engine, EngineOptions
from tests.listener_speech import HELD_OUT_SEED, LISTENER, sentence_clips

GQA = SimpleNamespace(num_key_value_groups=4, is_causal=True, training=False)
ENCODER = SimpleNamespace(num_key_value_groups=1, is_causal=False, training=False)


def _qkv(batch: int, q_len: int, kv_len: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(3)
    q = torch.randn(batch, 8, q_len, 16, generator=gen)
    k = torch.randn(batch, 2, kv_len, 16, generator=gen)
    v = torch.randn(batch, 2, kv_len, 16, generator=gen)
    return q, k, v


def test_a_decoding_step_with_left_padding_matches_sdpa() -> None:
    q, k, v = _qkv(3, 1, 7)
    mask = torch.ones(3, 1, 1, 7, dtype=torch.bool)
    mask[0, ..., :3] = False  # row 0 is padded on the left by 3, row 1 by 1
    mask[1, ..., :1] = False
    ours, weights = cpu_attention.attention(GQA, q, k, v, mask, scaling=0.25)
    ref, _ = sdpa_attention_forward(GQA, q, k, v, mask, scaling=0.25)
    assert weights is None
    assert ours.shape == ref.shape == (3, 1, 8, 16)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    # the padded keys really are ignored: changing them changes nothing
    k2, v2 = k.clone(), v.clone()
    k2[0, :, :3] = 100.0
    v2[0, :, :3] = -100.0
    again, _ = cpu_attention.attention(GQA, q, k2, v2, mask, scaling=0.25)
    torch.testing.assert_close(again[0], ours[0])


def test_a_float_mask_and_no_mask_match_sdpa() -> None:
    q, k, v = _qkv(2, 1, 5)
    additive = torch.zeros(2, 1, 1, 5)
    additive[1, ..., :2] = torch.finfo(torch.float32).min
    for mask in (additive, None):
        ours, _ = cpu_attention.attention(GQA, q, k, v, mask)
        ref, _ = sdpa_attention_forward(GQA, q, k, v, mask)
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_the_prefill_goes_to_sdpa_unchanged() -> None:
    q, k, v = _qkv(2, 5, 5)
    ours, _ = cpu_attention.attention(GQA, q, k, v, None, scaling=0.25, is_causal=True)
    ref, _ = sdpa_attention_forward(GQA, q, k, v, None, scaling=0.25, is_causal=True)
    assert torch.equal(ours, ref)


def test_long_queries_go_to_sdpa_unchanged() -> None:
    gen = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(1, 2, 300, 8, generator=gen) for _ in range(3))
    mask = torch.ones(1, 1, 300, 300, dtype=torch.bool).tril()
    for module, m in ((ENCODER, None), (ENCODER, mask)):
        ours, _ = cpu_attention.attention(module, q, k, v, m)
        ref, _ = sdpa_attention_forward(module, q, k, v, m)
        assert torch.equal(ours, ref)


def test_bf16_steps_stay_close_to_sdpa() -> None:
    q, k, v = (t.to(torch.bfloat16) for t in _qkv(4, 1, 450))
    mask = torch.ones(4, 1, 1, 450, dtype=torch.bool)
    mask[2, ..., :100] = False
    ours, _ = cpu_attention.attention(GQA, q, k, v, mask)
    ref, _ = sdpa_attention_forward(GQA, q, k, v, mask)
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), ref.float(), rtol=2e-2, atol=2e-2)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """Five held-out sentences of different lengths (so a batch is left-padded)."""
    return sentence_clips(tmp_path_factory.mktemp("cpu-attention"), HELD_OUT_SEED + 41)[1]


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Engine, Engine]]:
    ours = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32", batch_size=5))
    plain = Engine(
        EngineOptions(
            model=str(LISTENER), device="cpu", dtype="fp32", batch_size=5, cpu_attention=False
        )
    )
    ours.load()
    plain.load()
    yield ours, plain
    ours.unload()
    plain.unload()


def test_the_engine_gives_the_cpu_decoder_this_attention(engines: tuple[Engine, Engine]) -> None:
    ours, plain = engines
    assert ours.model.config.text_config._attn_implementation == cpu_attention.NAME
    assert ours.model.config.audio_config._attn_implementation == "sdpa"
    assert plain.model.config.text_config._attn_implementation == "sdpa"
    assert plain.model.config.audio_config._attn_implementation == "sdpa"


def test_listener_output_is_the_same_token_for_token(
    engines: tuple[Engine, Engine], clips: list[np.ndarray]
) -> None:
    ours, plain = engines
    a = ours.decode_batch(clips)
    b = plain.decode_batch(clips)
    assert [d.ids for d in a] == [d.ids for d in b]
    assert all(len(d.ids) >= 2 for d in a)  # real sentences came out, not empty rows


def test_with_options_that_change_the_attention_need_a_new_engine(
    engines: tuple[Engine, Engine],
) -> None:
    from app.core.errors import ModelError

    with pytest.raises(ModelError):
        engines[0].with_options(cpu_attention=False)
