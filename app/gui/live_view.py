"""A read-only table of the segments that have arrived while a file is transcribing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

if TYPE_CHECKING:
    from app.core.transcript import Segment


def format_time(seconds: float) -> str:
    """h:mm:ss.s, or m:ss.s under an hour."""
    tenths = round(max(0.0, seconds) * 10)
    h, rest = divmod(tenths, 36000)
    m, rest = divmod(rest, 600)
    s, t = divmod(rest, 10)
    return f"{h}:{m:02d}:{s:02d}.{t}" if h else f"{m}:{s:02d}.{t}"


class LiveSegmentsView(QTableWidget):
    """Start, end and text of each segment so far, in time order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setObjectName("liveSegments")
        self.setAccessibleName("Segments transcribed so far")
        self.setHorizontalHeaderLabels(["Start", "End", "Text"])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setWordWrap(True)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    def set_segments(self, segments: Sequence[Segment]) -> None:
        ordered = sorted(segments, key=lambda s: (s.start, s.end))
        self.setRowCount(len(ordered))
        for row, seg in enumerate(ordered):
            self.setItem(row, 0, QTableWidgetItem(format_time(seg.start)))
            self.setItem(row, 1, QTableWidgetItem(format_time(seg.end)))
            self.setItem(row, 2, QTableWidgetItem(seg.text))
        if ordered:
            self.scrollToBottom()
