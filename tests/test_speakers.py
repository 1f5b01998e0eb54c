"""Speaker detection: the voice encoder, clustering on real synthetic conversations, cues.

Conversations are espeak-ng voices taking turns (tests/speech.py), with pauses of
0.5-1.5 s. Speech regions come from the app's own VAD.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core.audio.vad import SpeechRegion, detect_speech
from app.core.speakers import DiarizeOptions, Turn, assign_speakers, diarize, parse_speakers
from app.core.speakers import encoder as enc
from app.core.speakers.diarize import DiarizationError, smooth, turns_from_labels
from app.core.transcript.model import Segment
from app.core.transcript.text import join_texts
from tests.speech import build_track_samples, conversation

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "speakers"


# ---------------------------------------------------------------------------- encoder


def test_encoder_matches_resemblyzer() -> None:
    """Murmur's mel features + LSTM give resemblyzer's own partial embeddings.

    The expected vectors were computed once with resemblyzer 0.1.4 (librosa 0.11)
    from the same clips: ``VoiceEncoder().embed_utterance(wav, return_partials=True)``.
    """
    ref = json.loads((FIXTURES / "resemblyzer_embeddings.json").read_text())
    model = enc.VoiceEncoder()
    for name, clip in ref["clips"].items():
        wav, rate = sf.read(FIXTURES / f"{name}.flac", dtype="float32")
        assert rate == enc.SAMPLE_RATE
        stop = clip["sample_slices"][-1][1]
        wav = np.pad(wav, (0, max(0, stop - len(wav))))
        mel = enc.mel_frames(wav)
        mels = np.stack([mel[a // enc.HOP : b // enc.HOP] for a, b in clip["sample_slices"]])
        partials = model.embed(mels)
        expected = np.array(clip["partials"], np.float32)
        assert np.abs(partials - expected).max() < 1e-4
        mean = partials.mean(axis=0)
        assert np.allclose(mean / np.linalg.norm(mean), clip["embedding"], atol=1e-4)
    # two voices are further apart than two windows of one voice
    m3 = np.array(ref["clips"]["m3"]["partials"])
    f4 = np.array(ref["clips"]["f4"]["partials"])
    assert float(m3[0] @ m3[1]) > float(m3[0] @ f4[0])


def test_weights_come_from_the_wheel_without_importing_it() -> None:
    path = enc.weights_path()
    assert path.name == "pretrained.pt" and "resemblyzer" in path.parts
    enc.shared_encoder()
    assert "resemblyzer" not in sys.modules  # its imports (webrtcvad, librosa) are never needed


# ---------------------------------------------------------------------------- conversations


def sentence_speakers(turns: Sequence[Turn], onsets: list[float], offsets: list[float]) -> list:
    """The speaker holding most of each sentence."""
    out = []
    for a, b in zip(onsets, offsets, strict=True):
        held: dict[str, float] = {}
        for t in turns:
            held[t.speaker] = held.get(t.speaker, 0.0) + max(0.0, min(b, t.end) - max(a, t.start))
        out.append(max(held, key=held.__getitem__) if held else None)
    return out


def best_mapping_accuracy(truth: list[str], found: list) -> float:
    names = sorted(set(truth))
    labels = sorted({f for f in found if f is not None})
    best = 0
    for perm in itertools.permutations(labels, min(len(labels), len(names))):
        mapping = dict(zip(perm, names, strict=False))
        best = max(best, sum(mapping.get(f) == t for f, t in zip(found, truth, strict=True)))
    return best / len(truth)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speakers-espeak")


@pytest.mark.parametrize(
    ("voices", "sentences"),
    [
        (("en-us+m3", "en-gb+f4"), 8),
        (("en-us+m3", "en-gb+f4", "en-us+m7"), 9),
        (("en-us+m3",), 6),
        (("en-us+m2", "en-gb+f4"), 6),  # 10 windows: short turns, a window or two each
    ],
    ids=["two", "three", "one", "two-short"],
)
def test_speakers_found_and_sentences_labelled(
    voices: tuple[str, ...], sentences: int, cache: Path
) -> None:
    samples, who, onsets, offsets = conversation(voices, sentences, cache)
    regions = detect_speech(samples, enc.SAMPLE_RATE)
    turns = diarize(samples, enc.SAMPLE_RATE, regions)
    names = [t.speaker for t in turns]
    assert len(set(names)) == len(voices)
    # "Speaker 1", "Speaker 2", ... in order of first appearance
    assert list(dict.fromkeys(names)) == [f"Speaker {i + 1}" for i in range(len(voices))]
    found = sentence_speakers(turns, onsets, offsets)
    assert best_mapping_accuracy(who, found) >= 0.9
    # turns begin and end in speech, in order, never overlapping
    for a, b in itertools.pairwise(turns):
        assert a.end <= b.start + 1e-9
    speech = [(r.start, r.end) for r in regions]
    for t in turns:
        assert any(s - 1e-9 <= t.start < e for s, e in speech)
        assert any(s < t.end <= e + 1e-9 for s, e in speech)


def test_longer_conversation_with_two_similar_voices_finds_three(cache: Path) -> None:
    """Four minutes, 60 turns, two of the three voices are American male variants
    (m3, m7); every sentence is new (no repeated audio). One voice's windows also
    group by what is said, nearly as far apart as two voices: the count must not
    take those groups for speakers (it found 4 or more before the silhouette)."""
    from tests.fixtures.listener.architecture import WORDS

    rng = np.random.default_rng(41)
    voices = ("en-us+m3", "en-gb+f4", "en-us+m7")
    texts = [" ".join(rng.choice(WORDS, int(rng.integers(5, 10)))) for _ in range(60)]
    who = [voices[int(i)] for i in rng.integers(0, 3, 60)]
    pauses = [float(p) for p in rng.uniform(0.5, 1.5, 59)]
    samples, onsets, offsets = build_track_samples(texts, pauses, cache, voices=who)
    regions = detect_speech(samples, enc.SAMPLE_RATE)
    turns = diarize(samples, enc.SAMPLE_RATE, regions)
    assert len({t.speaker for t in turns}) == 3
    assert best_mapping_accuracy(who, sentence_speakers(turns, onsets, offsets)) >= 0.9


def test_silhouette() -> None:
    from app.core.speakers.diarize import silhouette

    points = np.array([0.0, 0.1, 1.0, 1.1])
    dist = np.abs(points[:, None] - points[None, :])
    assert silhouette(dist, np.array([0, 0, 1, 1])) == pytest.approx(
        np.mean([(1.05 - 0.1) / 1.05, (0.95 - 0.1) / 0.95] * 2)
    )
    assert silhouette(dist, np.array([0, 1, 0, 1])) < 0 < silhouette(dist, np.array([0, 0, 1, 1]))
    assert silhouette(dist, np.zeros(4, int)) == 0.0


def test_given_number_of_speakers(cache: Path) -> None:
    samples, who, onsets, offsets = conversation(("en-us+m3", "en-gb+f4"), 6, cache, seed=3)
    regions = detect_speech(samples, enc.SAMPLE_RATE)
    one = diarize(samples, enc.SAMPLE_RATE, regions, DiarizeOptions(speakers=1))
    assert {t.speaker for t in one} == {"Speaker 1"}
    two = diarize(samples, enc.SAMPLE_RATE, regions, DiarizeOptions(speakers=2))
    assert best_mapping_accuracy(who, sentence_speakers(two, onsets, offsets)) >= 0.9


# ---------------------------------------------------------------------------- options


def test_parse_speakers() -> None:
    assert parse_speakers("auto") is None
    assert parse_speakers("3") == 3
    assert parse_speakers(2) == 2
    assert parse_speakers(None) is False
    assert parse_speakers("off") is False
    for bad in ("0", "-1", "many"):
        with pytest.raises(DiarizationError):
            parse_speakers(bad)
    with pytest.raises(DiarizationError):
        DiarizeOptions(speakers=0)


# ---------------------------------------------------------------------------- labels and cues


def test_smoothing_removes_flicker() -> None:
    windows = [(i * 0.75, i * 0.75 + 1.5, 0) for i in range(9)]
    labels = np.array([0, 0, 0, 1, 0, 0, 1, 1, 1])
    out = smooth(labels, windows, DiarizeOptions())
    assert out.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]  # a lone window is flicker, a run is a turn
    turns = turns_from_labels(out, windows, [SpeechRegion(0.0, 7.5)])
    assert [t.speaker for t in turns] == ["Speaker 1", "Speaker 2"]
    assert turns[0].end == pytest.approx(turns[1].start)


def test_a_short_answer_between_pauses_is_a_turn() -> None:
    """One window alone in its speech region is a turn, not flicker."""
    windows = [(0.0, 1.5, 0), (0.75, 2.25, 0), (3.0, 4.5, 1), (5.0, 6.5, 2), (5.75, 7.25, 2)]
    labels = np.array([0, 0, 1, 0, 0])
    assert smooth(labels, windows, DiarizeOptions()).tolist() == [0, 0, 1, 0, 0]
    inside = [(0.0, 1.5, 0), (0.75, 2.25, 0), (1.5, 3.0, 0), (2.25, 3.75, 0), (3.0, 4.5, 0)]
    assert smooth(np.array([0, 0, 1, 0, 0]), inside, DiarizeOptions()).tolist() == [0] * 5


def test_labels_in_order_of_first_appearance() -> None:
    windows = [(0.0, 1.5, 0), (3.0, 4.5, 1), (6.0, 7.5, 2)]
    regions = [SpeechRegion(0, 1.5), SpeechRegion(3, 4.5), SpeechRegion(6, 7.5)]
    turns = turns_from_labels(np.array([7, 2, 7]), windows, regions)
    assert [t.speaker for t in turns] == ["Speaker 1", "Speaker 2", "Speaker 1"]


def test_cue_split_at_speaker_change() -> None:
    regions = [SpeechRegion(0.0, 2.0), SpeechRegion(2.5, 5.0)]
    turns = [Turn(0.0, 2.0, "Speaker 1"), Turn(2.5, 5.0, "Speaker 2")]
    cue = Segment(0.0, 5.0, "Are you coming? Yes I will be there soon.")
    out = assign_speakers([cue], turns, regions)
    assert [s.speaker for s in out] == ["Speaker 1", "Speaker 2"]
    assert [s.text for s in out] == ["Are you coming?", "Yes I will be there soon."]
    assert out[0].start == 0.0 and out[-1].end == 5.0
    assert out[0].end == out[1].start and 2.0 <= out[0].end <= 2.5


def test_cues_never_hold_two_speakers_and_keep_every_word() -> None:
    rng = np.random.default_rng(5)
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    bounds = np.cumsum(rng.uniform(0.6, 3.0, 30))
    turns = [
        Turn(float(a), float(b), f"Speaker {1 + i % 3}")
        for i, (a, b) in enumerate(itertools.pairwise([0.0, *bounds]))
    ]
    cues = [
        Segment(float(t), float(t + 4.0), " ".join(rng.choice(words, int(rng.integers(3, 12)))))
        for t in np.arange(0.0, float(bounds[-1]) - 4.0, 4.0)
    ]
    out = assign_speakers(cues, turns)
    assert join_texts(s.text for s in out) == join_texts(c.text for c in cues)
    for seg in out:
        held = {t.speaker for t in turns if min(seg.end, t.end) - max(seg.start, t.start) > 0.35}
        assert seg.speaker is not None
        assert len(held - {seg.speaker}) == 0 or seg.end - seg.start < 1.0
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(out))


def test_short_interjection_does_not_split_a_cue() -> None:
    turns = [Turn(0.0, 3.0, "Speaker 1"), Turn(3.0, 3.1, "Speaker 2"), Turn(3.1, 6.0, "Speaker 1")]
    out = assign_speakers([Segment(0.0, 6.0, "a long sentence that goes on")], turns)
    assert [(s.text, s.speaker) for s in out] == [("a long sentence that goes on", "Speaker 1")]


# ---------------------------------------------------------------------------- pipeline


@pytest.mark.slow
def test_transcript_words_unchanged_by_speaker_detection(cache: Path, tmp_path: Path) -> None:
    """The listener model's words with and without speakers are the same; cues get speakers."""
    from app.core.asr.engine import Engine, EngineOptions
    from app.core.events import Finished, Notice
    from app.core.pipeline import PipelineOptions, transcribe_file
    from tests.fixtures.listener.architecture import WORDS
    from tests.listener_speech import HELD_OUT_SEED, LISTENER
    from tests.speech import write_wav

    rng = np.random.default_rng(HELD_OUT_SEED + 20)
    texts = [" ".join(rng.choice(WORDS, int(rng.integers(4, 8)))) for _ in range(8)]
    voices = ["en-us+m2", "en-gb+f4"] * 4
    pauses = [float(p) for p in rng.uniform(0.5, 1.5, 7)]
    samples, onsets, offsets = build_track_samples(texts, pauses, cache, voices=voices)
    path = write_wav(tmp_path / "talk.wav", samples)
    engine = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32"))
    try:
        plain = list(transcribe_file(path, engine))
        labelled = list(transcribe_file(path, engine, PipelineOptions(speakers="auto")))
    finally:
        engine.unload()
    assert isinstance(plain[-1], Finished) and isinstance(labelled[-1], Finished)
    without, with_ = plain[-1].transcript, labelled[-1].transcript
    assert with_.text().split() == without.text().split()
    assert all(s.speaker is None for s in without)
    assert all(s.speaker for s in with_)
    assert any(isinstance(e, Notice) and "2 speakers found" in e.message for e in labelled)

    def voice_of(seg: Segment) -> str:  # the voice of the sentence the cue overlaps most
        overlaps = [
            min(seg.end, b) - max(seg.start, a) for a, b in zip(onsets, offsets, strict=True)
        ]
        return voices[int(np.argmax(overlaps))]

    truth = [voice_of(s) for s in with_]
    assert best_mapping_accuracy(truth, [s.speaker for s in with_]) >= 0.9


