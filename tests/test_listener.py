"""End-to-end tests with the listener: a small GlmAsr trained on espeak-ng speech.

The model in ``tests/fixtures/listener`` (see its README.md) really transcribes sentences
over a closed 34-word vocabulary. These tests feed it held-out sentences (a seed that the
training never used) through the full app pipeline (decode -> VAD -> chunks -> batches ->
cues) and hold the word error rate to 10 %, so that resampling, channel mixing, chunk
order, batch padding and cue timing bugs show up as transcription errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core.asr.engine import Engine, EngineOptions
from app.core.events import ChunkTranscribed, Finished, SpeechFound
from app.core.pipeline import transcribe_file
from app.core.transcript import Segment, Transcript
from tests import speech
from tests.fixtures.listener.architecture import WORDS
from tests.listener_speech import (
    HELD_OUT_SEED,
    LISTENER,
    VOICES,
    WER_BAR,
    Track,
    make_track,
    spaced_track,
    wer,
)

pytestmark = pytest.mark.slow


def test_wer_scoring() -> None:
    assert wer(["one two three"], ["one two three"]) == 0.0
    assert wer(["one two three"], ["one three"]) == pytest.approx(1 / 3)
    assert wer(["one two", "red"], ["One, two.", "blue green"]) == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def listener() -> Iterator[Engine]:
    assert (LISTENER / "model.safetensors").is_file(), "the listener weights are missing"
    engine = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32"))
    yield engine
    engine.unload()


@pytest.fixture(scope="module")
def mixed_track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """12 sentences of 1-8 words; short pauses (merged into chunks) and long ones."""
    pauses = [0.35, 1.6, 0.6, 0.45, 1.5, 0.8, 1.8, 0.3, 0.5, 1.4, 0.7]
    return make_track(tmp_path_factory.mktemp("listener-mixed"), HELD_OUT_SEED, pauses, 1, 8)


@pytest.fixture(scope="module")
def long_track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """About 5 minutes: 30 short sentences (one cue each) apart by 1.2 s or more."""
    out = tmp_path_factory.mktemp("listener-long")
    return spaced_track(out, HELD_OUT_SEED + 7, 30, (1.2, 17.5), (2, 5), max_chars=40)


@pytest.fixture(scope="module")
def packed_track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """Two runs of sentences, 20-25 s each, inside a run only short pauses (0.2-0.9 s)."""
    rng = np.random.default_rng(HELD_OUT_SEED + 11)
    pauses = [float(p) for p in rng.uniform(0.2, 0.9, size=17)]
    pauses[8] = 2.5  # between the two runs
    out = tmp_path_factory.mktemp("listener-packed")
    return make_track(out, HELD_OUT_SEED + 12, pauses, 4, 8)


def run_events(path: Path, engine: Engine) -> list[object]:
    events = list(transcribe_file(path, engine))
    assert isinstance(events[-1], Finished)
    return events


def run(path: Path, engine: Engine) -> tuple[Transcript, SpeechFound]:
    events = run_events(path, engine)
    finished = events[-1]
    assert isinstance(finished, Finished)
    found = next(e for e in events if isinstance(e, SpeechFound))
    return finished.transcript, found


def transcript_text(transcript: Transcript) -> str:
    return " ".join(s.text for s in transcript.segments)


# ---------------------------------------------------------------------------- tests


def test_listener_transcribes_directly(tmp_path: Path) -> None:
    """The fixture alone (processor + generate), as the app's loader would load it."""
    import torch
    from transformers import AutoProcessor, GlmAsrForConditionalGeneration

    processor = AutoProcessor.from_pretrained(LISTENER)
    model = GlmAsrForConditionalGeneration.from_pretrained(LISTENER).eval()
    assert processor.tokenizer.pad_token != processor.audio_token
    rng = np.random.default_rng(HELD_OUT_SEED + 3)
    sentences = [
        " ".join(str(w) for w in rng.choice(WORDS, size=k)) for k in (*range(1, 9), *range(1, 9))
    ]
    audios = [
        speech.synthesize(s, tmp_path, voice=VOICES[i % len(VOICES)], speed=140 + 5 * i)
        for i, s in enumerate(sentences)
    ]
    inputs = processor.apply_transcription_request(audios)
    with torch.inference_mode():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=24)
    texts = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert all(t == t.strip().lower() and "  " not in t for t in texts)
    assert wer(sentences, texts) <= WER_BAR, list(zip(sentences, texts, strict=True))


