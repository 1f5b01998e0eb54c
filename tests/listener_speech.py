"""Held-out speech for end-to-end tests with the listener (tests/fixtures/listener).

The listener is a small GlmAsr trained on espeak-ng speech over a closed vocabulary, so a
test can say which words must come back. Everything here is seeded with seeds the training
never used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests import speech
from tests.fixtures.listener.architecture import WORDS
from tests.fixtures.listener.evaluate import edit_distance

LISTENER = Path(__file__).resolve().parent / "fixtures" / "listener"
VOICES: tuple[str, ...] = (
    "en-us",
    "en-gb",
    "en-us+m2",
    "en-gb+m4",
    "en-us+m6",
    "en-gb+f2",
    "en-us+f3",
    "en-gb+f4",
)
HELD_OUT_SEED = 20251125  # training used seed 0 (and 1000 for its own held-out check)
WER_BAR = 0.10


def words_of(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Word error rate over aligned pairs (reference i is scored against hypothesis i)."""
    errors = sum(edit_distance(words_of(r), words_of(h)) for r, h in zip(refs, hyps, strict=True))
    return errors / max(1, sum(len(words_of(r)) for r in refs))


@dataclass(frozen=True)
class Track:
    path: Path
    samples: np.ndarray  # 16 kHz mono
    sentences: tuple[str, ...]
    onsets: tuple[float, ...]  # seconds
    ends: tuple[float, ...]

    @property
    def duration(self) -> float:
        return len(self.samples) / speech.SAMPLE_RATE

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def make_track(
    out: Path,
    seed: int,
    pauses: Sequence[float],
    min_words: int,
    max_words: int,
    max_chars: int = 1000,
) -> Track:
    """Held-out sentences (one more than ``pauses``) in varied voices, speeds and levels."""
    rng = np.random.default_rng(seed)
    cache = out / "espeak-cache"
    parts: list[np.ndarray] = [np.zeros(8000, np.float32)]
    pos = 8000
    sentences: list[str] = []
    onsets: list[float] = []
    ends: list[float] = []
    for i in range(len(pauses) + 1):
        while True:
            n = int(rng.integers(min_words, max_words + 1))
            text = " ".join(str(w) for w in rng.choice(WORDS, size=n))
            if len(text) <= max_chars:
                break
        voice = str(rng.choice(VOICES))
        audio = speech.synthesize(text, cache, voice=voice, speed=int(rng.integers(130, 200)))
        first, end = speech.speech_bounds(audio, speech.SAMPLE_RATE)
        audio = audio[first:end]
        audio *= speech.db_to_gain(rng.uniform(-12.0, -3.0)) / max(1e-9, np.abs(audio).max())
        sentences.append(text)
        onsets.append(pos / speech.SAMPLE_RATE)
        ends.append((pos + len(audio)) / speech.SAMPLE_RATE)
        gap = np.zeros(round((pauses[i] if i < len(pauses) else 0.7) * 16000), np.float32)
        parts += [audio, gap]
        pos += len(audio) + len(gap)
    samples = np.concatenate(parts)
    samples += np.random.default_rng(seed + 1).standard_normal(len(samples)).astype(
        np.float32
    ) * speech.db_to_gain(-70.0)
    path = speech.write_wav(out / "track.wav", samples)
    return Track(path, samples, tuple(sentences), tuple(onsets), tuple(ends))


def spaced_track(
    out: Path,
    seed: int,
    sentences: int,
    pause_s: tuple[float, float],
    words: tuple[int, int],
    max_chars: int = 1000,
) -> Track:
    """``sentences`` held-out sentences with pauses drawn from ``pause_s`` (seeded)."""
    rng = np.random.default_rng(seed)
    pauses = [float(p) for p in rng.uniform(*pause_s, size=sentences - 1)]
    return make_track(out, seed + 1, pauses, *words, max_chars=max_chars)


def distinct_tracks(
    factory: object, prefix: str, seed: int, count: int, sentences: int
) -> list[Track]:
    """``count`` different held-out recordings of ``sentences`` sentences of 2-5 words,
    1.2-2 s apart, each in its own folder from ``factory`` (a TempPathFactory)."""
    made = []
    for i in range(count):
        out = factory.mktemp(f"{prefix}-{i}")  # type: ignore[attr-defined]
        made.append(spaced_track(out, seed + 7 * i, sentences, (1.2, 2.0), (2, 5)))
    return made


def long_track(
    out: Path, seed: int, minutes: float, sentences: int = 5, period_s: float = 60.0
) -> Track:
    """At least ``minutes`` of held-out speech, cheaply: a few sentences, repeated.

    ``sentences`` held-out sentences (1.2-2 s apart) are made once, padded with
    near-silence to ``period_s`` and repeated until the track is long enough. Every
    pause is longer than the 1 s the chunker merges across, so each spoken sentence is
    its own chunk and its own row; the model's cost follows the number of sentences,
    not the length of the file. Written as FLAC.
    """
    import soundfile as sf

    base = spaced_track(out, seed, sentences, (1.2, 2.0), (2, 6), max_chars=36)
    size = round(period_s * speech.SAMPLE_RATE)
    if len(base.samples) + speech.SAMPLE_RATE > size:
        raise ValueError(f"{sentences} sentences do not fit a period of {period_s} s")
    pattern = np.zeros(size, np.float32)
    pattern[: len(base.samples)] = base.samples
    noise = np.random.default_rng(seed + 2).standard_normal(size).astype(np.float32)
    pattern[len(base.samples) :] = noise[len(base.samples) :] * speech.db_to_gain(-70.0)
    reps = int(np.ceil(minutes * 60 / period_s))
    samples = np.tile(pattern, reps)
    path = out / f"long-{minutes:g}min.flac"
    sf.write(path, samples, speech.SAMPLE_RATE, subtype="PCM_16")
    return Track(
        path,
        samples,
        base.sentences * reps,
        tuple(t + k * period_s for k in range(reps) for t in base.onsets),
        tuple(t + k * period_s for k in range(reps) for t in base.ends),
    )


def sentence_clips(out: Path, seed: int) -> tuple[Track, list[np.ndarray]]:
    """Five held-out sentences of different lengths, each cut out of one track with 0.2 s
    either side: a batch of them is left-padded."""
    track = make_track(out, seed, [0.6] * 4, 2, 8)
    rate = speech.SAMPLE_RATE
    clips = [
        track.samples[max(0, round((a - 0.2) * rate)) : round((b + 0.2) * rate)]
        for a, b in zip(track.onsets, track.ends, strict=True)
    ]
    return track, clips
