"""A read-only table of the segments that have arrived while a file is transcribing.

The rows live in :class:`LiveSegmentsModel`. A transcribed chunk is *inserted*
(``beginInsertRows``) at its place in time, so its arrival costs time in proportion to
the chunk, never to the transcript so far: an hour of speech is about 1,200 segments,
and rebuilding the table for each chunk made about two million table items (issue #16).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from app.core.speakers.colours import speaker_colour

if TYPE_CHECKING:
    from app.core.transcript import Segment

AnyIndex = QModelIndex | QPersistentModelIndex
HEADERS = ("Start", "End", "Speaker", "Text")
COL_START, COL_END, COL_SPEAKER, COL_TEXT = range(4)


def format_time(seconds: float) -> str:
    """h:mm:ss.s, or m:ss.s under an hour."""
    tenths = round(max(0.0, seconds) * 10)
    h, rest = divmod(tenths, 36000)
    m, rest = divmod(rest, 600)
    s, t = divmod(rest, 10)
    return f"{h}:{m:02d}:{s:02d}.{t}" if h else f"{m}:{s:02d}.{t}"


def _key(segment: Segment) -> tuple[float, float]:
    return (segment.start, segment.end)


class LiveSegmentsModel(QAbstractTableModel):
    """The segments so far, always in time order; chunks may arrive in any order."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._segments: list[Segment] = []
        self._keys: list[tuple[float, float]] = []  # (start, end) of each row, sorted
        self._speakers: dict[str, float] = {}  # speaker -> first start seen (for colours)

    # -- changes -----------------------------------------------------------------
    def set_segments(self, segments: Iterable[Segment]) -> None:
        """Show these segments instead (a new file): one reset."""
        self.beginResetModel()
        self._segments = sorted(segments, key=_key)
        self._keys = [_key(s) for s in self._segments]
        self._speakers = {}
        self._note_speakers(self._segments)
        self.endResetModel()

    def add_segments(self, segments: Iterable[Segment]) -> list[int]:
        """Insert a chunk's segments at their places in time; returns their rows.

        Each run of new segments that lands between the same two old rows is one
        ``beginInsertRows``/``endInsertRows``, so a chunk (whose segments are
        contiguous in time) is normally one insertion.
        """
        new = sorted(segments, key=_key)
        if not new:
            return []
        self._note_speakers(new)
        runs: list[tuple[int, list[Segment]]] = []  # (row in the old list, segments)
        for seg in new:
            at = bisect_right(self._keys, _key(seg))
            if runs and runs[-1][0] == at:
                runs[-1][1].append(seg)
            else:
                runs.append((at, [seg]))
        rows: list[int] = []
        shift = 0  # rows added by earlier runs
        for at, run in runs:
            first = at + shift
            last = first + len(run) - 1
            self.beginInsertRows(QModelIndex(), first, last)
            self._segments[first:first] = run
            self._keys[first:first] = [_key(s) for s in run]
            self.endInsertRows()
            rows.extend(range(first, last + 1))
            shift += len(run)
        return rows

    def segments(self) -> list[Segment]:
        return list(self._segments)

    def _note_speakers(self, segments: Iterable[Segment]) -> None:
        for seg in segments:
            if seg.speaker and seg.start < self._speakers.get(seg.speaker, float("inf")):
                self._speakers[seg.speaker] = seg.start

    @property
    def has_speakers(self) -> bool:
        return bool(self._speakers)

    def speaker_colour(self, speaker: str) -> str:
        """The colour the editor will give it: by order of first appearance."""
        first = self._speakers.get(speaker, float("inf"))
        return speaker_colour(sum(1 for t in self._speakers.values() if t < first))

    def segment(self, row: int) -> Segment:
        return self._segments[row]

    # -- Qt model API --------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._segments)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._segments):
            return None
        seg = self._segments[index.row()]
        col = index.column()
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_START, COL_END):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.DecorationRole and col == COL_SPEAKER and seg.speaker:
                return QColor(self.speaker_colour(seg.speaker))
            return None
        text = (
            format_time(seg.start)
            if col == COL_START
            else format_time(seg.end)
            if col == COL_END
            else (seg.speaker or "")
            if col == COL_SPEAKER
            else seg.text
        )
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{HEADERS[col]}: {text}"
        return text


class LiveSegmentsView(QTableView):
    """Start, end and text of each segment so far, in time order.

    It follows the end of the table while new rows come in, unless the user has
    scrolled away from the end.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("liveSegments")
        self.setAccessibleName("Segments transcribed so far")
        self.live_model = LiveSegmentsModel(self)
        self.setModel(self.live_model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setWordWrap(True)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        # Times have a fixed shape: size those columns once, not from every row.
        width = self.fontMetrics().horizontalAdvance("0:00:00.0") + 24
        for col in (COL_START, COL_END):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(col, width)
        header.resizeSection(COL_SPEAKER, self.fontMetrics().horizontalAdvance("Speaker 10") + 48)
        header.setSectionResizeMode(COL_TEXT, QHeaderView.ResizeMode.Stretch)
        self.setColumnHidden(COL_SPEAKER, True)  # until a segment with a speaker arrives

    def set_segments(self, segments: Sequence[Segment]) -> None:
        """Show another file's segments (a reset; for switching files, not per chunk)."""
        self.live_model.set_segments(segments)
        self.setColumnHidden(COL_SPEAKER, not self.live_model.has_speakers)
        self.scrollToBottom()

    def add_segments(self, segments: Sequence[Segment]) -> None:
        """A chunk arrived: insert its rows where they belong in time."""
        bar = self.verticalScrollBar()
        following = bar.value() >= bar.maximum()
        if self.live_model.add_segments(segments) and following:
            self.scrollToBottom()
        if self.live_model.has_speakers and self.isColumnHidden(COL_SPEAKER):
            self.setColumnHidden(COL_SPEAKER, False)

    def row_count(self) -> int:
        return self.live_model.rowCount()

    def row_texts(self) -> list[str]:
        return [seg.text for seg in self.live_model.segments()]