@pytest.mark.parametrize("variant", ["mp4_aac_44k_stereo", "flac_30db_quieter", "wav_8k_phone"])
def test_wer_through_the_pipeline(
    variant: str, mixed_track: Track, listener: Engine, tmp_path: Path
) -> None:
    src = mixed_track.path
    if variant == "mp4_aac_44k_stereo":
        path = speech.convert(src, tmp_path / "speech.mp4", "mp4")
    elif variant == "flac_30db_quieter":
        path = speech.convert(src, tmp_path / "speech.flac", "flac", gain_db=-30.0)
        quiet, _ = sf.read(str(path), dtype="float32")
        assert speech.peak_dbfs(quiet) < -32.0
    else:
        phone = ["-af", "highpass=f=300,lowpass=f=3400"]
        path = speech.convert(src, tmp_path / "speech8k.wav", "wav8k", extra_args=phone)
        assert sf.info(str(path)).samplerate == 8000
    transcript, found = run(path, listener)
    # the short pauses are bridged: fewer chunks than sentences, more than one chunk
    assert 1 < found.chunks < len(mixed_track.sentences)
    hyp = transcript_text(transcript)
    assert wer([mixed_track.text], [hyp]) <= WER_BAR, (mixed_track.text, hyp)


def test_five_minutes_every_sentence_in_order(long_track: Track, listener: Engine) -> None:
    assert len(long_track.samples) / 16000 == pytest.approx(300.0, abs=40.0)
    transcript, found = run(long_track.path, listener)
    assert found.chunks == len(long_track.sentences)
    segments: list[Segment] = list(transcript.segments)
    assert len(segments) == len(long_track.sentences), [s.text for s in segments]
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    late = [
        (i, round(s.start - onset, 3))
        for i, (s, onset) in enumerate(zip(segments, long_track.onsets, strict=True))
        if abs(s.start - onset) > 0.3
    ]
    assert not late, late
    hyps = [s.text for s in segments]
    assert wer(long_track.sentences, hyps) <= WER_BAR, list(
        zip(long_track.sentences, hyps, strict=True)
    )


@pytest.fixture(scope="module")
def packed_events(packed_track: Track, listener: Engine) -> list[object]:
    return run_events(packed_track.path, listener)


def test_dense_speech_is_cut_to_the_window(packed_events: list[object], listener: Engine) -> None:
    """Two 20-25 s runs of sentences with only short pauses (fluent speech).

    The app merges speech across short pauses, but never past the model's window (10 s for
    the listener, 30 s for GLM-ASR): each run becomes several chunks, cut at its pauses.
    """
    window = listener.window_seconds
    assert window == pytest.approx(10.0)
    chunks = sorted(
        (e for e in packed_events if isinstance(e, ChunkTranscribed)), key=lambda e: e.index
    )
    spans = [round(c.end - c.start, 2) for c in chunks]
    assert len(chunks) >= 4 and all(s <= window for s in spans), spans
    assert sum(1 for s in spans if s > window / 2) >= 2, spans  # merged, not one per sentence


def test_dense_speech_word_error_rate(packed_track: Track, packed_events: list[object]) -> None:
    """Fluent speech: chunks of up to 28 words, each filling most of a window."""
    finished = packed_events[-1]
    assert isinstance(finished, Finished)
    hyp = transcript_text(finished.transcript)
    assert wer([packed_track.text], [hyp]) <= WER_BAR, (packed_track.text, hyp)


def test_wrong_sample_rate_breaks_it(mixed_track: Track, listener: Engine, tmp_path: Path) -> None:
    """Proof that the bar can fail: the same samples declared at twice their rate."""
    path = tmp_path / "too_fast.wav"
    sf.write(str(path), mixed_track.samples, 2 * speech.SAMPLE_RATE, subtype="PCM_16")
    transcript, _ = run(path, listener)
    assert wer([mixed_track.text], [transcript_text(transcript)]) > 4 * WER_BAR


def test_shuffled_chunks_break_it(
    mixed_track: Track, listener: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proof that the bar can fail: chunk results handed back to the wrong chunks."""
    original = listener.transcribe_decoded

    def shuffled(audios: Sequence[np.ndarray], *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        n = len(audios)
        for index, decoded, retried in original(audios, *args, **kwargs):  # type: ignore[arg-type]
            yield n - 1 - index, decoded, retried

    monkeypatch.setattr(listener, "transcribe_decoded", shuffled)
    transcript, found = run(mixed_track.path, listener)
    assert found.chunks > 2
    assert wer([mixed_track.text], [transcript_text(transcript)]) > 4 * WER_BAR
