"""Dictation with the listener: one utterance per spoken sentence, in order, the right words.

Speech is held-out espeak-ng sentences (tests/listener_speech.py) separated by pauses. The
main test feeds it at real pace, as 44.1 kHz stereo, through the fake PortAudio stream into
a Recorder, whose 16 kHz tap goes to :func:`app.core.dictation.dictate`; the others feed the
16 kHz samples straight to the segmenter or to ``dictate`` (no pace needed there).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core.asr.engine import Engine, EngineOptions
from app.core.audio.capture import Recorder, RecordingStopped, StopReason
from app.core.audio.utterances import Utterance, UtteranceOptions, UtteranceSegmenter
from app.core.dictation import (
    DictationFinished,
    UtteranceEnded,
    UtteranceStarted,
    UtteranceTranscribed,
    dictate,
)
from tests import speech
from tests.fake_stream import FileStreamFactory
from tests.listener_speech import HELD_OUT_SEED, LISTENER, WER_BAR, Track, make_track, wer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def listener() -> Iterator[Engine]:
    engine = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32"))
    engine.load()
    yield engine
    engine.unload()


@pytest.fixture(scope="module")
def sentences_track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """6 held-out sentences of 2-6 words with pauses of 0.9-2 s (about 15 s)."""
    pauses = [float(p) for p in np.random.default_rng(HELD_OUT_SEED + 31).uniform(0.9, 2.0, 5)]
    return make_track(tmp_path_factory.mktemp("dictation"), HELD_OUT_SEED + 32, pauses, 2, 6)


def blocks(samples: np.ndarray, size: int = 320) -> list[np.ndarray]:
    return [samples[i : i + size] for i in range(0, len(samples), size)]


def check_sentences(track: Track, results: list[UtteranceTranscribed]) -> None:
    texts = [r.text for r in results]
    assert len(results) == len(track.sentences), texts
    assert [r.index for r in results] == list(range(len(results)))
    for r, onset, end in zip(results, track.onsets, track.ends, strict=True):
        assert r.start < onset - 0.05, "the pre-roll keeps audio from before the speech"
        assert r.end >= end - 0.05 and r.end <= end + 0.6
    assert wer(track.sentences, texts) <= WER_BAR, list(zip(track.sentences, texts, strict=True))


def test_dictation_at_real_pace_through_the_recorder(
    sentences_track: Track, listener: Engine, tmp_path: Path
) -> None:
    """The stream stops 0.1 s after the last sentence: that utterance is still finished."""
    stereo = speech.convert(sentences_track.path, tmp_path / "44k.wav", "wav44k_stereo")
    samples, rate = sf.read(str(stereo), dtype="float32", always_2d=True)
    cut = round((sentences_track.ends[-1] + 0.1) * rate)
    factory = FileStreamFactory(samples[:cut], rate, then="hold")
    recorder = Recorder(
        path=tmp_path / "dictation.flac", samplerate=rate, channels=2, stream_factory=factory
    )
    tap = recorder.open_tap(events=True)
    recorder.start()
    assert factory.stream is not None

    def stop_when_played() -> None:  # like Ctrl+C in the middle of the pause
        factory.stream.source_done.wait(60)  # type: ignore[union-attr]
        recorder.stop()

    stopper = threading.Thread(target=stop_when_played)
    stopper.start()
    events = list(dictate(listener, tap))
    stopper.join()

    results = [e for e in events if isinstance(e, UtteranceTranscribed)]
    check_sentences(sentences_track, results)
    # Each utterance: started, ended, transcribed, in that order, before the next one ends.
    kinds = [(type(e).__name__, e.index) for e in events if hasattr(e, "index")]
    for i in range(len(results)):
        seq = [kinds.index(("UtteranceStarted", i)), kinds.index(("UtteranceEnded", i))]
        seq.append(kinds.index(("UtteranceTranscribed", i)))
        assert seq == sorted(seq)
    stopped = [e for e in events if isinstance(e, RecordingStopped)]
    assert len(stopped) == 1 and stopped[0].reason is StopReason.REQUESTED
    assert isinstance(events[-1], DictationFinished)
    assert events[-1].text == " ".join(r.text for r in results)
    # The recording is the whole stream, at the device's rate.
    assert sf.info(str(recorder.path)).frames == factory.stream.delivered


def test_quiet_speech_is_kept(sentences_track: Track, listener: Engine) -> None:
    """The same sentences 30 dB quieter (peaks below -33 dBFS)."""
    quiet = sentences_track.samples * speech.db_to_gain(-30.0)
    assert speech.peak_dbfs(quiet) < -32.0
    results = [e for e in dictate(listener, blocks(quiet)) if isinstance(e, UtteranceTranscribed)]
    check_sentences(sentences_track, results)


def test_fluent_speech_is_cut_at_the_window(listener: Engine, tmp_path: Path) -> None:
    """20 s of sentences with only short pauses: cut into utterances that fit the window."""
    pauses = [float(p) for p in np.random.default_rng(HELD_OUT_SEED + 41).uniform(0.2, 0.4, 6)]
    track = make_track(tmp_path, HELD_OUT_SEED + 42, pauses, 4, 7)
    assert track.duration > 15
    events = list(dictate(listener, blocks(track.samples)))
    results = [e for e in events if isinstance(e, UtteranceTranscribed)]
    window = listener.window_seconds
    assert window is not None
    assert len(results) >= 2 and any(r.cut for r in results)
    assert all(r.end - r.start <= window for r in results)
    assert [r.start for r in results] == sorted(r.start for r in results)
    hyp = " ".join(r.text for r in results)
    assert wer([track.text], [hyp]) <= WER_BAR, (track.text, hyp)


def test_segmenter_drops_clicks_and_keeps_preroll() -> None:
    """Without a model of words: a 30 ms click is no utterance; silence gives nothing."""
    rate = 16000
    silence = np.zeros(3 * rate, np.float32)
    click = silence.copy()
    click[rate : rate + 480] = 0.5 * np.sign(np.sin(np.arange(480) / 3.0))
    for samples in (silence, click):
        seg = UtteranceSegmenter(UtteranceOptions())
        events = [e for b in blocks(samples) for e in seg.push(b)] + seg.flush()
        seg.close()
        assert not [e for e in events if isinstance(e, Utterance)]


def test_cancel_stops_without_finishing(sentences_track: Track, listener: Engine) -> None:
    cancel = threading.Event()
    seen: list[object] = []
    from app.core.errors import Cancelled

    with pytest.raises(Cancelled):
        for e in dictate(listener, blocks(sentences_track.samples), cancel=cancel):
            seen.append(e)
            if isinstance(e, UtteranceStarted):
                cancel.set()
    assert not any(isinstance(e, (UtteranceEnded, UtteranceTranscribed)) for e in seen)