# ---------------------------------------------------------------------------- command line


def test_cli_speakers_flag(cache: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    """`--speakers 2` labels the JSON segments and names the speakers in SRT."""
    import io

    from app.cli.transcribe import build_parser, run
    from tests.speech import write_wav

    samples, _who, _on, _off = conversation(("en-us+m3", "en-gb+f4"), 4, cache, seed=4)
    path = write_wav(tmp_path / "talk.wav", samples)
    common = ["--model", str(tiny_model_dir), "--device", "cpu", "--precision", "fp32"]
    err = io.StringIO()
    code = run([str(path), *common, "--speakers", "2", "-f", "json,srt", "-o", str(tmp_path)], err)
    assert code == 0, err.getvalue()
    data = json.loads((tmp_path / "talk.json").read_text(encoding="utf-8"))
    assert {s["speaker"] for s in data["segments"]} <= {"Speaker 1", "Speaker 2"}
    assert data["segments"][0]["speaker"] == "Speaker 1"
    srt_text = (tmp_path / "talk.srt").read_text(encoding="utf-8")
    assert srt_text.count("Speaker ") >= 1
    args = build_parser().parse_args([str(path), "--no-speaker-names"])
    assert args.speaker_names is False and args.speakers is None


@pytest.mark.parametrize("value", ["0", "many", "-2"])
def test_cli_bad_speakers_value_is_a_usage_error(value: str, tmp_path: Path) -> None:
    import contextlib
    import io

    from app.cli.transcribe import run

    err = io.StringIO()
    with pytest.raises(SystemExit) as info, contextlib.redirect_stderr(err):
        run([str(tmp_path / "x.wav"), "--speakers", value], io.StringIO())
    assert info.value.code == 2
    assert "speakers" in err.getvalue() and "Traceback" not in err.getvalue()
