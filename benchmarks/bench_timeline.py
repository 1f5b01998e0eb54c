"""Benchmark the editor's waveform timeline on a long file (issue #11).

Times, for ``--hours`` of 16 kHz mono audio (3 by default; a memory-mapped file of
float32 samples, the way ``decode_audio`` hands long audio over):

- building the peak pyramid (``compute_peaks``), against one plain numpy min and max
  over the same samples in the same run (the least any exact waveform can cost);
- writing the cache and loading it back (what reopening the file costs);
- painting frames of the real ``TimelineWidget`` into a QImage, offscreen, at several
  zooms (whole file down to 2 s across): scrolling (each frame a new view, so a full
  redraw) and playback (the view still, only the playhead moves). Target: under 16 ms.

With ``--media FILE`` the peaks are also built from a real file through
``media_peaks`` (decode included), uncached and then cached.

Usage::

    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_timeline
    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_timeline --hours 1 --frames 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.audio.peaks import compute_peaks, load_peaks, save_peaks  # noqa: E402
from app.core.transcript import Segment, Transcript, TranscriptMeta  # noqa: E402

RATE = 16000
BLOCK = RATE * 60


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def make_audio(path: Path, hours: float) -> np.memmap:
    """Speech-like bursts (noise under a slow envelope) with pauses, written a minute
    at a time to a memory-mapped file."""
    n = int(hours * 3600 * RATE)
    samples = np.memmap(path, dtype=np.float32, mode="w+", shape=(n,))
    rng = np.random.default_rng(0)
    t = np.arange(BLOCK) / RATE
    envelope = np.clip(np.sin(2 * np.pi * t / 7.0) * 1.5, 0, 1).astype(np.float32)
    for pos in range(0, n, BLOCK):
        size = min(BLOCK, n - pos)
        noise = rng.standard_normal(size).astype(np.float32) * 0.2
        samples[pos : pos + size] = noise * envelope[:size]
    samples.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=(n,))


def make_transcript(hours: float) -> Transcript:
    """A cue of 1.5-5 s every 3.5 s on average, as a 3-hour talk has (about 3000)."""
    rng = np.random.default_rng(1)
    duration = hours * 3600
    segments, speech = [], []
    t = 0.5
    while t < duration - 6:
        length = float(rng.uniform(1.5, 5.0))
        segments.append(Segment(round(t, 3), round(t + length, 3), "word " * 8))
        speech.append((t - 0.05, t + length - 0.3))
        t += length + float(rng.uniform(0.2, 1.5))
    return Transcript(segments, TranscriptMeta(duration=duration), speech=speech)


Frame = tuple[float, float]  # wall-clock ms, CPU ms of this thread


def _render(widget: object, image: QImage) -> Frame:
    wall, cpu = time.perf_counter(), time.thread_time()
    widget.render(image)  # type: ignore[attr-defined]
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


def frame_times(widget: object, image: QImage, views: list[tuple[float, float]]) -> list[Frame]:
    """Scrolling: every frame shows a new stretch, so everything is drawn again."""
    out = []
    for start, end in views:
        widget.show_range(start, end)  # type: ignore[attr-defined]
        widget.refresh_marks()  # type: ignore[attr-defined]  # a full redraw, even if clamped
        out.append(_render(widget, image))
    return out


def playhead_times(widget: object, image: QImage, positions: list[float]) -> list[Frame]:
    """Playback: the playhead moves (the view pages and the current cue changes as it goes)."""
    out = []
    for position in positions:
        widget.set_position(position)  # type: ignore[attr-defined]
        out.append(_render(widget, image))
    return out


def summary(frames: list[Frame]) -> str:
    wall = statistics.median(f[0] for f in frames)
    cpu = sorted(f[1] for f in frames)
    return f"{wall:7.2f} {statistics.median(cpu):6.2f} {cpu[-1]:6.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--frames", type=int, default=60, help="frames per zoom")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--media", type=Path, help="also build from this media file")
    args = parser.parse_args(argv)

    print(f"start: {load()}")
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="murmur-bench-timeline-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("MURMUR_DATA_DIR", str(folder / "data"))
        began = time.perf_counter()
        samples = make_audio(folder / "audio.f32", args.hours)
        print(f"made {args.hours:g} h of audio ({samples.nbytes / 1e9:.2f} GB, memory-mapped) "
              f"in {time.perf_counter() - began:.1f} s")  # fmt: skip

        began = time.perf_counter()
        low, high = float(np.min(samples)), float(np.max(samples))
        baseline = time.perf_counter() - began
        began = time.perf_counter()
        peaks = compute_peaks(samples)
        build = time.perf_counter() - began
        assert peaks.levels[-1][0].min() == low and peaks.levels[-1][1].max() == high
        sizes = sum(level.nbytes for level in peaks.levels)
        print(f"peaks: {len(peaks.levels)} levels, {sizes / 1e6:.1f} MB")
        print(f"  build           {build:7.2f} s   (numpy min+max over the samples: "
              f"{baseline:.2f} s; ratio {build / baseline:.2f})")  # fmt: skip

        target = folder / "cache" / "peaks.npz"
        began = time.perf_counter()
        save_peaks(peaks, target)
        saved = time.perf_counter() - began
        loads = []
        for _ in range(5):
            began = time.perf_counter()
            loaded = load_peaks(target)
            loads.append(time.perf_counter() - began)
        assert loaded is not None and loaded.n_samples == peaks.n_samples
        print(f"  cache write     {saved * 1000:7.1f} ms  ({target.stat().st_size / 1e6:.1f} MB)")
        print(f"  cache load      {min(loads) * 1000:7.1f} ms  (best of 5)")
        del samples

        if args.media is not None:
            from app.core.audio.peaks import media_peaks

            began = time.perf_counter()
            media_peaks(args.media)
            first = time.perf_counter() - began
            began = time.perf_counter()
            media_peaks(args.media)
            print(f"  {args.media.name}: decode + build {first:.2f} s, "
                  f"reopened (cache) {(time.perf_counter() - began) * 1000:.1f} ms")  # fmt: skip

        from app.gui.document import TranscriptDocument
        from app.gui.editor.timeline import TimelineWidget

        transcript = make_transcript(args.hours)
        doc = TranscriptDocument(transcript)
        widget = TimelineWidget()
        widget.resize(args.width, 140)
        widget.set_document(doc, "")
        widget.set_peaks(peaks)
        widget.set_selected_rows({10})
        duration = transcript.meta.duration
        image = QImage(widget.size(), QImage.Format.Format_ARGB32_Premultiplied)
        print(f"\npaint frames, {args.width} x 140 px, {len(transcript)} cues, "
              f"{len(transcript.speech)} speech regions (ms per frame):")  # fmt: skip
        print("  wall = median wall-clock time; cpu = this thread's CPU time, median and max")
        print("  (CPU time leaves out the waits for a core that a shared machine adds)")
        print(f"  {'across':>8} {'cues':>5} | {'scroll: wall':>12} {'cpu':>6} {'max':>6}"
              f" | {'playback: wall':>14} {'cpu':>6} {'max':>6}")  # fmt: skip
        worst = 0.0
        for span in (duration, 3600.0, 600.0, 60.0, 10.0, 2.0):
            span = min(span, duration)
            step = span / 40  # each frame scrolls by 1/40 of the width
            first = duration / 3
            views = [(first + k * step, first + k * step + span) for k in range(args.frames)]
            frame_times(widget, image, views[:3])  # warm up (fonts, caches)
            scroll = frame_times(widget, image, views)
            widget.show_range(first, first + span)
            positions = [first + span * (0.1 + 0.8 * k / args.frames) for k in range(args.frames)]
            widget.set_playing(True)
            play = playhead_times(widget, image, positions)
            widget.set_playing(False)
            shown = widget.view
            in_view = sum(1 for s in transcript if s.end >= shown.start and s.start <= shown.end)
            worst = max(worst, *(f[1] for f in scroll + play))
            print(f"  {span:>7.0f}s {in_view:>5} | {summary(scroll):>26} | {summary(play):>28}")
        print(f"\nworst frame: {worst:.2f} ms of CPU time (target < 16 ms)")
        del app
    print(f"end: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
