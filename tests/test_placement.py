"""Packing per device (issue #14): auto packs on the CPU, and a model whose attention does
not place the words of packed windows is learned, remembered, and then cut at pauses."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.asr.engine import Engine, EngineOptions
from app.core.asr.placement import MIN_WINDOWS, Placement
from app.core.audio.chunking import ChunkOptions
from app.core.events import ChunksPlanned, ChunkTranscribed, DeviceInfo, Finished, Notice
from app.core.pipeline import (
    PACKING_OFF_NOTICE,
    UNPLACED_NOTICE,
    PipelineOptions,
    packs,
    transcribe_file,
)
from app.core.settings import data_dir
from tests.listener_speech import HELD_OUT_SEED, LISTENER, Track, spaced_track


def test_the_verdict_needs_enough_windows_and_then_a_majority() -> None:
    placement = Placement()
    for _ in range(MIN_WINDOWS - 1):
        placement.record(False)
    assert placement.verdict is None  # too few to say
    placement.record(True)
    assert placement.verdict is False  # 3 of 4 fell back
    even = Placement(placed=2, unplaced=2)
    assert even.verdict is True  # half placed: packing still pays
    assert Placement(placed=MIN_WINDOWS).verdict is True


def test_counts_are_remembered_per_model_folder(tmp_path: Path) -> None:
    a = Placement.remembered(tmp_path / "model-a")
    for _ in range(MIN_WINDOWS):
        a.record(False)
    a.save()
    again = Placement.remembered(tmp_path / "model-a")
    assert (again.placed, again.unplaced, again.verdict) == (0, MIN_WINDOWS, False)
    assert Placement.remembered(tmp_path / "model-b").verdict is None
    assert Placement.remembered(None).key is None
    Placement().save()  # nothing to key it by: not written
    saved = json.loads((data_dir() / "placement.json").read_text(encoding="utf-8"))
    assert list(saved) == [str((tmp_path / "model-a").resolve())]
    (data_dir() / "placement.json").write_text("{not json", encoding="utf-8")
    assert Placement.remembered(tmp_path / "model-a").verdict is None  # unreadable: afresh
    (data_dir() / "placement.json").write_text('{"x": {"placed": -1}}', encoding="utf-8")
    assert Placement.remembered(Path("x")).placed == 0


def test_auto_packs_where_the_attention_is_recorded(tiny_model_dir: Path) -> None:
    def loaded(**options: object) -> Engine:
        engine = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", **options))  # type: ignore[arg-type]
        engine.load()
        return engine

    engine = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu"))
    assert packs(None, engine) is False  # no model yet: cut at pauses
    engine.load()
    assert engine.records_gaze()  # the CPU attention
    assert (packs(None, engine), packs(True, engine), packs(False, engine)) == (True, True, False)
    sdpa = loaded(cpu_attention=False)
    assert packs(None, sdpa) is False  # no attention recorded: it could only guess
    assert packs(True, sdpa) is True
    # as on a GPU: SDPA with the watched layer's steps apart
    gpu = loaded(cpu_attention=False)
    gpu._tune(gpu.model, DeviceInfo(device="cuda", dtype="bf16", name="GPU"))
    assert gpu.records_gaze() and packs(None, gpu) is True
    compiled = loaded(cpu_attention=False, compile=True)  # compiled steps record nothing
    compiled._tune(compiled.model, DeviceInfo(device="cuda", dtype="bf16", name="GPU"))
    assert not compiled.records_gaze() and packs(None, compiled) is False
    for _ in range(MIN_WINDOWS):
        engine.placement.record(False)
    assert (packs(None, engine), packs(True, engine)) == (False, False)
    assert engine.with_options(batch_size=2).placement is engine.placement
    for e in (engine, sdpa, gpu, compiled):
        e.unload()


def test_a_gpu_whose_attention_can_t_be_watched_loads_and_cuts_at_pauses(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.asr import cpu_attention

    def refused(model: object, name: str = cpu_attention.NAME) -> bool:
        raise AttributeError("no AttentionInterface in this transformers")

    engine = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", cpu_attention=False))
    engine.load()
    monkeypatch.setattr(cpu_attention, "use_for_text_decoder", refused)
    engine._tune(engine.model, DeviceInfo(device="cuda", dtype="bf16", name="GPU"))
    assert not engine.records_gaze() and packs(None, engine) is False
    engine.unload()


def test_on_a_gpu_packed_windows_are_placed_as_on_the_cpu(
    sentences: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU decodes on the static path with SDPA and the watched layer's steps apart
    (checked here eagerly on the CPU, as tests/test_static_decode.py does): by default it
    packs too, the listener places the words of every window, and the cues are the CPU's."""
    from app.core.asr import cpu_attention, static_decode

    cpu = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32"))
    gpu = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32", prefill_rows=False))
    cpu.load()
    gpu.load()
    gpu.model.set_attn_implementation({"text_config": "sdpa"})
    gpu._tune(gpu.model, DeviceInfo(device="cuda", dtype="fp32", name="GPU"))
    assert gpu.model.config.text_config._attn_implementation == cpu_attention.GAZE_NAME
    static = []
    generate = static_decode.StaticDecoder.generate

    def counted(self: static_decode.StaticDecoder, inputs: object, *args: object, **kw: object):
        static.append(kw.get("gaze") is not None)
        return generate(self, inputs, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(static_decode.StaticDecoder, "generate", counted)
    monkeypatch.setattr(Engine, "_on_cuda", lambda self: self.model is gpu.model)
    try:
        gpu_run = _cues(sentences, gpu)
        assert static and all(static)  # every batch on the static path, recorded
        batches = len(static)
        cpu_run = _cues(sentences, cpu)
        assert len(static) == batches  # the CPU's run took generate
    finally:
        cpu.unload()
        gpu.unload()
    planned, cues = gpu_run
    assert sum(c.packed for c in planned) >= 3 and planned == cpu_run[0]
    assert gpu.placement.placed == sum(c.packed for c in planned) and not gpu.placement.unplaced
    assert cues == cpu_run[1]


def _cues(track: Track, engine: Engine) -> tuple[list, list[tuple[float, float, str]]]:
    """Chunks planned with packing on "auto" (the settings' default), and every cue
    (start, end, text)."""
    options = PipelineOptions(chunks=replace(ChunkOptions(max_chunk_s=8.0), pack=None))
    events = list(transcribe_file(track.path, engine, options))
    assert isinstance(events[-1], Finished)
    planned = [c for e in events if isinstance(e, ChunksPlanned) for c in e.chunks]
    cues = [
        (round(s.start, 6), round(s.end, 6), s.text)
        for e in events
        if isinstance(e, ChunkTranscribed)
        for s in e.segments
    ]
    return planned, sorted(cues)


@pytest.fixture(scope="module")
def sentences(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """Eighteen held-out sentences, 1.5-3 s apart."""
    out = tmp_path_factory.mktemp("placement")
    return spaced_track(out, HELD_OUT_SEED + 71, 18, (1.5, 3.0), (2, 5), max_chars=30)


def _run(track: Track, engine: Engine, pack: bool | None) -> tuple[list, str, list[str]]:
    """Chunks planned, the text without spaces (the random model writes CJK and Latin
    characters mixed, joined with or without a space), and the notices."""
    options = PipelineOptions(chunks=replace(ChunkOptions(max_chunk_s=8.0), pack=pack))
    events = list(transcribe_file(track.path, engine, options))
    assert isinstance(events[-1], Finished)
    planned = [c for e in events if isinstance(e, ChunksPlanned) for c in e.chunks]
    texts = {e.index: e.text for e in events if isinstance(e, ChunkTranscribed)}
    words = "".join(texts[i] for i in sorted(texts)).replace(" ", "")
    return planned, words, [e.message for e in events if isinstance(e, Notice)]


def test_a_model_that_does_not_place_its_words_is_learned_and_cut_at_pauses(
    sentences: Track, tiny_model_dir: Path
) -> None:
    def engine() -> Engine:
        return Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", dtype="fp32"))

    first = engine()
    planned, packed_words, notices = _run(sentences, first, pack=None)
    windows = [c for c in planned if c.packed]
    # auto packed on the CPU. The verdict unknown, the first group is MIN_WINDOWS windows
    # (not a batch of 16): they teach it, and the rest are not decoded packed in vain
    assert first.batch_size > len(windows) > MIN_WINDOWS and planned[0].packed
    assert (first.placement.placed, first.placement.unplaced) == (0, MIN_WINDOWS)
    assert first.placement.verdict is False  # the rest were decoded piece by piece directly
    assert notices.count(UNPLACED_NOTICE) == 1 and notices.count(PACKING_OFF_NOTICE) == 1

    # the next file on the same engine is cut at pauses: the pieces the windows held
    cut, cut_words, notices = _run(sentences, first, pack=None)
    assert not any(c.packed for c in cut) and notices == []
    assert [(c.start, c.end) for c in cut] == [s for w in planned for s in w.spans]
    assert cut_words == packed_words  # the fallback and the direct pieces: the same words

    # remembered on disk for the model's folder: a new engine knows it at once
    second = engine()
    cut_again, words, notices = _run(sentences, second, pack=True)
    assert second.placement.verdict is False
    assert [(c.start, c.end) for c in cut_again] == [(c.start, c.end) for c in cut]
    assert notices == [PACKING_OFF_NOTICE] and words == cut_words
