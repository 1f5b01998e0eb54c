"""Run the real app and quit it, as a user would, while a given stage is under way.

    python -m tests.gui.quit_at_stage STAGE [murmur arguments...]

STAGE is one of ``decoding``, ``detecting speech``, ``loading model``, ``transcribing``.
The app starts exactly as ``python -m app ARGS`` does. When the stage is under way (at
its ``CHECKS_BEFORE_QUIT``-th cancellation check, so work has begun; for the model, as
the weights start to load) the hook triggers File › Quit (Ctrl+Q) on the GUI thread,
answers the "Stop and quit?" question with Yes by clicking the button, and only then
lets the stage go on. So the quit lands inside the stage every time, with no timing
luck. Each step is announced on stderr (``quit-hook: ...``) for the test to check.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

STAGES = ("decoding", "detecting speech", "loading model", "transcribing")
CHECKS_BEFORE_QUIT = 2
WAIT_S = 60.0


def say(text: str) -> None:
    sys.stderr.write(f"quit-hook: {text}\n")
    sys.stderr.flush()


class Quitter(QObject):
    """Lives in the GUI thread; quits the main window when asked from any thread."""

    requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.answered = threading.Event()  # the question was answered Yes
        self.requested.connect(self._quit)
        self._timer = QTimer(self)
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._answer)

    def _quit(self) -> None:
        from app.gui.main_window import MainWindow

        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows:
            say("no main window to quit")
            self.answered.set()
            return
        self._timer.start()  # the question is modal: answer it from inside its loop
        say("Ctrl+Q")
        windows[0].action_quit.trigger()
        say("window closed")

    def _answer(self) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        self._timer.stop()
        yes = box.button(QMessageBox.StandardButton.Yes)
        say(f"question: {box.text()!r}; answering Yes")
        yes.click()
        self.answered.set()


class CheckHook:
    """A cancel event stand-in that quits the app at its n-th check, then reads the real one."""

    def __init__(self, real: threading.Event | None, quit_now: Callable[[], None]) -> None:
        self.real = real
        self._quit_now = quit_now
        self._checks = 0
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        with self._lock:
            self._checks += 1
            fire = self._checks == CHECKS_BEFORE_QUIT
        if fire:
            self._quit_now()
        return self.real is not None and self.real.is_set()

    def set(self) -> None:
        if self.real is not None:
            self.real.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.real.wait(timeout) if self.real is not None else False


def install(stage: str) -> Quitter:
    """Patch the pipeline so that ``stage`` quits the app once it is under way."""
    import app.core.asr.engine as engine_module
    import app.core.audio.stretches as stretches

    quitter = Quitter()
    fired = threading.Event()

    def quit_now() -> None:
        if fired.is_set():
            return
        fired.set()
        say(f"{stage} under way: quitting")
        quitter.requested.emit()
        if not quitter.answered.wait(WAIT_S):
            say("the question was never answered")
        say(f"{stage} goes on after the answer")

    def with_hook(func: Callable[..., Any], cancel_at: int | None) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if cancel_at is None:
                quit_now()
            elif "cancel" in kwargs:
                kwargs["cancel"] = CheckHook(kwargs["cancel"], quit_now)
            else:
                args = (
                    *args[:cancel_at],
                    CheckHook(args[cancel_at], quit_now),
                    *args[cancel_at + 1 :],
                )
            return func(*args, **kwargs)

        return wrapper

    # decoding and speech detection run on the pipeline's producer thread
    if stage == "decoding":
        stretches.decode_audio = with_hook(stretches.decode_audio, 2)
    elif stage == "detecting speech":
        stretches.detect_speech = with_hook(stretches.detect_speech, 3)
    elif stage == "loading model":
        engine_module.load_model = with_hook(engine_module.load_model, None)
    elif stage == "transcribing":
        engine_module.Engine.transcribe_decoded = with_hook(
            engine_module.Engine.transcribe_decoded, 2
        )
    else:
        raise SystemExit(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
    return quitter


def main(argv: list[str]) -> int:
    stage, app_args = argv[0], argv[1:]
    from app.gui.app import create_application

    create_application()  # the QApplication first, so the Quitter lives in its thread
    quitter = install(stage)
    from app.__main__ import main as app_main

    code = app_main(app_args)
    say(f"exit {code}; answered={quitter.answered.is_set()}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
