"""One line of text that is never cut off silently.

A message that does not fit is drawn with "…" at the end, the pointer becomes a hand,
and a click shows the whole text (and any details) in a window of its own, where it wraps
and can be selected and copied. ``text()`` is always the whole text.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QMessageBox, QSizePolicy, QWidget


def show_full_text(parent: QWidget | None, title: str, text: str, details: str = "") -> QMessageBox:
    """A small non-modal window with ``text`` in full (wrapped, selectable) and ``details``
    behind its "Show Details…" button. Returns it (shown)."""
    box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Close)
    if parent is not None:
        box.setParent(parent.window(), box.windowFlags())
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if details and details.strip() != text.strip():
        box.setDetailedText(details)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box


def single_line(text: str) -> str:
    return " ".join(text.split("\n"))


class ElidedLabel(QLabel):
    """A one-line label that elides what does not fit and shows it all on a click."""

    fullTextShown = Signal(str)

    def __init__(
        self, text: str = "", parent: QWidget | None = None, title: str = "", keep: int = 0
    ) -> None:
        """``title`` names the window of the full text; ``keep`` is the width (px) the
        label keeps before it elides when space is short."""
        super().__init__(text, parent)
        self.title = title or "Message"
        self._keep = keep
        self._details = ""
        self.full_text_box: QMessageBox | None = None  # the latest window it opened
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._update_cursor()

    # -- text ---------------------------------------------------------------------
    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_cursor()
        self.update()

    def set_details(self, details: str) -> None:
        """More text shown with the full message (e.g. a traceback), never on the label."""
        self._details = details
        self._update_cursor()

    def details(self) -> str:
        return self._details

    def is_elided(self) -> bool:
        """True when the label shows less than its text."""
        text = self.text()
        if "\n" in text:
            return True
        return self.fontMetrics().horizontalAdvance(text) > self.contentsRect().width()

    def shown_text(self) -> str:
        """What is drawn: the text, or its start with "…"."""
        return self.fontMetrics().elidedText(
            single_line(self.text()), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )

    def show_full_text(self) -> QMessageBox:
        self.full_text_box = show_full_text(self, self.title, self.text(), self._details)
        self.fullTextShown.emit(self.text())
        return self.full_text_box

    # -- Qt -----------------------------------------------------------------------
    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        least = max(self._keep, self.fontMetrics().horizontalAdvance("…") * 4)
        return QSize(min(hint.width(), least), hint.height())

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._update_cursor()

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.is_elided():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        align = self.alignment() | Qt.AlignmentFlag.AlignVCenter
        self.style().drawItemText(
            painter,
            self.contentsRect(),
            int(align.value if hasattr(align, "value") else align),
            self.palette(),
            self.isEnabled(),
            self.shown_text(),
            self.foregroundRole(),
        )
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._has_more():
            self.show_full_text()
        event.ignore()  # the card or bar under it still sees the click (selection)

    def _has_more(self) -> bool:
        return bool(self.text()) and (self.is_elided() or bool(self._details))

    def _update_cursor(self) -> None:
        if self._has_more():
            self.setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.unsetCursor()
