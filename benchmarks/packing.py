"""Packing several pieces of speech into one window vs cutting at every pause.

Runs ``transcribe_file`` with the trained listener (tests/fixtures/listener, 10 s windows)
on held-out tracks of sentences separated by clear pauses, once with ``ChunkOptions(pack=
False)`` (a chunk never spans a pause over 1 s) and then with ``pack=True`` for each
``--fill`` (``pack_fill``: the share of the window packed audio may fill), and prints per
mode: chunks (= encoder windows), wall time, word error rate, and the cue-onset error.

Onset error: the words of the cues are aligned to the reference words (edit distance);
each hypothesis word is timed inside its cue in proportion to its characters; for every
sentence whose first word was recognised, the error is |time of that word - the
sentence's onset|. This also catches a word shared into the wrong piece of a packed
window, not only cue starts.

Usage: ``python benchmarks/packing.py [--tracks 6] [--sentences 12] [--first-track 0]
[--fill 1,0.75] [--gap 0.5] [--split-pause inf,0.5]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.asr.engine import Engine, EngineOptions  # noqa: E402
from app.core.audio.chunking import ChunkOptions  # noqa: E402
from app.core.events import Finished, SpeechFound  # noqa: E402
from app.core.pipeline import PipelineOptions, transcribe_file  # noqa: E402
from app.core.transcript import Segment  # noqa: E402
from tests.listener_speech import (  # noqa: E402
    HELD_OUT_SEED,
    LISTENER,
    Track,
    spaced_track,
    wer,
    words_of,
)


def align(ref: list[str], hyp: list[str]) -> dict[int, int]:
    """Reference index -> hypothesis index of the words an edit-distance alignment matches."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(
                d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1])
            )
    out: dict[int, int] = {}
    i, j = n, m
    while i > 0 and j > 0:
        if ref[i - 1] == hyp[j - 1] and d[i][j] == d[i - 1][j - 1]:
            out[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j - 1] + 1:
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return out


def word_times(segments: list[Segment]) -> tuple[list[str], list[float]]:
    """Words of the cues, each timed inside its cue in proportion to its characters."""
    words: list[str] = []
    times: list[float] = []
    for seg in segments:
        ws = words_of(seg.text)
        total = sum(len(w) + 1 for w in ws) or 1
        pos = 0
        for w in ws:
            words.append(w)
            times.append(seg.start + (seg.end - seg.start) * pos / total)
            pos += len(w) + 1
    return words, times


def onset_errors(track: Track, segments: list[Segment]) -> list[float]:
    ref: list[str] = []
    firsts: list[int] = []
    for sentence in track.sentences:
        firsts.append(len(ref))
        ref += words_of(sentence)
    hyp, times = word_times(segments)
    matched = align(ref, hyp)
    return [
        abs(times[matched[k]] - onset)
        for k, onset in zip(firsts, track.onsets, strict=True)
        if k in matched
    ]


def run(
    track: Track, engine: Engine, pack: bool, **chunking: float
) -> tuple[int, float, list[Segment]]:
    """Chunks, wall time and cues of ``track``; ``chunking``: other ChunkOptions."""
    options = PipelineOptions(chunks=replace(ChunkOptions(), pack=pack, **chunking))
    started = time.perf_counter()
    chunks = 0
    segments: list[Segment] = []
    for event in transcribe_file(track.path, engine, options):
        if isinstance(event, SpeechFound):
            chunks = event.chunks
        elif isinstance(event, Finished):
            segments = list(event.transcript.segments)
    return chunks, time.perf_counter() - started, segments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=6)
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--min-pause", type=float, default=1.2)
    parser.add_argument("--max-pause", type=float, default=3.0)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument(
        "--first-track", type=int, default=0, help="k of the first track (seed 500 + 7k)"
    )
    parser.add_argument(
        "--fill",
        default=str(ChunkOptions().pack_fill),
        help="packed windows filled to at most these shares, comma-separated (e.g. 1,0.75)",
    )
    parser.add_argument("--gap", type=float, default=ChunkOptions().pack_gap_s)
    parser.add_argument(
        "--split-pause",
        default=str(ChunkOptions().pack_split_pause_s),
        help="a window is topped up with the head of the next chunk cut at a pause of at "
        "least this (inf: never); comma-separated values are each a mode",
    )
    args = parser.parse_args(argv)

    engine = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype=args.precision))
    engine.load()
    work = Path(tempfile.mkdtemp(prefix="murmur-packing-"))
    tracks = [
        spaced_track(
            work / f"t{k}",
            HELD_OUT_SEED + 500 + 7 * k,
            args.sentences,
            (args.min_pause, args.max_pause),
            (2, 8),
        )
        for k in range(args.first_track, args.first_track + args.tracks)
    ]
    audio_s = sum(t.duration for t in tracks)
    print(
        f"{len(tracks)} held-out tracks, {args.sentences} sentences each, pauses "
        f"{args.min_pause}-{args.max_pause} s, {audio_s:.0f} s of audio; listener, "
        f"{args.precision}"
    )
    print(
        "| mode | chunks | wall s | WER | onset error median | p90 | max | within 0.3 s "
        "| off by more |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    modes: list[tuple[str, bool, dict[str, float]]] = [("cut at pauses", False, {})]
    for fill in (float(f) for f in args.fill.split(",")):
        for split in (float(p) for p in args.split_pause.split(",")):
            label = f"packed, filled to {fill:.0%}, gap {args.gap:g} s, split at {split:g} s"
            chunking = {"pack_fill": fill, "pack_gap_s": args.gap, "pack_split_pause_s": split}
            modes.append((label, True, chunking))
    texts: dict[str, list[str]] = {}
    for label, pack, chunking in modes:
        chunks = 0
        wall = 0.0
        errors: list[float] = []
        hyps: list[str] = []
        for track in tracks:
            c, w, segments = run(track, engine, pack, **chunking)
            chunks += c
            wall += w
            errors += onset_errors(track, segments)
            hyps.append(" ".join(s.text for s in segments))
        texts[label] = hyps
        errors.sort()
        off = sum(e > 0.3 for e in errors)
        print(
            f"| {label} | {chunks} | {wall:.1f} | "
            f"{wer([t.text for t in tracks], hyps):.2%} | {statistics.median(errors):.3f} | "
            f"{errors[int(0.9 * (len(errors) - 1))]:.3f} | {errors[-1]:.3f} | "
            f"{1 - off / max(1, len(errors)):.1%} | {off} of {len(errors)} |"
        )
    plain = texts[modes[0][0]]
    for label, hyps in list(texts.items())[1:]:
        same = sum(words_of(a) == words_of(b) for a, b in zip(plain, hyps, strict=True))
        print(f"tracks with the same words as cut at pauses, {label}: {same} of {len(tracks)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
