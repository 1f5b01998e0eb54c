"""Benchmark speaker detection (diarization) over a long conversation.

Builds a conversation of three espeak-ng voices taking turns (pauses of 0.5-1.5 s),
repeats it to ``--minutes`` of audio, finds the speech with the app's VAD (timed
apart), then times :func:`app.core.speakers.diarize` alone: windows, embeddings,
clustering, smoothing. The target is at most 60 s for one hour of speech on a
2-core CPU. Besides wall time it prints the process CPU time, which a busy shared
machine disturbs less, and the load average before and after.

Usage::

    python -m benchmarks.bench_speakers                 # 60 minutes
    python -m benchmarks.bench_speakers --minutes 5     # quicker; scaled to an hour
    python -m benchmarks.bench_speakers --hop 1.5       # other window hop (s)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.audio.vad import detect_speech  # noqa: E402
from app.core.speakers import DiarizeOptions, diarize  # noqa: E402
from app.core.speakers.encoder import SAMPLE_RATE, shared_encoder  # noqa: E402
from tests import speech  # noqa: E402

VOICES = ("en-us+m3", "en-gb+f4", "en-us+m7")


def conversation(minutes: float, cache: Path) -> np.ndarray:
    n = 12
    rng = np.random.default_rng(0)
    texts = [speech.SENTENCES[i % len(speech.SENTENCES)] for i in range(n)]
    voices = [VOICES[i % len(VOICES)] for i in range(n)]
    pauses = [float(p) for p in rng.uniform(0.5, 1.5, n - 1)]
    block, _, _ = speech.build_track_samples(texts, pauses, cache, voices=voices)
    repeats = int(np.ceil(minutes * 60 * SAMPLE_RATE / len(block)))
    return np.tile(block, repeats)[: int(minutes * 60 * SAMPLE_RATE)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--hop", type=float, default=DiarizeOptions().hop_s)
    args = parser.parse_args()

    cache = Path(tempfile.gettempdir()) / "murmur-bench" / "espeak"
    samples = conversation(args.minutes, cache)
    regions = detect_speech(samples, SAMPLE_RATE)
    speech_s = sum(r.duration for r in regions)
    shared_encoder()  # loading the weights is not part of the figure
    load_before = os.getloadavg()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    turns = diarize(samples, SAMPLE_RATE, regions, DiarizeOptions(hop_s=args.hop))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    load_after = os.getloadavg()
    per_hour = 3600.0 / speech_s
    import torch

    print(f"audio {len(samples) / SAMPLE_RATE / 60:.1f} min, speech {speech_s / 60:.1f} min")
    print(f"speakers found: {len({t.speaker for t in turns})} (true: {len(VOICES)})")
    print(f"window hop {args.hop:g} s, torch threads {torch.get_num_threads()}")
    print(f"diarization wall {wall:.1f} s, cpu {cpu:.1f} s")
    print(f"per hour of speech: wall {wall * per_hour:.1f} s, cpu {cpu * per_hour:.1f} s")
    cores = os.cpu_count()
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (cores {cores})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
