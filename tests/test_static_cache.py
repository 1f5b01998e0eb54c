"""The CUDA option ``EngineOptions.compile``: decoding on a static KV cache (which
transformers' ``generate`` compiles on a GPU). On a CPU nothing compiles, so the static
cache itself is checked here: the same tokens as the dynamic cache. Its speed is measured
on a GPU (benchmarks/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.asr.engine import STATIC_CACHE_STEP, Engine, EngineOptions, static_cache


def _clips() -> list[np.ndarray]:
    rng = np.random.default_rng(21)
    return [
        (0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32)
        for s in (3.0, 29.5, 11.0, 0.6, 17.0)
    ]


def test_the_static_cache_is_rounded_up_so_batches_share_its_shape() -> None:
    from transformers import GenerationConfig

    lengths = set()
    for budget in (16, 40, 120, 200, 256):  # 16 + 8 tokens a second, 0-30 s chunks
        config = GenerationConfig()
        static_cache(config, budget)
        assert config.cache_implementation == "static"
        assert config.max_cache_len % STATIC_CACHE_STEP == 0
        assert config.max_cache_len >= 448 + budget  # a window's audio and prompt, and budget
        assert config.compile_config.mode == "reduce-overhead"
        lengths.add(config.max_cache_len)
    assert lengths == {512, 768}


def test_compile_is_ignored_off_cuda(tiny_model_dir: Path) -> None:
    engine = Engine(
        EngineOptions(model=str(tiny_model_dir), device="cpu", dtype="fp32", compile=True)
    )
    engine.load()
    try:
        config = engine._generation_config(40, anti_repetition=False)
        assert config.cache_implementation is None
        assert config.compile_config is None
        assert engine.with_options(compile=False).options.compile is False  # no reload
    finally:
        engine.unload()


@pytest.mark.parametrize("anti_repetition", [False, True])
def test_the_static_cache_decodes_the_same_tokens(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, anti_repetition: bool
) -> None:
    # the plain PyTorch attention: the CPU's own decoding path keeps a dynamic cache
    options = EngineOptions(
        model=str(tiny_model_dir),
        device="cpu",
        dtype="fp32",
        batch_size=5,
        cpu_attention=False,
        prefill_rows=False,
    )
    dynamic, static = Engine(options), Engine(replace_compile(options))
    dynamic.load()
    static.load()
    used: list[str] = []
    generation_config = Engine._generation_config

    def recorded(self: Engine, max_new_tokens: int, anti: bool) -> object:
        config = generation_config(self, max_new_tokens, anti)
        used.append(str(config.cache_implementation))
        return config

    monkeypatch.setattr(Engine, "_generation_config", recorded)
    monkeypatch.setattr(Engine, "_on_cuda", lambda self: self.options.compile)
    try:
        clips = _clips()  # 0.6-29.5 s: a left-padded batch, budgets 21-252 tokens
        a = dynamic._generate(clips, None, anti_repetition, None)
        b = static._generate(clips, None, anti_repetition, None)
        assert used == ["None", "static"]
        # the tiny model's decoder is drawn to be chaotic: a misplaced cache entry shows
        assert [d.ids for d in a] == [d.ids for d in b]
        assert all(len(d.ids) >= 2 for d in a)
        # a second, smaller batch reuses the engine (a cache of another batch size)
        c = static._generate(clips[:2], None, anti_repetition, None)
        assert [d.ids for d in c] == [d.ids for d in a[:2]]
    finally:
        dynamic.unload()
        static.unload()


def replace_compile(options: EngineOptions) -> EngineOptions:
    from dataclasses import replace

    return replace(options, compile=True)
