"""Screenshot of the real app after it transcribed a speech file.

    python tests/screenshot.py OUT.png [--model PATH] [--dark] [--size 1280x800]

Starts ``Xvfb :99`` when no DISPLAY is set (QT_QPA_PLATFORM=xcb), builds the tiny
test model in a temporary folder unless ``--model`` is given, queues a generated
speech file, waits until it is transcribed, selects it and saves the window.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def start_xvfb(display: str = ":99", size: str = "1600x1000x24") -> subprocess.Popen[bytes] | None:
    """Start a virtual X server if there is no display; returns it (or None)."""
    if os.environ.get("DISPLAY"):
        return None
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("No DISPLAY and no Xvfb: install xvfb or set DISPLAY")
    proc = subprocess.Popen([xvfb, display, "-screen", "0", size, "-nolisten", "tcp"])
    deadline = time.monotonic() + 10
    socket = Path(f"/tmp/.X11-unix/X{display.lstrip(':')}")
    while not socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"Xvfb {display} did not start")
        time.sleep(0.1)
    os.environ["DISPLAY"] = display
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--model", help="model folder (default: build the tiny test model)")
    parser.add_argument("--dark", action="store_true", help="use the dark palette")
    parser.add_argument("--size", default="1280x800", help="window size, WxH")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    xvfb = start_xvfb()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="murmur-shot-"))
    os.environ["MURMUR_CONFIG_DIR"] = str(work / "config")
    try:
        return _shoot(args, work, width, height)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)


def _shoot(args: argparse.Namespace, work: Path, width: int, height: int) -> int:
    from tests.speech import SENTENCES, make_track

    model = args.model
    if not model:
        from tests.tiny_model import build_tiny_model

        model = str(build_tiny_model(work / "tiny-model"))
    media = work / "media"
    track = make_track(SENTENCES[:4], [0.7, 0.9, 0.6], media, name="team-meeting")
    second = make_track(SENTENCES[4:6], [0.8], media, name="interview-part-2")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.settings import Settings
    from app.gui.app import create_application
    from app.gui.main_window import MainWindow
    from app.gui.queue_model import JobState

    app = create_application([sys.argv[0]])
    if args.dark:
        from app.gui.theme import apply_theme

        apply_theme(app, dark=True)
    window = MainWindow(settings=Settings(model=model, device="cpu"))
    window.resize(width, height)
    window.show()
    items = window.add_files([str(track.path), str(second.path)])
    started = time.monotonic()
    result = {"code": 1}

    def poll() -> None:
        done = all(i.state.finished for i in items)
        if done or time.monotonic() - started > args.timeout:
            if not done or items[0].state is not JobState.DONE:
                print(f"not finished: {[i.status_text() for i in items]}", file=sys.stderr)
            window.queue_view.select_item(items[0].id)
            QTimer.singleShot(500, shoot_when_drawn)
            return
        QTimer.singleShot(200, poll)

    def shoot_when_drawn() -> None:  # the waveform is prepared in the background
        timeline = window.editor.timeline
        if timeline.status == "Preparing waveform…" and time.monotonic() - started < args.timeout:
            QTimer.singleShot(200, shoot_when_drawn)
            return
        shoot()

    def shoot() -> None:
        QApplication.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(args.out))
        print(f"{'wrote' if ok else 'could not write'} {args.out}")
        result["code"] = 0 if ok and items[0].state is JobState.DONE else 1
        window.confirm_stop_work = lambda running: True  # type: ignore[method-assign]
        window.close()
        app.quit()

    QTimer.singleShot(200, poll)
    app.exec()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
