"""Greedy decoding on a static cache (app/core/asr/static_decode.py), the CUDA engine's
decoding path: checked here eagerly on the CPU against transformers' ``generate``, token
for token. The CUDA graphs that replay its steps are checked on a GPU
(benchmarks/cuda_checks.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from app.core.asr import static_decode
from app.core.asr.engine import Engine, EngineOptions
from app.core.errors import Cancelled
from tests.listener_speech import HELD_OUT_SEED, LISTENER, WER_BAR, sentence_clips, wer


def _clips(seed: int, seconds: tuple[float, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32) for s in seconds]


@pytest.fixture
def static_on_cpu(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The engine takes the static path on the CPU (eagerly: no CUDA graphs here).
    Yields the batch sizes it decoded that way."""
    sizes: list[int] = []
    generate = static_decode.StaticDecoder.generate

    def counted(self: static_decode.StaticDecoder, inputs: object, *args: object, **kw: object):
        sizes.append(int(inputs["input_ids"].shape[0]))  # type: ignore[index]
        return generate(self, inputs, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "_on_cuda", lambda self: True)
    monkeypatch.setattr(static_decode.StaticDecoder, "generate", counted)
    return sizes


def _engines(model: Path, dtype: str, **options: object) -> tuple[Engine, Engine]:
    """The static path and ``generate`` on the same weights, both on PyTorch's attention
    (the CPU's own decoding path keeps a dynamic cache)."""
    base = EngineOptions(
        model=str(model), device="cpu", dtype=dtype, cpu_attention=False, prefill_rows=False
    )
    static = Engine(EngineOptions(**{**base.__dict__, **options}))
    plain = Engine(EngineOptions(**{**base.__dict__, **options, "cuda_graphs": False}))
    static.load()
    plain.load()
    return static, plain


def test_it_decodes_generate_s_tokens(tiny_model_dir: Path, static_on_cpu: list[int]) -> None:
    static, plain = _engines(tiny_model_dir, "fp32", batch_size=5)
    try:
        first = _clips(3, (3.0, 29.5, 11.0, 0.6, 17.0))  # left padded, budgets 21-252
        second = _clips(4, (28.0, 2.0, 9.0, 14.0, 6.5))  # the same shape: the cache reused
        third = _clips(5, (5.0, 1.0))  # another shape
        for clips in (first, second, third, first):
            a = static.decode_batch(clips)
            b = plain.decode_batch(clips)
            # the tiny model's decoder is drawn to be chaotic: any slip in the cache, the
            # mask or the positions shows as other tokens
            assert [d.ids for d in a] == [d.ids for d in b]
            assert [d.hit_limit for d in a] == [d.hit_limit for d in b]
            assert all(len(d.ids) >= 2 for d in a)
        assert static_on_cpu == [5, 5, 2, 5]
        decoder = static._decoders.get(static.model)
        assert len(decoder._slots) == 2  # (5 rows, 512) and (2 rows, 256), kept
        assert decoder.captured == 0  # no CUDA here
    finally:
        static.unload()
        plain.unload()


def test_rows_that_end_early_get_pad_after_their_end(
    tmp_path: Path, static_on_cpu: list[int]
) -> None:
    """The trained listener ends each sentence with an end token, at different steps:
    the rows that ended wait (pad tokens) while the others go on, and the batch stops
    once all have ended, well before its token budget."""
    track, clips = sentence_clips(tmp_path, HELD_OUT_SEED + 61)
    static, plain = _engines(LISTENER, "fp32")
    steps: list[int] = []
    try:
        a = static.decode_batch(clips, on_step=steps.append)
        b = plain.decode_batch(clips)
    finally:
        static.unload()
        plain.unload()
    assert static_on_cpu == [len(clips)]
    assert [d.ids for d in a] == [d.ids for d in b]
    assert len({len(d.ids) for d in a}) > 1  # they did end at different steps
    assert not any(d.hit_limit for d in a)
    assert steps == list(range(1, len(steps) + 1))
    budget = 16 + int(np.ceil(max(len(c) for c in clips) / 16000 * 8))
    longest = max(len(d.ids) for d in a) + 1  # and its end token
    assert longest <= len(steps) < min(budget, longest + static_decode.CHECK_EVERY)
    assert wer(track.sentences, [d.text for d in a]) <= WER_BAR


