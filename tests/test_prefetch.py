"""The next batch's inputs built on a helper thread while the device decodes this one
(app/core/asr/prefetch.py), on the tiny random checkpoint (tests/tiny_model.py).

On the CPU the engine does not prefetch (the model's threads use every core); these
tests turn it on there, or make the engine believe it is on a GPU, since what matters is
the same: the same tokens for every chunk, the helper's work used only for the batch it
was built for, and its errors reported as the batch's own.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.asr import engine as engine_module
from app.core.asr.engine import Engine, EngineOptions
from app.core.errors import Cancelled, ModelError
from app.core.events import DeviceInfo

SR = 16000


def clip(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(SR * seconds))).astype(np.float32)


# Different lengths in every batch (left padding matters), and one empty chunk (the
# shortest, so the last batch: the engine sorts longest first).
CLIPS = [clip(1.0 + 0.45 * i, 70 + i) for i in range(9)]
CLIPS[6] = np.zeros(0, dtype=np.float32)


def run(engine: Engine, clips: list[np.ndarray], **kwargs: Any) -> dict[int, tuple[int, ...]]:
    return {i: d.ids for i, d, _ in engine.transcribe_decoded(clips, **kwargs)}


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, int]]:
    """Every build of a batch's host inputs: (thread name, processor, rows)."""
    seen: list[tuple[str, Any, int]] = []
    real = engine_module._host_inputs

    def spy(processor: Any, prompt: str, audios: Any) -> Any:
        seen.append((threading.current_thread().name, processor, len(audios)))
        return real(processor, prompt, audios)

    monkeypatch.setattr(engine_module, "_host_inputs", spy)
    return seen


def test_prefetched_batches_decode_to_the_same_tokens(
    tiny_engine: Engine, builds: list[tuple[str, Any, int]]
) -> None:
    """Batches of 2 over 9 chunks: every batch's inputs are built on the helper thread,
    from its own copy of the processor (none for the batch of only the empty chunk), the
    next batch's while the model decodes this one; every chunk gets the tokens it gets
    without prefetching, the empty one none."""
    plain = run(tiny_engine.with_options(batch_size=2, prefetch=False), CLIPS)
    builds.clear()
    ahead = tiny_engine.with_options(batch_size=2, prefetch=True)
    before = ahead._prefetch.built
    assert run(ahead, CLIPS) == plain
    assert plain[6] == () and all(plain[i] for i in range(9) if i != 6)
    # longest first: 8 7 | 5 4 | 3 2 | 1 0 | 6 (empty: nothing to build or decode)
    assert [rows for _, _, rows in builds] == [2, 2, 2, 2]
    assert all(name.startswith("murmur-inputs") for name, _, _ in builds)
    copies = {id(p) for _, p, _ in builds}
    assert len(copies) == 1 and id(tiny_engine.processor) not in copies
    assert ahead._prefetch.built - before == 4


def test_without_prefetch_every_batch_is_built_on_the_model_s_thread(
    tiny_engine: Engine, builds: list[tuple[str, Any, int]]
) -> None:
    run(tiny_engine.with_options(batch_size=2, prefetch=False), CLIPS[:5])
    assert [name for name, _, _ in builds] == [threading.current_thread().name] * 3
    assert all(p is tiny_engine.processor for _, p, _ in builds)


def test_prefetch_is_on_for_a_gpu_and_off_for_a_cpu(tiny_engine: Engine) -> None:
    assert tiny_engine.options.prefetch is None
    assert not tiny_engine._prefetching()  # CPU: the model's threads use every core
    for device in ("cuda", "mps"):
        gpu = tiny_engine.with_options()
        gpu._device_info = DeviceInfo(device, "fp32", name="Fake GPU")
        assert gpu._prefetching()
        off = tiny_engine.with_options(prefetch=False)
        off._device_info = gpu._device_info
        assert not off._prefetching()
    assert tiny_engine.with_options(prefetch=True)._prefetching()


