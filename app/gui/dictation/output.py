"""Putting dictated text where the cursor is, in whatever application has focus.

- ``paste`` (default): the text goes on the clipboard, the paste keystroke
  (Ctrl+V; Cmd+V on macOS) is sent, and after a short delay (so the target has
  read it) the previous clipboard comes back;
- ``type``: the text is typed key by key (for applications that block pasting);
- ``copy``: the text is only put on the clipboard.

Every text also goes into :class:`RecentDictations`, so a paste that landed in
the wrong window can be recovered. Runs on the GUI thread (the clipboard is
Qt's); pynput's keyboard controller only sends the keystrokes.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from PySide6.QtCore import QMimeData, QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication

from app.core.store.dictations import RecentDictations

log = logging.getLogger(__name__)

RESTORE_DELAY_MS = 400
"""How long the dictated text stays on the clipboard before the old one comes back."""

ENDINGS = {"none": "", "space": " ", "newline": "\n"}


def with_ending(text: str, ending: str) -> str:
    return text + ENDINGS.get(ending, "")


def _copy_mime(source: QMimeData | None) -> QMimeData | None:
    """A deep copy of clipboard data (the clipboard owns the original)."""
    if source is None or not source.formats():
        return None
    copy = QMimeData()
    for fmt in source.formats():
        copy.setData(fmt, source.data(fmt))
    return copy


class _Keys:
    """pynput's keyboard controller, made on first use (needs a display on X11)."""

    def __init__(self) -> None:
        self._controller: Any = None

    def controller(self) -> Any:
        if self._controller is None:
            from pynput.keyboard import Controller

            self._controller = Controller()
        return self._controller

    def paste(self) -> None:
        from pynput.keyboard import Key

        keys = self.controller()
        modifier = Key.cmd if sys.platform == "darwin" else Key.ctrl
        with keys.pressed(modifier):
            keys.press("v")
            keys.release("v")

    def type(self, text: str) -> None:
        self.controller().type(text)


class TextOutput(QObject):
    """Delivers dictated text by the chosen method; ``delivered(text, method)`` after."""

    delivered = Signal(str, str)
    failed = Signal(str)  # one line

    def __init__(
        self,
        recent: RecentDictations | None = None,
        parent: QObject | None = None,
        restore_delay_ms: int = RESTORE_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self.recent = recent if recent is not None else RecentDictations()
        self.restore_delay_ms = restore_delay_ms
        self.keys = _Keys()
        self._saved: QMimeData | None = None
        self._saved_pending = False
        self._restore_timer = QTimer(self)
        self._restore_timer.setSingleShot(True)
        self._restore_timer.timeout.connect(self.restore_clipboard)

    @property
    def restoring(self) -> bool:
        """True while the previous clipboard is waiting to come back."""
        return self._restore_timer.isActive()

    def deliver(self, text: str, method: str = "paste", ending: str = "none") -> None:
        text = text.strip()
        if not text:
            return
        out = with_ending(text, ending)
        self.recent.add(text, target=method)
        clipboard = QGuiApplication.clipboard()
        try:
            if method == "type":
                self.keys.type(out)
            elif method == "copy":
                clipboard.setText(out)
            else:
                if not self._saved_pending:  # a paste still pending keeps the oldest
                    self._saved = _copy_mime(clipboard.mimeData())
                    self._saved_pending = True
                clipboard.setText(out)
                self.keys.paste()
                self._restore_timer.start(self.restore_delay_ms)
        except Exception as exc:  # no display, no accessibility permission (macOS)
            log.warning("dictation output failed: %s", exc)
            clipboard.setText(out)
            self.failed.emit(
                f"Could not {method} into the focused application ({exc}); "
                "the text is on the clipboard and in Recent dictations."
            )
            return
        self.delivered.emit(text, method)

    def restore_clipboard(self) -> None:
        """Give the clipboard back what it held before the paste."""
        self._restore_timer.stop()
        if not self._saved_pending:
            return
        self._saved_pending = False
        saved, self._saved = self._saved, None
        clipboard = QGuiApplication.clipboard()
        if saved is None:
            clipboard.clear()
        else:
            clipboard.setMimeData(saved)
