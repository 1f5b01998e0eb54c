"""The whole path for one file: decode -> VAD -> chunks -> tiny model -> cues."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from app.core.asr.engine import Engine, EngineOptions
from app.core.audio.media import decode_audio
from app.core.errors import Cancelled, MediaError
from app.core.events import (
    ChunkTranscribed,
    Finished,
    MediaOpened,
    ModelReady,
    Notice,
    Progress,
    SpeechFound,
)
from app.core.pipeline import PipelineOptions, transcribe_file
from tests import speech

SENTENCES = speech.SENTENCES[:3]
PAUSES = (1.5, 1.3)


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> speech.SpeechTrack:
    return speech.make_track(SENTENCES, PAUSES, tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> Engine:
    return Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", dtype="fp32"))


def run_all(path: Path, engine: Engine, **kw: object) -> list[object]:
    return list(transcribe_file(path, engine, **kw))  # type: ignore[arg-type]


def test_events_and_transcript(track: speech.SpeechTrack, engine: Engine) -> None:
    events = run_all(track.path, engine)
    assert isinstance(events[0], MediaOpened)
    assert events[0].duration == pytest.approx(track.duration, abs=0.05)
    assert isinstance(events[-1], Finished)
    found = next(e for e in events if isinstance(e, SpeechFound))
    # pauses of 1.3 s and more are never bridged: one chunk per sentence
    assert found.chunks == len(SENTENCES)
    chunks = [e for e in events if isinstance(e, ChunkTranscribed)]
    assert sorted(c.index for c in chunks) == list(range(found.chunks))
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)

    transcript = events[-1].transcript
    segs = transcript.segments
    assert segs, "the tiny model always says something"
    assert transcript.meta.duration == pytest.approx(track.duration, abs=0.05)
    assert transcript.meta.device.startswith("CPU")
    for a, b in itertools.pairwise(segs):
        assert a.end <= b.start + 1e-9, "cues overlap"
    for s in segs:
        assert 0.0 <= s.start < s.end <= track.duration + 1e-6
    # every sentence starts a chunk, so some cue starts at each known onset
    starts = [s.start for s in segs]
    for onset in track.onsets:
        assert min(abs(onset - t) for t in starts) <= 0.3, (onset, starts)
    # the detected speech is kept with the transcript: one region per sentence at least
    speech = transcript.speech
    assert len(speech) >= len(SENTENCES) and list(speech) == sorted(speech)
    assert sum(b - a for a, b in speech) == pytest.approx(transcript.meta.speech_seconds)
    for onset in track.onsets:
        assert any(a - 0.3 <= onset <= b for a, b in speech), (onset, speech)


def test_model_loaded_once(track: speech.SpeechTrack, tiny_model_dir: Path) -> None:
    engine = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", dtype="fp32"))
    first = run_all(track.path, engine)
    second = run_all(track.path, engine)
    assert sum(isinstance(e, ModelReady) for e in first) == 1
    assert not any(isinstance(e, ModelReady) for e in second)
    # deterministic: same input, same transcript
    assert first[-1].transcript.segments == second[-1].transcript.segments


def test_silence_gives_empty_transcript_without_loading(tmp_path: Path) -> None:
    import numpy as np

    path = speech.write_wav(tmp_path / "silence.wav", np.zeros(16000 * 5, np.float32))
    engine = Engine(EngineOptions(model=str(tmp_path / "no-model-needed")))
    events = run_all(path, engine)
    assert any(isinstance(e, Notice) and "no speech" in e.message for e in events)
    assert events[-1].transcript.segments == () or list(events[-1].transcript.segments) == []
    assert not engine.loaded


def test_the_waveform_is_cached_for_the_editor_when_asked(tmp_path: Path) -> None:
    import numpy as np

    from app.core.audio.peaks import cache_path, compute_peaks, load_peaks

    rng = np.random.default_rng(3)
    samples = (rng.uniform(-0.01, 0.01, 16000 * 3)).astype(np.float32)  # quiet: no speech
    path = speech.write_wav(tmp_path / "hiss.wav", samples)
    engine = Engine(EngineOptions(model=str(tmp_path / "no-model-needed")))
    list(transcribe_file(path, engine, PipelineOptions()))
    assert not cache_path(path).exists()  # the CLI keeps nothing by default
    list(transcribe_file(path, engine, PipelineOptions(waveform=True)))
    cached = load_peaks(cache_path(path))
    assert cached is not None and cached.n_samples == len(samples)
    expected = compute_peaks(decode_audio(path).samples)
    for got, want in zip(cached.levels, expected.levels, strict=True):
        np.testing.assert_array_equal(got, want)


def test_bad_media_raises_one_line(tmp_path: Path, engine: Engine) -> None:
    bad = speech.make_random_bytes(tmp_path / "noise.mp3")
    with pytest.raises(MediaError) as info:
        run_all(bad, engine)
    assert "noise.mp3" in str(info.value) and "\n" not in str(info.value)


def test_cancel_stops(track: speech.SpeechTrack, engine: Engine) -> None:
    cancel = threading.Event()
    seen: list[object] = []
    with pytest.raises(Cancelled):
        for event in transcribe_file(track.path, engine, cancel=cancel):
            seen.append(event)
            if isinstance(event, ChunkTranscribed):
                cancel.set()
    assert sum(isinstance(e, ChunkTranscribed) for e in seen) == 1
    assert not any(isinstance(e, Finished) for e in seen)


def test_max_pause_option_merges_chunks(track: speech.SpeechTrack, engine: Engine) -> None:
    from app.core.audio.chunking import ChunkOptions

    options = PipelineOptions(chunks=ChunkOptions(max_pause_s=2.0))
    events = run_all(track.path, engine, options=options)
    found = next(e for e in events if isinstance(e, SpeechFound))
    assert found.chunks == 1  # all pauses are shorter than 2 s and it fits in 30 s


def test_chunks_never_outgrow_the_models_window(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Speech with only short pauses is merged up to the processor's window, and no further."""
    sentences = speech.SENTENCES[:6]
    dense = speech.make_track(sentences, (0.4,) * (len(sentences) - 1), tmp_path)
    assert dense.duration > 12.0
    engine = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", dtype="fp32"))
    try:
        assert engine.window_seconds is None  # not loaded yet
        events = run_all(dense.path, engine)
        assert engine.window_seconds == pytest.approx(30.0)
        spans = [(e.start, e.end) for e in events if isinstance(e, ChunkTranscribed)]
        assert len(spans) == 1 and spans[0][1] - spans[0][0] > 12.0  # all merged: one window

        window = 8.0  # a processor with 8 s windows (frames divisible by 8, as GlmAsr needs)
        features = engine.processor.feature_extractor
        monkeypatch.setattr(features, "chunk_length", int(window))
        monkeypatch.setattr(features, "n_samples", int(window * features.sampling_rate))
        monkeypatch.setattr(features, "nb_max_frames", int(window * 100))
        assert engine.window_seconds == pytest.approx(window)
        events = run_all(dense.path, engine)
        found = next(e for e in events if isinstance(e, SpeechFound))
        spans = sorted((e.start, e.end) for e in events if isinstance(e, ChunkTranscribed))
        assert found.chunks == len(spans) >= 2
        assert all(end - start <= window + 1e-6 for start, end in spans), spans
        for (_, end), (start, _) in itertools.pairwise(spans):  # cut in the pauses
            assert end <= start
    finally:
        engine.unload()


def test_a_given_chunk_cut_is_kept_and_skipped_chunks_are_not_transcribed(
    track: speech.SpeechTrack, engine: Engine
) -> None:
    first = run_all(track.path, engine)
    plan = next(e for e in first if isinstance(e, SpeechFound)).plan
    assert len(plan) == len(SENTENCES) and [c.index for c in plan] == [0, 1, 2]
    again = run_all(track.path, engine, chunks=plan, skip={0, 2})
    found = next(e for e in again if isinstance(e, SpeechFound))
    assert found.plan == plan and found.chunks == 3
    done = [e for e in again if isinstance(e, ChunkTranscribed)]
    assert [(c.index, c.start, c.end) for c in done] == [(1, plan[1].start, plan[1].end)]
    before = next(e for e in first if isinstance(e, ChunkTranscribed) and e.index == 1)
    assert done[0].segments == before.segments  # same cut, same cue bounds
    progress = [e for e in again if isinstance(e, Progress)]
    assert [(p.chunks_done, p.chunks_total) for p in progress] == [(3, 3)]
    assert again[-1].transcript.segments == before.segments
