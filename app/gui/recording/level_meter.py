"""A horizontal level meter: RMS as a bar, peak as a tick, in dBFS from -60 to 0."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui.theme import ACCENT, DANGER

FLOOR_DB = -60.0


def to_fraction(amplitude: float) -> float:
    """An amplitude (0..1) on the meter's dB scale as 0..1."""
    if amplitude <= 0.0:
        return 0.0
    db = 20.0 * math.log10(min(amplitude, 1.0))
    return max(0.0, min(1.0, (db - FLOOR_DB) / -FLOOR_DB))


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rms = 0.0
        self.peak = 0.0
        self.setAccessibleName("Input level")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(160, 10)

    def set_level(self, rms: float, peak: float) -> None:
        self.rms, self.peak = float(rms), float(peak)
        self.setAccessibleDescription(f"{round(20 * math.log10(max(rms, 1e-6)))} dB")
        self.update()

    def reset(self) -> None:
        self.set_level(0.0, 0.0)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        radius = rect.height() / 2
        track = QColor(self.palette().text().color())
        track.setAlphaF(0.15)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track)
        painter.drawRoundedRect(rect, radius, radius)
        level = to_fraction(self.rms)
        if level > 0:
            bar = QRectF(
                rect.x(), rect.y(), max(rect.height(), rect.width() * level), rect.height()
            )
            painter.setBrush(QColor(DANGER if self.peak >= 0.99 else ACCENT))
            painter.drawRoundedRect(bar, radius, radius)
        peak = to_fraction(self.peak)
        if peak > 0:
            x = rect.x() + rect.width() * peak
            painter.setPen(QColor(DANGER if self.peak >= 0.99 else ACCENT))
            painter.drawLine(int(x), int(rect.top()), int(x), int(rect.bottom()))
        painter.end()