def test_a_batch_built_ahead_for_a_size_that_shrank_is_not_used(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch, builds: list[tuple[str, Any, int]]
) -> None:
    """A fake GPU runs out of memory above 2 rows. The first batch of 4 halves to 2 + 2;
    the batch of 4 built ahead meanwhile no longer matches, so the next batch (2 rows)
    is built again, and the one after it ahead. No batch is tried twice, and every
    chunk gets its tokens. (The halves are built where they are decoded.)"""
    import torch

    clips = [c for c in CLIPS if len(c)][:8]
    expected = run(tiny_engine.with_options(batch_size=4, prefetch=False), clips)
    gpu = tiny_engine.with_options(batch_size=4, cuda_graphs=False)  # generate
    gpu._device_info = DeviceInfo("cuda", "fp32", name="Fake GPU 4 GB")
    model = gpu.model
    real_generate = model.generate
    rows_tried: list[int] = []

    def generate(**kwargs: Any) -> Any:
        rows = int(kwargs["input_ids"].shape[0])
        rows_tried.append(rows)
        if rows > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", generate)
    builds.clear()
    try:
        assert run(gpu, clips) == expected
    finally:
        gpu._batch_cap = 0
    assert rows_tried == [4, 2, 2, 2, 2]  # 4 failed, its halves; then 2 + 2
    main = threading.current_thread().name
    seen = Counter((name == main, rows) for name, _, rows in builds)
    assert seen == {
        (False, 4): 2,  # the first batch, and the next built ahead before the memory ran out
        (True, 2): 2,  # the halves of the first batch
        (False, 2): 2,  # the next batch, built again at its new size, and the one after it
    }


def test_a_batch_whose_inputs_fail_on_the_helper_is_that_batch_s_error(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper's exception reaches the consumer when that batch is decoded, as a
    one-line ModelError, after the batches before it were reported."""
    real = engine_module._host_inputs
    calls: list[int] = []

    def failing(processor: Any, prompt: str, audios: Any) -> Any:
        calls.append(len(audios))
        if len(calls) == 2:  # the second batch
            raise ValueError("the feature extractor could not read this audio")
        return real(processor, prompt, audios)

    monkeypatch.setattr(engine_module, "_host_inputs", failing)
    ahead = tiny_engine.with_options(batch_size=2, prefetch=True)
    reported = []
    with pytest.raises(ModelError) as info:
        for index, _, _ in ahead.transcribe_decoded(CLIPS[:5]):
            reported.append(index)
    assert sorted(reported) == [3, 4]
    assert str(info.value) == (
        "Transcription failed: the feature extractor could not read this audio"
    )


def test_a_consumer_that_stops_early_leaves_the_engine_usable(tiny_engine: Engine) -> None:
    ahead = tiny_engine.with_options(batch_size=2, prefetch=True)
    expected = run(ahead, CLIPS)
    results = ahead.transcribe_decoded(CLIPS)
    next(results)
    results.close()  # the batch built ahead is cancelled or finishes unused
    cancel = threading.Event()
    seen = []
    with pytest.raises(Cancelled):
        for index, _, _ in ahead.transcribe_decoded(CLIPS, cancel):
            seen.append(index)
            cancel.set()
    assert seen == [8, 7]  # the batch under way is reported, the next is not decoded
    assert run(ahead, CLIPS) == expected


def test_unloading_lets_the_helper_go(tiny_model_dir: Path) -> None:
    engine = Engine(
        EngineOptions(
            model=str(tiny_model_dir), device="cpu", dtype="fp32", batch_size=1, prefetch=True
        )
    )
    engine.load()
    try:
        run(engine, CLIPS[:3])
        assert engine._prefetch.built == 3 and engine._prefetch._pool is not None
        shared = engine.with_options(context="names")._prefetch
        assert shared is engine._prefetch  # one helper for the engines of one model
    finally:
        engine.unload()
    assert engine._prefetch._pool is None and engine._prefetch._copy is None
