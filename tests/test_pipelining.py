"""Pipelining: decoding and speech detection of later stretches run on a producer thread
while the engine transcribes the chunks of earlier ones. The output must be exactly that
of the sequential path (same cut, same text, same times), cancellation must stop and join
the producer, and the library must be able to resume a job stopped while its cut grew.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.core.asr.engine import Engine, EngineOptions
from app.core.asr.placement import Placement
from app.core.audio import media, stretches
from app.core.audio.chunking import ChunkOptions, ChunkPlanner, make_chunks
from app.core.audio.vad import SpeechRegion, VadOptions, clean_regions
from app.core.errors import Cancelled, MediaError
from app.core.events import (
    ChunksPlanned,
    ChunkTranscribed,
    Notice,
    Progress,
    SpeechFound,
    StageChanged,
)
from app.core.pipeline import transcribe_file
from app.core.store import Library
from app.core.store.jobs import resume, start_job
from tests import speech
from tests.listener_speech import HELD_OUT_SEED, LISTENER, Track, long_track, wer
from tests.pipeline_runs import late_inverted_wav, outcome, run

STRETCH_S = 20.0  # short stretches, so that a short file has many


@pytest.fixture(autouse=True)
def short_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stretches, "STRETCH_S", STRETCH_S)


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """Two minutes of held-out speech: 4 sentences every 30 s (16 chunks, 6 stretches)."""
    out = tmp_path_factory.mktemp("pipelining")
    return long_track(out, HELD_OUT_SEED + 53, minutes=2.0, sentences=4, period_s=30.0)


@pytest.fixture(scope="module")
def listener() -> Engine:
    return Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32", batch_size=2))


def first_index(events: list[object], kind: type) -> int:
    return next(i for i, e in enumerate(events) if isinstance(e, kind))


def test_the_planner_hands_out_exactly_make_chunks() -> None:
    """Random speech fed a stretch at a time gives make_chunks' cut of all of it, with and
    without packing, splitting over-long regions at their quietest point."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        t, regions = 0.0, []
        while t < 400:
            t += float(rng.choice([rng.uniform(0, 0.5), rng.uniform(0.5, 1.5), rng.uniform(1, 8)]))
            d = float(rng.choice([rng.uniform(0.2, 5), rng.uniform(5, 70)], p=[0.85, 0.15]))
            regions.append(SpeechRegion(t, t + d))
            t += d
        duration = t + 1.0
        size = float(rng.choice([7.0, 30.0, 100.0]))
        cut = []  # regions split at stretch boundaries, as detection per stretch gives them
        for r in regions:
            a = r.start
            while int(a // size) != int((r.end - 1e-9) // size):
                b = (int(a // size) + 1) * size
                cut.append(SpeechRegion(a, b))
                a = b
            cut.append(SpeechRegion(a, r.end))
        cut = clean_regions(cut, duration)
        rate = 200
        samples = rng.standard_normal(int(duration * rate) + 1).astype(np.float32)
        for options in (
            ChunkOptions(),
            ChunkOptions(pack=True),
            ChunkOptions(max_chunk_s=10, max_pause_s=0.3),
            ChunkOptions(pack=True, max_chunk_s=20),
        ):
            whole = make_chunks(cut, options, duration, samples=samples, sample_rate=rate)
            planner = ChunkPlanner(options, samples=samples, sample_rate=rate)
            got = []
            for k in range(int(np.ceil(duration / size))):
                lo, hi = k * size, min(duration, (k + 1) * size)
                got += planner.add([r for r in cut if lo <= r.start < hi], hi)
            got += planner.finish()
            assert got == whole, (trial, options)


@pytest.mark.slow
def test_pipelined_equals_sequential_with_the_listener(track: Track, listener: Engine) -> None:
    piped = run(track.path, listener)
    plain = run(track.path, listener, pipeline=False)
    assert outcome(piped) == outcome(plain)
    # the words are right (the cut and the batches are the real ones)
    texts = {e.index: e.text for e in piped if isinstance(e, ChunkTranscribed)}
    said = " ".join(texts[i] for i in sorted(texts))
    assert wer([" ".join(track.sentences)], [said]) <= 0.10
    # the overlap is real: pipelined, the first text comes before detection is over
    assert first_index(piped, ChunkTranscribed) < first_index(piped, SpeechFound)
    assert first_index(plain, SpeechFound) < first_index(plain, ChunkTranscribed)
    planned = [e for e in piped if isinstance(e, ChunksPlanned)]
    assert len(planned) > 2  # the cut grew stretch by stretch
    progress = [e for e in piped if isinstance(e, Progress)]
    assert [p.fraction for p in progress] == sorted(p.fraction for p in progress)
    assert progress[-1].fraction == pytest.approx(1.0)
    assert progress[-1].chunks_done == progress[-1].chunks_total == len(texts)


def test_streamed_samples_can_be_read_while_decoding_and_after_spilling(
    track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read back from another thread's view while the decoder appends (in RAM, then from
    the temporary file it spills to), then from the finished memory map."""
    monkeypatch.setattr(media, "_SPILL_SAMPLES", 15 * speech.SAMPLE_RATE)
    reads: list[tuple[int, np.ndarray]] = []
    stream: media.StreamedSamples

    def grew(size: int) -> None:
        a = max(0, size - 40_000)
        reads.append((a, stream.read(a, size)))

    stream = media.StreamedSamples(on_grow=grew)
    audio = media.decode_audio(track.path, into=stream)
    assert isinstance(audio.samples, np.memmap)  # it spilled
    assert len(stream) == len(audio.samples) and len(reads) > 10
    for a, got in reads:
        assert np.array_equal(got, audio.samples[a : a + len(got)])
    assert np.array_equal(stream[1000:5000], audio.samples[1000:5000])


def test_pipelined_equals_sequential_packed_with_the_tiny_model(
    track: Track, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media, "_SPILL_SAMPLES", 15 * speech.SAMPLE_RATE)  # read from the file
    engine = tiny_engine_at(tiny_model_dir)
    packed = ChunkOptions(pack=True, max_chunk_s=12.0)
    pipelined = outcome(run(track.path, engine, chunks=packed))
    # the random model's attention placed nothing, and the engine learned it: the next
    # file is cut at pauses (app.core.asr.placement); forget that, to pack the same way
    assert engine.placement.verdict is False
    engine.placement = Placement()
    assert pipelined == outcome(run(track.path, engine, chunks=packed, pipeline=False))


def tiny_engine_at(folder: Path, batch_size: int = 0) -> Engine:
    return Engine(
        EngineOptions(model=str(folder), device="cpu", dtype="fp32", batch_size=batch_size)
    )


def cancelled_at_first_chunk(events: Iterator[object], cancel: threading.Event) -> list[object]:
    """The events up to the Cancelled that setting ``cancel`` at the first chunk gives."""
    seen: list[object] = []
    with pytest.raises(Cancelled):
        for event in events:
            seen.append(event)
            if isinstance(event, ChunkTranscribed):
                cancel.set()
    return seen


def producers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "murmur-decode"]


def items_of(producer: stretches.SpeechStretches) -> list[object]:
    out = []
    while not producer.items.empty():
        out.append(producer.items.get())
    return out


def test_an_error_in_detection_is_handed_over(
    track: Track, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> list[SpeechRegion]:
        raise RuntimeError("silero broke")

    monkeypatch.setattr(stretches, "detect_speech", broken)
    producer = stretches.SpeechStretches(track.path, VadOptions(), stretch_s=10.0)
    producer.run()
    items = items_of(producer)
    assert isinstance(items[-1], RuntimeError) and str(items[-1]) == "silero broke"
    assert not any(isinstance(i, stretches.Decoded) for i in items)
    assert producers() == []


def test_a_decoding_error_is_handed_over(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + bytes(range(256)) * 40)
    producer = stretches.SpeechStretches(bad, VadOptions())
    producer.run()
    items = items_of(producer)
    assert isinstance(items[-1], MediaError), items
    assert producers() == []


def test_cancel_stops_and_joins_the_producer(track: Track, tiny_model_dir: Path) -> None:
    engine = tiny_engine_at(tiny_model_dir, batch_size=4)  # the first group: 4 of its chunks
    cancel = threading.Event()
    seen = cancelled_at_first_chunk(transcribe_file(track.path, engine, cancel=cancel), cancel)
    assert not any(isinstance(e, SpeechFound) for e in seen), "cancelled before the end"
    assert producers() == []
    # a consumer that stops listening (closes the generator) stops the producer as well
    events = transcribe_file(track.path, engine)
    for event in events:
        if isinstance(event, StageChanged) and "Finding" in event.message:
            break
    events.close()  # type: ignore[attr-defined]
    assert producers() == []


def test_a_truncated_file_is_transcribed_as_far_as_it_decodes(
    track: Track, tiny_model_dir: Path, tmp_path: Path
) -> None:
    mp3 = tmp_path / "whole.mp3"
    ffmpeg = ["ffmpeg", "-v", "error", "-i", str(track.path), "-b:a", "64k", str(mp3)]
    subprocess.run(ffmpeg, check=True)
    data = mp3.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) * 55 // 100])
    engine = tiny_engine_at(tiny_model_dir)
    events = run(cut, engine)
    assert any(isinstance(e, Notice) and "cut short" in e.message for e in events)
    transcript = events[-1].transcript  # type: ignore[attr-defined]
    assert transcript.segments
    assert 0.5 * track.duration < transcript.meta.duration < 0.6 * track.duration
    assert outcome(events) == outcome(run(cut, engine, pipeline=False))


def test_a_restart_of_decoding_voids_the_cut_and_gives_the_sequential_result(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The first 40 s (past the phase check) are in phase; the long rest is phase-inverted, so the
    whole file decides otherwise and decoding starts again: chunks already planned (and
    transcribed) are void, and the end result is the sequential one."""
    path = late_inverted_wav(tmp_path / "late-inverted.wav")
    engine = tiny_engine_at(tiny_model_dir)
    piped = run(path, engine)
    planned = [e for e in piped if isinstance(e, ChunksPlanned)]
    assert any(e.restart for e in planned), "the cut was voided"
    after = planned[[e.restart for e in planned].index(True) :]
    plain = run(path, engine, pipeline=False)
    assert [c for e in after for c in e.chunks] == outcome(plain)[0]
    assert piped[-1].transcript.segments == plain[-1].transcript.segments  # type: ignore[attr-defined]


def test_a_job_stopped_while_its_cut_grew_resumes_to_the_whole_transcript(
    track: Track, tiny_model_dir: Path, tmp_path: Path
) -> None:
    engine = tiny_engine_at(tiny_model_dir)
    whole = run(track.path, engine)
    library = Library.open(tmp_path / "library.sqlite3")
    try:
        recorder = start_job(library, track.path)
        cancel = threading.Event()
        events = recorder.record(transcribe_file(track.path, engine, cancel=cancel))
        cancelled_at_first_chunk(events, cancel)
        stored = library.chunks(recorder.id)
        assert 0 < len(stored) < len(track.sentences), "stopped with part of the cut stored"
        assert any(c.done for c in stored)
        events = list(resume(library, recorder.id, engine))
        assert [(c.start, c.end) for c in library.chunks(recorder.id)] == [
            (c.start, c.end) for c in outcome(whole)[0]
        ]
        done = events[-1].transcript  # type: ignore[attr-defined]
        assert [(s.start, s.end, s.text) for s in done.segments] == [
            (s.start, s.end, s.text)
            for s in whole[-1].transcript.segments  # type: ignore[attr-defined]
        ]
    finally:
        library.close()


def test_group_sizes_keep_the_cpu_s_and_bound_a_gpu_s() -> None:
    from app.core.pipeline import group_size

    # a CPU's batch of 16: a batch first, then 4 batches, as before
    assert (group_size(16, first=True), group_size(16, first=False)) == (16, 64)
    # a GPU's batch of 64: the first text after 32 chunks, not 64; then 256 (4 batches)
    assert (group_size(64, first=True), group_size(64, first=False)) == (32, 256)
    # larger batches: never more than 256 chunks waiting for the cut, but a whole batch
    assert (group_size(256, first=True), group_size(256, first=False)) == (32, 256)
    assert group_size(512, first=False) == 512
    assert (group_size(1, first=True), group_size(1, first=False)) == (1, 4)
    assert group_size(0, first=True) == 1  # no batch size yet: one chunk


@pytest.fixture
def group_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each group the pipeline hands to the engine, with the bounds lowered
    to 3 chunks (the first group) and 5 (later groups)."""
    import app.core.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_FIRST_GROUP", 3)
    monkeypatch.setattr(pipeline, "_GROUP_CHUNKS", 5)
    sizes: list[int] = []
    transcribe = pipeline._Transcription._transcribe

    def recorded(self: object, group: list[object]) -> Iterator[object]:
        sizes.append(len(group))
        return transcribe(self, group)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline._Transcription, "_transcribe", recorded)
    return sizes


def in_fives(first: int, chunks: int) -> list[int]:
    rest = chunks - first
    return [first] + [5] * (rest // 5) + ([rest % 5] if rest % 5 else [])


def test_the_groups_handed_to_the_engine_follow_group_size(
    track: Track, tiny_model_dir: Path, group_sizes: list[int]
) -> None:
    """Batches of 4, with the bounds lowered to 3 and 5 chunks: a group of 3, then groups
    of 5 and the rest; the sequential path hands out the same groups."""
    engine = tiny_engine_at(tiny_model_dir, batch_size=4)
    piped = run(track.path, engine)
    chunks = len(outcome(piped)[0])
    assert chunks > 8
    assert group_sizes == in_fives(3, chunks)
    group_sizes.clear()
    plain = run(track.path, engine, pipeline=False)
    assert group_sizes == in_fives(3, chunks)
    assert outcome(piped) == outcome(plain)


def test_a_long_file_on_a_cpu_starts_with_one_chunk(
    track: Track, tiny_model_dir: Path, group_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From ``LONG_MEDIA_S`` of declared length on (lowered here to the track's 2 minutes),
    the first group on a CPU is one chunk, so that the first text does not wait for a
    whole batch; the groups after it are as before, pipelined and sequential alike, and
    the transcript is the same as with the usual first group."""
    import app.core.pipeline as pipeline

    engine = tiny_engine_at(tiny_model_dir, batch_size=4)
    usual = run(track.path, engine)
    chunks = len(outcome(usual)[0])
    assert group_sizes == in_fives(3, chunks)  # the track is shorter than LONG_MEDIA_S
    monkeypatch.setattr(pipeline, "LONG_MEDIA_S", 100.0)
    group_sizes.clear()
    piped = run(track.path, engine)
    assert group_sizes == in_fives(1, chunks)
    first = next(e for e in piped if isinstance(e, ChunkTranscribed))
    assert first.index == 0
    group_sizes.clear()
    plain = run(track.path, engine, pipeline=False)
    assert group_sizes == in_fives(1, chunks)
    assert outcome(piped) == outcome(plain) == outcome(usual)