def test_cancel_stops_it_within_a_step(tiny_model_dir: Path, static_on_cpu: list[int]) -> None:
    static, plain = _engines(tiny_model_dir, "fp32")
    plain.unload()
    cancel = threading.Event()
    steps: list[int] = []

    def on_step(k: int) -> None:
        steps.append(k)
        if k == 3:
            cancel.set()

    try:
        with pytest.raises(Cancelled):
            static.decode_batch(_clips(6, (20.0, 7.0)), cancel, on_step=on_step)
    finally:
        static.unload()
    assert steps == [1, 2, 3]


def test_the_anti_repetition_retries_keep_generate(
    tiny_model_dir: Path, static_on_cpu: list[int]
) -> None:
    static, plain = _engines(tiny_model_dir, "fp32")
    try:
        clips = _clips(7, (12.0,))
        a = static.decode_batch(clips, anti_repetition=True)
        b = plain.decode_batch(clips, anti_repetition=True)
        assert static_on_cpu == []  # a repetition penalty is a logits processor
        assert [d.ids for d in a] == [d.ids for d in b]
        assert not static._static_decoding(static._generation_config(40, anti_repetition=True))
        assert static._static_decoding(static._generation_config(40, anti_repetition=False))
        assert not static.with_options(compile=True)._static_decoding(
            static._generation_config(40, anti_repetition=False)
        )
    finally:
        static.unload()
        plain.unload()


def test_off_cuda_the_engine_keeps_generate(tiny_model_dir: Path) -> None:
    engine = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", dtype="fp32"))
    engine.load()
    try:
        assert not engine._static_decoding(engine._generation_config(40, anti_repetition=False))
    finally:
        engine.unload()


