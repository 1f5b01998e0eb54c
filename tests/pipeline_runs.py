"""Helpers shared by the pipelining tests (producer thread and producer process): run a
file through ``transcribe_file``, what of the run must not depend on how it was run, and a
file whose decoding has to start again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from app.core.asr.engine import Engine
from app.core.events import ChunksPlanned, ChunkTranscribed, Finished, SpeechFound
from app.core.pipeline import PipelineOptions, transcribe_file
from tests import speech


def run(path: Path, engine: Engine, **options: object) -> list[object]:
    return list(transcribe_file(path, engine, PipelineOptions(**options)))  # type: ignore[arg-type]


def outcome(events: list[object]) -> tuple[object, ...]:
    """What must not depend on pipelining: the cut, each chunk's text and cues, the end."""
    cut = [c for e in events if isinstance(e, ChunksPlanned) for c in e.chunks]
    chunks = sorted(
        (e.index, e.start, e.end, e.text, e.segments)
        for e in events
        if isinstance(e, ChunkTranscribed)
    )
    finished = events[-1]
    assert isinstance(finished, Finished)
    found = next(e for e in events if isinstance(e, SpeechFound))
    return (cut, chunks, finished.transcript.segments, found)


def late_inverted_wav(path: Path) -> Path:
    """Tone bursts, 100 s: the first 40 s (past the phase check) in phase, the rest with the
    right channel inverted, so that the whole file disagrees with the early channel choice
    and decoding starts again."""
    rate = speech.SAMPLE_RATE
    rng = np.random.default_rng(3)

    def bursts(seconds: float, level: float) -> np.ndarray:
        out = np.zeros(round(seconds * rate), np.float32)
        for start in np.arange(1.0, seconds - 3.0, 4.0):
            a = round(start * rate)
            out[a : a + 2 * rate] = speech.tone(2.0, 220.0 + 40 * rng.random(), amplitude=level)
        return out

    early, late = bursts(40.0, 0.05), bursts(60.0, 0.5)
    left = np.concatenate([early, late])
    right = np.concatenate([early, -late])
    sf.write(path, np.stack([left, right], axis=1), rate, subtype="PCM_16")
    return path
