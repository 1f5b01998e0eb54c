"""The CUDA batch size comes from the free GPU memory after loading (no GPU here: the
memory query is faked), and a batch that still runs out of memory halves the cap."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.asr import model_loader
from app.core.asr.engine import Engine
from app.core.asr.model_loader import batch_size_for_memory, chunk_memory_bytes
from app.core.events import DeviceInfo

GIB = 2**30


def real_config() -> object:
    from transformers import GlmAsrConfig

    return GlmAsrConfig()


def test_the_estimate_follows_the_config() -> None:
    config = real_config()
    per_chunk = chunk_memory_bytes(config, 2)
    # GLM-ASR-Nano, bf16, a 30 s window: KV cache 28 layers x 4 heads x 128 x 2 x 2 bytes
    # (57 KiB a token) for ~700 tokens, plus the encoder's 1500 positions
    kv = 2 * 28 * 4 * 128 * 2 * (375 + 64 + 16 + 240)
    assert kv < per_chunk < 10 * kv
    assert chunk_memory_bytes(config, 4) > per_chunk  # fp32 needs more
    assert chunk_memory_bytes(config, 2, window_s=10.0) < per_chunk / 2  # shorter windows less
    config.text_config.num_hidden_layers *= 2
    assert chunk_memory_bytes(config, 2) > per_chunk


def test_fused_attention_leaves_the_encoder_s_scores_out() -> None:
    """SDPA's fused kernels never hold the encoder's attention scores (20 heads x 1500
    x 1500 floats, 172 MiB a window): without them the estimate comes to 98 MiB a chunk,
    where chunks took 41-88 MiB on an H200 (benchmarks/README.md, "On a GPU")."""
    config = real_config()
    plain = chunk_memory_bytes(config, 2)
    fused = chunk_memory_bytes(config, 2, fused_attention=True)
    assert plain - fused == 20 * 1500 * 1500 * 4
    assert 88 * 2**20 < fused < 110 * 2**20
    # the KV cache is counted as the static cache holds it, rounded up to 256 tokens: 575
    # tokens at 4 a second and 695 at 8 both take 768
    assert chunk_memory_bytes(config, 2, tokens_per_second=4.0, fused_attention=True) == fused
    assert batch_size_for_memory(config, 8 * GIB, 2, fused_attention=True) == 50
    assert batch_size_for_memory(config, 8 * GIB, 2) == 18


def test_the_engine_counts_fused_attention_where_the_encoder_has_it(tiny_engine: Engine) -> None:
    from app.core.asr.engine import _fused_audio_attention

    config = tiny_engine.model.config
    assert config.audio_config._attn_implementation == "sdpa"
    assert _fused_audio_attention(config)
    config.audio_config._attn_implementation = "eager"
    try:
        assert not _fused_audio_attention(config)
    finally:
        config.audio_config._attn_implementation = "sdpa"


@pytest.mark.parametrize("free_gib", [0.1, 2, 8, 24, 140])
def test_the_batch_fits_the_free_memory(free_gib: float) -> None:
    config = real_config()
    size = batch_size_for_memory(config, int(free_gib * GIB), 2)
    assert 1 <= size <= model_loader.CUDA_MAX_BATCH
    if size > 1:
        used = size * chunk_memory_bytes(config, 2)
        assert used <= model_loader.CUDA_MEMORY_SHARE * free_gib * GIB
    if size < model_loader.CUDA_MAX_BATCH:
        more = (size + 1) * chunk_memory_bytes(config, 2)
        assert more > model_loader.CUDA_MEMORY_SHARE * free_gib * GIB


def test_a_cuda_engine_sizes_its_batch_from_free_memory_and_keeps_the_oom_cap(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    asked: list[int] = []
    free = {"bytes": 6 * GIB}

    def mem_get_info(device: object = None) -> tuple[int, int]:
        asked.append(1)
        return free["bytes"], 141 * GIB

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    engine = tiny_engine.with_options(batch_size=0)
    engine._device_info = DeviceInfo(device="cuda", dtype="bf16", name="Fake GPU")
    expected = batch_size_for_memory(
        engine.model.config,
        6 * GIB,
        2,
        window_s=engine.window_seconds or 30.0,
        fused_attention=True,  # the tiny model's encoder runs SDPA
    )
    assert engine.batch_size == expected > 16  # the tiny model is small: many chunks fit
    free["bytes"] = 1  # asked once, after loading, not before every batch
    assert engine.batch_size == expected and len(asked) == 1

    # running out of memory anyway halves the batch and remembers it
    real = engine._generate
    sizes: list[int] = []

    def generate(samples: list[np.ndarray], *args: object) -> object:
        sizes.append(len(samples))
        if len(samples) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 9 GiB")
        return real(samples, *args)

    monkeypatch.setattr(engine, "_generate", generate)
    audios = [np.full(8000 + 800 * k, 0.01 * (k + 1), np.float32) for k in range(6)]
    assert len(list(engine.transcribe(audios))) == 6
    assert engine.batch_size <= 3 and max(sizes[-2:]) <= 3


def test_without_a_memory_query_the_cuda_default_is_used(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    def broken(device: object = None) -> tuple[int, int]:
        raise RuntimeError("CUDA driver not initialised")

    monkeypatch.setattr(torch.cuda, "mem_get_info", broken)
    engine = tiny_engine.with_options(batch_size=0)
    engine._device_info = DeviceInfo(device="cuda", dtype="bf16", name="Fake GPU")
    assert engine.batch_size == 16