def test_a_failure_of_the_static_path_falls_back_to_generate(
    tiny_model_dir: Path,
    static_on_cpu: list[int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Internals of another transformers version that the static path does not know must
    cost speed, never the transcript: the batch is decoded by generate, and so is every
    later one, with one line in the log."""
    static, plain = _engines(tiny_model_dir, "fp32")
    tried: list[int] = []

    def broken(self: object, inputs: object, *args: object, **kwargs: object) -> object:
        tried.append(1)
        raise TypeError("forward() got an unexpected keyword argument 'cache'")

    monkeypatch.setattr(static_decode.StaticDecoder, "generate", broken)
    try:
        clips = _clips(8, (6.0, 13.0))
        with caplog.at_level("WARNING", logger="app.core.asr.engine"):
            a = static.decode_batch(clips)
            b = static.decode_batch(clips)
        expected = plain.decode_batch(clips)
    finally:
        static.unload()
        plain.unload()
    assert tried == [1]  # not again
    assert [d.ids for d in a] == [d.ids for d in b] == [d.ids for d in expected]
    warnings = [r for r in caplog.records if "static cache failed" in r.getMessage()]
    assert len(warnings) == 1 and "unexpected keyword" in warnings[0].getMessage()


@pytest.mark.parametrize("capture", ["replayed", "failed"])
def test_the_capture_s_warm_up_step_is_counted_once(
    tiny_model_dir: Path, static_on_cpu: list[int], monkeypatch: pytest.MonkeyPatch, capture: str
) -> None:
    """A CUDA capture runs the step once (its warm-up) before recording it: that step is
    the batch's, whether the recorded graph is then replayed or its capture fails. Here a
    stand-in for the capture takes the warm-up step and leaves a "graph" that replays the
    step eagerly (or none): the tokens are still generate's, none skipped or doubled."""

    class Replay:
        def __init__(self, decoder: static_decode.StaticDecoder, slot: object) -> None:
            self.decoder, self.slot = decoder, slot

        def replay(self) -> None:
            self.decoder._step(self.slot)  # type: ignore[arg-type]

    captures: list[str] = []

    def stand_in(self: static_decode.StaticDecoder, slot: static_decode._Slot) -> bool:
        if not self.graphs:
            return False
        self._step(slot)  # the warm-up
        captures.append(capture)
        if capture == "replayed":
            slot.graph = Replay(self, slot)
        else:
            self.graphs = False
        return True

    widths: list[tuple[int, int]] = []
    generate = static_decode.StaticDecoder.generate

    def checked(self: static_decode.StaticDecoder, *args: object, **kwargs: object) -> object:
        out = generate(self, *args, **kwargs)  # type: ignore[arg-type]
        slot = next(reversed(self._slots.values()))  # the shape just used
        widths.append((int(slot.count.item()), int(out.shape[1])))  # type: ignore[attr-defined]
        return out

    monkeypatch.setattr(static_decode.StaticDecoder, "_capture", stand_in)
    monkeypatch.setattr(static_decode.StaticDecoder, "generate", checked)
    static, plain = _engines(tiny_model_dir, "fp32", batch_size=3)
    try:
        for seed in (9, 10):  # the second batch of the shape replays the graph from the start
            clips = _clips(seed, (4.0, 21.0, 9.5))
            a = static.decode_batch(clips)
            b = plain.decode_batch(clips)
            assert [d.ids for d in a] == [d.ids for d in b]
            assert all(len(d.ids) >= 2 for d in a)
    finally:
        static.unload()
        plain.unload()
    assert captures == [capture]  # once a shape (once at all when it failed)
    # as many steps ran as tokens came out: the warm-up was not followed by another step
    assert len(widths) == 2 and all(steps == width for steps, width in widths)


def _joined(clips: list[np.ndarray], picks: tuple[tuple[int, ...], ...]) -> list[np.ndarray]:
    """Rows of several sentences each, 0.5 s apart, as a packed window holds them."""
    gap = np.zeros(8000, np.float32)
    rows = []
    for pick in picks:
        parts = [p for k in pick for p in (clips[k], gap)][:-1]
        rows.append(np.concatenate(parts))
    return rows


@pytest.mark.parametrize("attention", ["cpu", "gaze"])
def test_it_records_where_each_token_was_heard_as_generate_does(
    tmp_path: Path, static_on_cpu: list[int], attention: str
) -> None:
    """Packed windows need where each token was heard. On a GPU the static path decodes,
    so it records the watched layer's attention in its own buffers (what a CUDA graph
    replays), from a per-row index into the cache: the same times and the same attention
    as ``generate`` with the CPU attention, for rows left-padded by different amounts,
    twice through the same cache and recorder. ``gaze``: the GPU's attention (SDPA, and
    the watched layer's steps apart)."""
    from app.core.asr import cpu_attention

    _, clips = sentence_clips(tmp_path, HELD_OUT_SEED + 63)
    static, plain = _engines(LISTENER, "fp32", cpu_attention=True)
    if attention == "gaze":
        static.model.set_attn_implementation({"text_config": "sdpa"})
        assert not static.records_gaze()
        cpu_attention.use_for_text_decoder(static.model, cpu_attention.GAZE_NAME)
    assert static.records_gaze() and plain.records_gaze()
    batches = [
        _joined(clips, ((0, 1, 2), (3, 4), (1,))),
        _joined(clips, ((4, 0), (2,), (3, 1, 0))),  # the same cache shape: re-aimed
    ]
    try:
        for rows in batches:
            a = static.decode_batch(rows, heard=True)
            b = plain.decode_batch(rows, heard=True)
            assert [d.ids for d in a] == [d.ids for d in b]
            for x, y, audio in zip(a, b, rows, strict=True):
                assert len(x.heard) == len(x.ids) > 2
                assert x.heard == pytest.approx(y.heard, abs=1e-6)
                assert max(x.heard) <= len(audio) / 16000
                assert x.gaze.shape == y.gaze.shape
                np.testing.assert_allclose(x.gaze, y.gaze, atol=2e-5)
        decoder = static._decoders.get(static.model)
        assert static_on_cpu == [3, 3]
        assert len(decoder._slots) == 1
        # without asking, nothing is recorded, and the cache of that shape has no recorder
        assert all(d.heard == () and d.gaze is None for d in static.decode_batch(batches[0]))
        assert [s.gaze is None for s in decoder._slots.values()] == [False, True]
        if attention == "gaze":  # generate with the GPU's attention (MPS) records alike
            plain.model.set_attn_implementation({"text_config": "sdpa"})
            cpu_attention.use_for_text_decoder(plain.model, cpu_attention.GAZE_NAME)
            c = plain.decode_batch(batches[1], heard=True)
            assert [d.ids for d in c] == [d.ids for d in a]
            assert [d.heard for d in c] == [pytest.approx(d.heard, abs=1e-6) for d in a]
    finally:
        static.unload()
        plain.unload()
