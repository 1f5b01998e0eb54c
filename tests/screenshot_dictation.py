"""Screenshots of recording and dictation in the real app, under Xvfb.

    python tests/screenshot_dictation.py OUT_DIR [--dark]

Writes ``recording.png`` (the main window while recording, with the recording panel's
level meter and elapsed time) and ``dictation.png`` (the dictation view after held-out
speech was dictated through it). The microphone is the capture core's stream-factory
seam playing espeak-ng speech at real pace; the words come from the listener model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.xvfb import virtual_display  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    parser.add_argument("--dark", action="store_true", help="use the dark palette")
    parser.add_argument("--size", default="1280x800", help="window size, WxH")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="murmur-shot-"))
    os.environ["MURMUR_CONFIG_DIR"] = str(work / "config")
    os.environ["MURMUR_DATA_DIR"] = str(work / "data")
    try:
        if os.environ.get("DISPLAY"):
            return _shoot(args, work, width, height)
        with virtual_display("1600x1000x24") as display:  # a free display number
            os.environ["DISPLAY"] = display
            return _shoot(args, work, width, height)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _shoot(args: argparse.Namespace, work: Path, width: int, height: int) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.audio.capture import InputDevice
    from app.core.settings import Settings
    from app.gui.app import create_application
    from app.gui.main_window import MainWindow
    from tests.fake_stream import FileStreamFactory
    from tests.listener_speech import HELD_OUT_SEED, LISTENER, make_track

    track = make_track(work / "speech", HELD_OUT_SEED + 5, [1.2, 1.0, 1.3], 3, 6)
    mic = InputDevice(0, "Built-in Microphone", 1, 16000, True, "ALSA")
    app = create_application([sys.argv[0]])
    if args.dark:
        from app.gui.theme import apply_theme

        apply_theme(app, dark=True)
    window = MainWindow(settings=Settings(model=str(LISTENER), device="cpu", precision="fp32"))
    window.resize(width, height)
    window.show()
    panel = window.recording_panel
    panel.list_devices = lambda *a: [mic]
    panel.refresh_devices()
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"code": 1}
    started = time.monotonic()

    def save(name: str) -> bool:
        QApplication.processEvents()
        ok = window.grab().save(str(args.out / name))
        print(f"{'wrote' if ok else 'could not write'} {args.out / name}")
        return ok

    def record() -> None:
        panel.stream_factory = FileStreamFactory(track.samples, 16000)
        panel.start()
        QTimer.singleShot(3300, shoot_recording)

    def shoot_recording() -> None:
        save("recording.png")
        panel.stop()
        QTimer.singleShot(300, dictate)

    def dictate() -> None:
        window.dictation_session.stream_factory = FileStreamFactory(track.samples, 16000)
        window.show_dictation()
        window.dictation_view.toggle()
        QTimer.singleShot(200, poll_dictation)

    def poll_dictation() -> None:
        view = window.dictation_view
        done = len(view.utterances) >= len(track.sentences) - 1
        if done or time.monotonic() - started > 120:
            ok = save("dictation.png")
            result["code"] = 0 if ok and done else 1
            window.confirm_stop_work = lambda running: True  # type: ignore[method-assign]
            window.dictation_session.cancel()
            window.close()
            app.quit()
            return
        QTimer.singleShot(200, poll_dictation)

    QTimer.singleShot(1500, record)
    app.exec()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
