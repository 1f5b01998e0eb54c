"""A label that shows a QIcon and draws it at paint time (so it follows the theme)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QIcon, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


class IconLabel(QWidget):
    """A fixed-size icon. Unlike ``QLabel.setPixmap`` it keeps the icon, not a picture of it."""

    def __init__(self, size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._icon = QIcon()
        self._size = size
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def icon(self) -> QIcon:
        return self._icon

    def set_icon(self, icon: QIcon) -> None:
        self._icon = icon
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(self._size, self._size)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._icon.isNull():
            return
        side = min(self._size, self.width(), self.height())
        rect = QRect(0, 0, side, side)
        rect.moveCenter(self.rect().center())
        painter = QPainter(self)
        self._icon.paint(painter, rect, mode=self._mode())
        painter.end()

    def _mode(self) -> QIcon.Mode:
        return QIcon.Mode.Normal if self.isEnabled() else QIcon.Mode.Disabled
