"""Uncaught exceptions and the log folder.

A bug must not make the window vanish without a word. :class:`CrashHandler` replaces
``sys.excepthook`` (the GUI thread: PySide6 hands an exception escaping a slot to it) and
``threading.excepthook`` (any other Python thread): the traceback goes to the log, and a
dialog on the GUI thread says what happened in one line and where the log is, with a
button that opens the log folder (also Help › Show logs).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app import APP_NAME

log = logging.getLogger(__name__)


def open_log_folder() -> bool:
    """Open the log folder in the file manager (made if missing). True when it opened."""
    from app.core.settings import log_dir

    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("can't make the log folder %s: %s", folder, exc)
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))


def crash_line(exc_type: type[BaseException], exc: BaseException | None) -> str:
    """One line about an exception: "ValueError: the reason"."""
    text = str(exc).strip().splitlines() if exc is not None else []
    return f"{exc_type.__name__}: {text[0]}" if text else exc_type.__name__


class CrashDialog(QMessageBox):
    """What went wrong in one line, the log's path, and a button to the log folder."""

    def __init__(self, message: str, log_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Critical)
        self.setWindowTitle(f"{APP_NAME}: unexpected error")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(f"Something went wrong: {message}")
        self.setInformativeText(
            f"{APP_NAME} keeps running, but save your work. The details were written "
            f"to the log:\n{log_path}"
        )
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_path = log_path
        self.show_logs_button = self.addButton("Show logs", QMessageBox.ButtonRole.ActionRole)
        self.show_logs_button.clicked.connect(open_log_folder)  # and closes the box
        self.close_button = self.addButton(QMessageBox.StandardButton.Close)
        self.setDefaultButton(self.close_button)
        self.setEscapeButton(self.close_button)


class CrashHandler(QObject):
    """Installs the exception hooks; shows at most one crash dialog at a time."""

    crashed = Signal(str)  # the one-line message, delivered on the GUI thread

    def __init__(self, log_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.dialog: CrashDialog | None = None
        self.count = 0  # uncaught exceptions seen
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self.crashed.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> CrashHandler:
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook
        return self

    def uninstall(self) -> None:
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_hook
        if threading.excepthook == self._thread_excepthook:
            threading.excepthook = self._previous_thread_hook

    # -- hooks (any thread) ----------------------------------------------------------
    def _excepthook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_hook(exc_type, exc, tb)
            return
        self._report("Uncaught exception", exc_type, exc, tb)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        exc = args.exc_value if args.exc_value is not None else args.exc_type()
        self._report(f"Uncaught exception in {name}", args.exc_type, exc, args.exc_traceback)

    def _report(
        self,
        what: str,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        self.count += 1
        try:
            log.critical(what, exc_info=(exc_type, exc, tb))
        except Exception:  # the log must never make it worse
            traceback.print_exception(exc_type, exc, tb)
        if sys.stderr is not None:  # a terminal still sees it
            traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
        if QApplication.instance() is not None:
            self.crashed.emit(crash_line(exc_type, exc))

    # -- GUI thread ---------------------------------------------------------------------
    @Slot(str)
    def _show(self, message: str) -> None:
        if self.dialog is not None:  # one at a time; the others are in the log
            return
        self.dialog = CrashDialog(message, self.log_path, QApplication.activeWindow())
        try:
            self.dialog.exec()
        finally:
            self.dialog.deleteLater()
            self.dialog = None


def install_crash_handler(log_path: Path, parent: QObject | None = None) -> CrashHandler:
    """Route uncaught exceptions of every thread to the log and a dialog."""
    return CrashHandler(log_path, parent).install()
