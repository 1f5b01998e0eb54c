"""Benchmark speaker detection (diarization) over a long conversation.

Builds a conversation of three espeak-ng voices taking turns (pauses of 0.5-1.5 s,
every sentence different) of ``--minutes`` of audio, finds the speech with the
app's VAD (timed apart), then times :func:`app.core.speakers.diarize` alone: windows, embeddings,
clustering, smoothing. The target is at most 60 s for one hour of speech on a
2-core CPU. Besides wall time it prints the process CPU time, which a busy shared
machine disturbs less, and the load average before and after.

Usage::

    python -m benchmarks.bench_speakers                 # 60 minutes
    python -m benchmarks.bench_speakers --minutes 5     # quicker; scaled to an hour
    python -m benchmarks.bench_speakers --hop 1.5       # other window hop (s)
    python -m benchmarks.bench_speakers --minutes 5 --compare   # and the earlier way

``--compare`` also embeds the same windows the way Murmur did before (one block
after another, the LSTM's steps split over torch's intra-op threads) and prints
both times and the old/new ratio, measured in the same run, with the largest
difference between the two sets of embeddings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.audio.vad import detect_speech  # noqa: E402
from app.core.speakers import DiarizeOptions, diarize  # noqa: E402
from app.core.speakers.encoder import HOP, SAMPLE_RATE, shared_encoder  # noqa: E402
from tests import speech  # noqa: E402

VOICES = ("en-us+m3", "en-gb+f4", "en-us+m7")
T = TypeVar("T")


def embed_before(samples: np.ndarray, windows: list[tuple[float, float, int]]) -> np.ndarray:
    """The embeddings as Murmur computed them before: blocks of 256 in turn, on the
    calling thread with torch's intra-op threads."""
    diarize_module = sys.modules["app.core.speakers.diarize"]
    frames = round(DiarizeOptions().window_s * SAMPLE_RATE / HOP)
    parts = [windows[lo : lo + 256] for lo in range(0, len(windows), 256)]
    return np.concatenate(
        [diarize_module.embed_block(samples, SAMPLE_RATE, p, frames) for p in parts]
    )


def timed(run: Callable[[], T]) -> tuple[T, float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall0, time.process_time() - cpu0


def conversation(minutes: float, cache: Path) -> np.ndarray:
    """Three voices taking turns in sentences that are all different (random words
    of the listener's vocabulary; repeated sentences would repeat the very same
    audio, which clusters by sentence and says nothing about the speaker count)."""
    from tests.fixtures.listener.architecture import WORDS

    rng = np.random.default_rng(0)
    target = int(minutes * 60 * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    total = 0
    while total < target:  # blocks of 20 sentences, so espeak's cache stays useful
        texts = [" ".join(rng.choice(WORDS, int(rng.integers(5, 10)))) for _ in range(20)]
        voices = [VOICES[int(i)] for i in rng.integers(0, len(VOICES), 20)]
        pauses = [float(p) for p in rng.uniform(0.5, 1.5, 19)]
        block, _, _ = speech.build_track_samples(texts, pauses, cache, voices=voices)
        parts.append(block)
        total += len(block)
    return np.concatenate(parts)[:target]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--hop", type=float, default=DiarizeOptions().hop_s)
    parser.add_argument("--compare", action="store_true", help="time the earlier way too")
    args = parser.parse_args()

    cache = Path(tempfile.gettempdir()) / "murmur-bench" / "espeak"
    samples = conversation(args.minutes, cache)
    regions = detect_speech(samples, SAMPLE_RATE)
    speech_s = sum(r.duration for r in regions)
    shared_encoder()  # loading the weights is not part of the figure
    import torch

    threads = torch.get_num_threads()
    options = DiarizeOptions(hop_s=args.hop)
    load_before = os.getloadavg()
    turns, wall, cpu = timed(lambda: diarize(samples, SAMPLE_RATE, regions, options))
    per_hour = 3600.0 / speech_s
    if args.compare:
        diarize_module = sys.modules["app.core.speakers.diarize"]
        windows = diarize_module._windows(regions, len(samples) / SAMPLE_RATE, options)
        new, new_wall, new_cpu = timed(
            lambda: diarize_module.embed_windows(samples, SAMPLE_RATE, windows, options.window_s)
        )
        old, old_wall, old_cpu = timed(lambda: embed_before(samples, windows))
        print(f"embeddings of {len(windows)} windows (same run):")
        print(f"  before: wall {old_wall:.1f} s, cpu {old_cpu:.1f} s ({threads} torch threads)")
        print(f"  now:    wall {new_wall:.1f} s, cpu {new_cpu:.1f} s")
        print(f"  old/new: wall {old_wall / new_wall:.2f}x, cpu {old_cpu / new_cpu:.2f}x")
        print(f"  largest difference between them: {np.abs(old - new).max():.1e}")
    load_after = os.getloadavg()

    print(f"audio {len(samples) / SAMPLE_RATE / 60:.1f} min, speech {speech_s / 60:.1f} min")
    print(f"speakers found: {len({t.speaker for t in turns})} (true: {len(VOICES)})")
    print(f"window hop {args.hop:g} s, torch threads {threads}")
    print(f"diarization wall {wall:.1f} s, cpu {cpu:.1f} s")
    print(f"per hour of speech: wall {wall * per_hour:.1f} s, cpu {cpu * per_hour:.1f} s")
    cores = os.cpu_count()
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (cores {cores})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
