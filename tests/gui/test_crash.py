"""An uncaught exception shows a dialog with the log's path (the traceback goes to the
log), and Help › Show logs opens the log folder."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core import startup
from app.gui.crash import CrashDialog, CrashHandler, install_crash_handler
from app.gui.main_window import MainWindow

pytestmark = [pytest.mark.gui, pytest.mark.qt_no_exception_capture]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What QDesktopServices.openUrl was asked to open (local paths)."""
    urls: list[str] = []

    def open_url(url: QUrl) -> bool:
        urls.append(url.toLocalFile())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(open_url))
    return urls


@pytest.fixture
def crash_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_root_logger: logging.Logger
) -> Iterator[CrashHandler]:
    """The app's log file and crash handler, as run_gui sets them up; undone afterwards."""
    monkeypatch.setenv("MURMUR_LOG_DIR", str(tmp_path / "logs"))
    handler = install_crash_handler(startup.setup_logging())
    yield handler
    handler.uninstall()


def answer_crash_dialog(act: Callable[[CrashDialog], None]) -> list[tuple[str, str]]:
    """When the crash dialog is up (in its own event loop), note what it says and let
    ``act`` answer it (the way tests/gui/test_prompts.py answers the prompts)."""
    seen: list[tuple[str, str]] = []

    def when_shown() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, CrashDialog) or not box.isVisible():
            QTimer.singleShot(10, when_shown)
            return
        seen.append((box.text(), box.informativeText()))
        act(box)

    QTimer.singleShot(0, when_shown)
    return seen


def close(dialog: CrashDialog) -> None:
    dialog.close_button.click()


def log_text(handler: CrashHandler) -> str:
    for h in logging.getLogger().handlers:
        h.flush()
    return handler.log_path.read_text(encoding="utf-8")


def test_exception_in_a_slot_shows_the_dialog_and_logs_the_traceback(
    qtbot: QtBot, crash_handler: CrashHandler, opened: list[str], tmp_path: Path
) -> None:
    def broken_slot() -> None:
        raise ValueError("the volume knob fell off")

    seen = answer_crash_dialog(lambda box: box.show_logs_button.click())
    QTimer.singleShot(0, broken_slot)
    qtbot.waitUntil(lambda: bool(seen) and crash_handler.dialog is None, timeout=10_000)
    [(text, informative)] = seen
    assert text == "Something went wrong: ValueError: the volume knob fell off"
    log_path = tmp_path / "logs" / "murmur.log"
    assert str(log_path) in informative
    assert opened == [str(tmp_path / "logs")]  # Show logs opened the folder (and closed it)
    log = log_text(crash_handler)
    assert "CRITICAL" in log and "Traceback (most recent call last)" in log
    assert "in broken_slot" in log and "ValueError: the volume knob fell off" in log
    assert crash_handler.count == 1


def test_exception_in_another_thread_shows_the_dialog_on_the_gui_thread(
    qtbot: QtBot, crash_handler: CrashHandler
) -> None:
    def worker() -> None:
        raise RuntimeError("disk on fire")

    threads: list[object] = []
    seen = answer_crash_dialog(lambda box: (threads.append(box.thread()), close(box)))
    thread = threading.Thread(target=worker, name="murmur-test-thread")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(seen) and crash_handler.dialog is None, timeout=10_000)
    assert threads == [QApplication.instance().thread()]  # type: ignore[union-attr]
    assert "RuntimeError: disk on fire" in seen[0][0]
    assert "Uncaught exception in murmur-test-thread" in log_text(crash_handler)


def test_several_errors_make_one_dialog(qtbot: QtBot, crash_handler: CrashHandler) -> None:
    def broken(n: int) -> None:
        raise KeyError(n)

    counts: list[int] = []

    def later(box: CrashDialog) -> None:  # close once all three have been reported
        if crash_handler.count < 3:
            QTimer.singleShot(10, lambda: later(box))
            return
        counts.append(crash_handler.count)
        close(box)

    seen = answer_crash_dialog(later)
    for n in range(3):
        QTimer.singleShot(0, lambda n=n: broken(n))
    qtbot.waitUntil(lambda: bool(counts) and crash_handler.dialog is None, timeout=10_000)
    qtbot.wait(50)
    assert seen == [("Something went wrong: KeyError: 0", seen[0][1])]  # one dialog
    assert crash_handler.dialog is None  # the others are only in the log
    assert log_text(crash_handler).count("KeyError") >= 3


def test_show_logs_in_the_help_menu_opens_the_log_folder(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[str]
) -> None:
    monkeypatch.setenv("MURMUR_LOG_DIR", str(tmp_path / "logs"))
    win = MainWindow(preload=False)
    qtbot.addWidget(win)
    [help_menu] = [a.menu() for a in win.menuBar().actions() if a.text() == "&Help"]
    assert win.action_show_logs in help_menu.actions()
    assert win.action_show_logs.text().replace("&", "") == "Show logs"
    win.action_show_logs.trigger()
    assert opened == [str(tmp_path / "logs")]
    assert (tmp_path / "logs").is_dir()  # made, so that there is something to open
    win.service.shutdown()
