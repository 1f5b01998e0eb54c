"""Soak test (not in CI): the window plays media and follows the rows for a long time.

Opens the main window with a finished transcript of a few minutes of held-out speech
(the listener's test voices; the segments are the known sentences), plays its media in a
loop at normal speed, and lets the editor follow playback row by row, for ``--minutes``
(10 by default). Every ``--every`` seconds it prints the process's resident memory, the
reference count of None (on Python 3.11 a PySide6 that leaks None falls here, then
aborts with "Fatal Python error: none_dealloc", issue #16) and how many row changes it
followed.

It runs the window in a child process and fails (exit 1) when the child dies or prints
a fatal error, when memory after the first minute grows by more than ``--max-growth-mb``,
when None's count falls by more than 1,000, or when playback stops following rows.

Usage::

    QT_QPA_PLATFORM=offscreen python -m benchmarks.soak_window              # 10 minutes
    python -m benchmarks.soak_window --minutes 3 --every 15
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FATAL = ("Fatal Python error", "Aborted", "core dumped", "Traceback")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer

    from app.core.settings import Settings
    from app.core.transcript import Segment, Transcript, TranscriptMeta
    from app.gui.app import create_application
    from app.gui.document import TranscriptDocument
    from app.gui.main_window import MainWindow
    from app.gui.queue_model import JobState
    from tests.listener_speech import HELD_OUT_SEED, long_track

    work = Path(args.work)
    track = long_track(work, HELD_OUT_SEED + 81, args.media_minutes, sentences=3, period_s=10.0)
    segments = [
        Segment(round(a, 3), round(b, 3), text)
        for a, b, text in zip(track.onsets, track.ends, track.sentences, strict=True)
    ]
    meta = TranscriptMeta(source=str(track.path), duration=track.duration)
    app = create_application()
    os.environ["MURMUR_CONFIG_DIR"] = str(work / "config")
    win = MainWindow(settings=Settings(), preload=False)
    win.show()
    item = win.queue.add([str(track.path)])[0]
    item.document = TranscriptDocument(Transcript(segments, meta), track.path)
    item.state = JobState.DONE
    win.queue_view.select_item(item.id)
    editor = win.editor
    player = editor.player
    followed = 0
    last_row: list[int | None] = [None]

    def on_position(_seconds: float) -> None:
        nonlocal followed
        row = editor.model.current_row
        if row != last_row[0]:
            last_row[0] = row
            followed += row is not None

    player.positionChanged.connect(on_position)

    def keep_playing() -> None:
        # at the end of the media (the backend may stay "playing" there): from the start
        if not player.is_playing() or player.position >= track.duration - 0.5:
            player.play_from(0.0)

    started = time.monotonic()
    samples: list[tuple[float, float, int, int]] = []

    def report() -> None:
        t = time.monotonic() - started
        sample = (t, rss_mb(), sys.getrefcount(None), followed)
        samples.append(sample)
        print(
            f"{t:7.0f} s  RSS {sample[1]:7.1f} MB  None refs {sample[2]:>9}  rows {followed}"
            f"  at {player.position:6.1f} s"
        )
        sys.stdout.flush()
        if t >= args.minutes * 60:
            app.quit()

    player.play_from(0.0)
    loop_timer = QTimer(interval=500, timeout=keep_playing)
    loop_timer.start()
    report_timer = QTimer(interval=round(args.every * 1000), timeout=report)
    report_timer.start()
    report()
    app.exec()
    player.stop()
    win._closing = True  # no questions: nothing was edited
    win.close()

    failures = []
    warm = [s for s in samples if s[0] >= 60] or samples
    growth = samples[-1][1] - warm[0][1]
    if growth > args.max_growth_mb:
        failures.append(f"memory grew {growth:.1f} MB after the first minute")
    if samples[-1][2] < samples[0][2] - 1000:
        failures.append(f"None lost {samples[0][2] - samples[-1][2]} references")
    expected_rows = len(segments) * (args.minutes * 60 / track.duration) / 2
    if followed < expected_rows:
        failures.append(f"followed only {followed} rows (expected at least {expected_rows:.0f})")
    print(
        f"\n{args.minutes:g} min: RSS {samples[0][1]:.1f} -> {samples[-1][1]:.1f} MB "
        f"(after the first minute {growth:+.1f} MB), None refs {samples[0][2]} -> "
        f"{samples[-1][2]}, {followed} rows followed"
    )
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between reports")
    parser.add_argument("--media-minutes", type=float, default=3.0)
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="murmur-soak-") as work:
        command = [sys.executable, "-m", "benchmarks.soak_window", "--child", "--work", work]
        command += [a for a in (argv if argv is not None else sys.argv[1:])]
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        log = []
        for line in proc.stdout:
            log.append(line)
            if "propagateSizeHints" not in line:
                print(line, end="")
        code = proc.wait()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    fatal = [line.strip() for line in log if any(f in line for f in FATAL)]
    if code != 0 or fatal:
        print(f"FAIL: the window exited with {code}" + (f": {fatal[0]}" if fatal else ""))
        return 1
    print("soak passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
