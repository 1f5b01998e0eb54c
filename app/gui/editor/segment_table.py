"""The segment table: a Qt model over a core Transcript, its delegate and view."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QPainter,
    QPalette,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemDelegate,
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from app.core.speakers.colours import speaker_colours
from app.core.transcript import EditError, Transcript, TranscriptChange
from app.core.transcript.edits import SetText, SetTimes, speakers_of
from app.gui.editor.timecode import format_time, parse_time

if TYPE_CHECKING:
    from app.gui.document import TranscriptDocument

COL_START, COL_END, COL_SPEAKER, COL_TEXT = 0, 1, 2, 3
HEADERS = ("Start", "End", "Speaker", "Text")
AnyIndex = QModelIndex | QPersistentModelIndex
SNAP_SECONDS = 0.0005  # half of the shown millisecond
MATCH_BACKGROUND = QColor("#ffd54f")  # the find bar's current match, in light and dark themes
MATCH_FOREGROUND = QColor("#000000")
PROBLEM_BACKGROUND = QColor(255, 152, 0, 70)  # a cue over the subtitle limits, in both themes
ProblemSource = Callable[[int], tuple[str, ...]]  # row -> what is wrong with it ("" none)


class SegmentTableModel(QAbstractTableModel):
    """Rows are segments; columns start, end, text. Edits go through the document."""

    editRejected = Signal(str)  # a one-line reason, for the editor's status label

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._doc: TranscriptDocument | None = None
        self._current: int | None = None  # the row being played
        self._problems: ProblemSource | None = None
        self._colours: tuple[object, dict[str, str]] = (None, {})  # (transcript state, colours)
        self.destroyed.connect(self._unsubscriber())

    def _unsubscriber(self) -> Callable[..., None]:
        """Stop listening to the transcript when this model goes away (it may outlive us)."""
        model_ref = self

        def unsubscribe(*_args: object) -> None:
            doc = model_ref._doc
            if doc is not None:
                doc.transcript.unsubscribe(model_ref._before_change)
                doc.transcript.unsubscribe(model_ref._on_change)

        return unsubscribe

    # -- document ----------------------------------------------------------------
    @property
    def document(self) -> TranscriptDocument | None:
        return self._doc

    def _transcript(self) -> Transcript | None:
        return self._doc.transcript if self._doc is not None else None

    def set_document(self, doc: TranscriptDocument | None) -> None:
        self.beginResetModel()
        if self._doc is not None:
            self._doc.transcript.unsubscribe(self._before_change)
            self._doc.transcript.unsubscribe(self._on_change)
        self._doc = doc
        self._current = None
        if doc is not None:
            doc.transcript.subscribe(self._before_change, before=True)
            doc.transcript.subscribe(self._on_change)
        self.endResetModel()

    def _before_change(self, change: TranscriptChange) -> None:
        if change.kind == "inserted":
            self.beginInsertRows(QModelIndex(), change.first_row, change.last_row)
        elif change.kind == "removed":
            self.beginRemoveRows(QModelIndex(), change.first_row, change.last_row)
        elif change.kind == "reset":
            self.beginResetModel()

    def _on_change(self, change: TranscriptChange) -> None:
        if change.kind == "changed":
            self.dataChanged.emit(
                self.index(change.first_row, 0), self.index(change.last_row, len(HEADERS) - 1)
            )
        elif change.kind == "inserted":
            self._shift_current(change.first_row, change.last_row - change.first_row + 1)
            self.endInsertRows()
        elif change.kind == "removed":
            self._current = None
            self.endRemoveRows()
        else:
            self._current = None
            self.endResetModel()

    def _shift_current(self, first: int, count: int) -> None:
        if self._current is not None and self._current >= first:
            self._current += count

    # -- playback highlight -----------------------------------------------------------
    @property
    def current_row(self) -> int | None:
        return self._current

    def set_current_row(self, row: int | None) -> None:
        if row is not None and not 0 <= row < self.rowCount():
            row = None
        if row == self._current:
            return
        old, self._current = self._current, row
        for r in (old, row):
            if r is not None and r < self.rowCount():
                self.dataChanged.emit(self.index(r, 0), self.index(r, len(HEADERS) - 1))

    # -- subtitle checks ----------------------------------------------------------------
    def set_problem_source(self, source: ProblemSource | None) -> None:
        """Mark the rows for which ``source(row)`` names problems (see subtitle_tools)."""
        self._problems = source
        self.refresh_rows()

    def problems(self, row: int) -> tuple[str, ...]:
        return self._problems(row) if self._problems is not None else ()

    def refresh_rows(self, first: int = 0, last: int = -1) -> None:
        """Repaint rows ``first``..``last`` (-1: to the end), e.g. after the limits changed."""
        last = self.rowCount() - 1 if last < 0 else last
        if 0 <= first <= last:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(HEADERS) - 1))
            self.headerDataChanged.emit(Qt.Orientation.Vertical, first, last)

    # -- Qt model API ------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        transcript = self._transcript()
        return 0 if parent.isValid() or transcript is None else len(transcript)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Vertical and role in _PROBLEM_HEADER_ROLES:
            problems = self.problems(section)
            if not problems:
                return None
            if role == Qt.ItemDataRole.DecorationRole:
                return _warning_icon()
            return "\n".join(problems)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return str(section + 1)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.column() == COL_SPEAKER:  # changed through the speaker tools (speakers.py)
            return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        transcript = self._transcript()
        if transcript is None or not index.isValid() or index.row() >= len(transcript):
            return None
        seg = transcript[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == COL_START:
                return format_time(seg.start)
            if col == COL_END:
                return format_time(seg.end)
            if col == COL_SPEAKER:
                return seg.speaker or ""
            return seg.text
        problems = self.problems(index.row()) if role in _PROBLEM_ROLES else ()
        if problems and role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(problems)
        if problems and role == Qt.ItemDataRole.AccessibleDescriptionRole:
            return "; ".join(problems)
        if problems and role == Qt.ItemDataRole.BackgroundRole and index.row() != self._current:
            return PROBLEM_BACKGROUND
        if role == Qt.ItemDataRole.DecorationRole and col == COL_SPEAKER and seg.speaker:
            return QColor(self.speaker_colours().get(seg.speaker, "#888888"))  # a swatch
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_START, COL_END):
            return "Double-click to play from the start of this segment; F2 to edit the time"
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_START, COL_END):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if index.row() == self._current:
            if role == Qt.ItemDataRole.BackgroundRole:
                color = QColor(QGuiApplication.palette().color(QPalette.ColorRole.Highlight))
                color.setAlpha(70)
                return color
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{HEADERS[col]}: {self.data(index)}"
        return None

    def speaker_colours(self) -> dict[str, str]:
        """Each speaker's colour (app.core.speakers.colours), kept until the transcript changes."""
        transcript = self._transcript()
        key = (id(transcript), transcript.revision if transcript is not None else -1)
        if self._colours[0] != key:
            colours = speaker_colours(speakers_of(transcript)) if transcript is not None else {}
            self._colours = (key, colours)
        return self._colours[1]

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        doc = self._doc
        if doc is None or role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row, col = index.row(), index.column()
        if row >= len(doc.transcript):
            return False
        seg = doc.transcript[row]
        try:
            if col == COL_TEXT:
                text = str(value).strip()
                if text == seg.text:
                    return True
                doc.push(SetText(row, text))
            else:
                seconds = self._snap(row, parse_time(str(value)))
                start, end = (seconds, seg.end) if col == COL_START else (seg.start, seconds)
                if (start, end) == (seg.start, seg.end):
                    return True
                doc.push(SetTimes(row, start, end))
        except EditError as exc:
            self.editRejected.emit(str(exc))
            return False
        return True

    def _snap(self, row: int, seconds: float) -> float:
        """A typed time that equals a neighbour's boundary *as displayed* snaps to it.

        Times show milliseconds, so typing the previous segment's shown end may
        differ from the stored one by < 0.5 ms; that must not count as an overlap.
        """
        transcript = self._transcript()
        if transcript is None:
            return seconds
        bounds = [transcript.meta.duration] if transcript.meta.duration > 0 else []
        if row > 0:
            bounds.append(transcript[row - 1].end)
        if row + 1 < len(transcript):
            bounds.append(transcript[row + 1].start)
        for bound in bounds:
            if abs(seconds - bound) < SNAP_SECONDS:
                return bound
        return seconds


_PROBLEM_ROLES = (
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.AccessibleDescriptionRole,
    Qt.ItemDataRole.BackgroundRole,
)
_PROBLEM_HEADER_ROLES = (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole)


@functools.cache
def _warning_icon() -> QIcon:
    return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)


class SegmentDelegate(QStyledItemDelegate):
    """Line-edit editors; remembers the open editor so Split can read its cursor.

    It also paints the find bar's current match (row, start, end) inside its text cell.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._active: QLineEdit | None = None
        self._active_row = -1
        self._active_column = -1
        self.highlight: tuple[int, int, int] | None = None

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        match = self.highlight
        if match is None or index.column() != COL_TEXT or index.row() != match[0]:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        widget = opt.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        doc = QTextDocument()
        doc.setDocumentMargin(2)
        doc.setDefaultFont(opt.font)  # type: ignore[attr-defined]
        doc.setPlainText(text)
        doc.setTextWidth(rect.width())
        cursor = QTextCursor(doc)
        cursor.setPosition(max(0, min(match[1], len(text))))
        cursor.setPosition(max(0, min(match[2], len(text))), QTextCursor.MoveMode.KeepAnchor)
        mark = QTextCharFormat()
        mark.setBackground(MATCH_BACKGROUND)
        mark.setForeground(MATCH_FOREGROUND)
        cursor.mergeCharFormat(mark)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, opt.palette.color(role))  # type: ignore[attr-defined]
        painter.save()
        top = rect.top() + max(0.0, (rect.height() - doc.size().height()) / 2)
        painter.translate(rect.left(), top)
        painter.setClipRect(0, 0, rect.width(), rect.height())
        doc.documentLayout().draw(painter, context)
        painter.restore()

    def createEditor(
        self, parent: QWidget, option: QStyleOptionViewItem, index: AnyIndex
    ) -> QWidget:
        editor = QLineEdit(parent)
        editor.setFrame(False)
        row, col = index.row(), index.column()
        if col == COL_TEXT:
            editor.setAccessibleName(f"Text of segment {row + 1}")
        else:
            editor.setAccessibleName(f"{HEADERS[col]} time of segment {row + 1}")
            editor.setPlaceholderText("H:MM:SS.mmm")
        self._active, self._active_row, self._active_column = editor, row, col
        return editor

    def destroyEditor(self, editor: QWidget, index: AnyIndex) -> None:
        if editor is self._active:
            self._active, self._active_row, self._active_column = None, -1, -1
        super().destroyEditor(editor, index)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: AnyIndex) -> None:
        if editor.property("murmur_discarded"):
            return
        super().setModelData(editor, model, index)

    def active_text_editor(self) -> tuple[QLineEdit | None, int]:
        """The open text-cell editor and its row, or (None, -1)."""
        if self._active is not None and self._active_column == COL_TEXT:
            return self._active, self._active_row
        return None, -1

    def discard(self, editor: QWidget) -> None:
        """Close ``editor`` without writing its content to the model."""
        editor.setProperty("murmur_discarded", True)
        self.closeEditor.emit(editor, QAbstractItemDelegate.EndEditHint.NoHint)

    def commit_and_close(self) -> None:
        """Write the open editor (if any) to the model and close it."""
        editor = self._active
        if editor is not None:
            self.commitData.emit(editor)
            self.closeEditor.emit(editor, QAbstractItemDelegate.EndEditHint.NoHint)


class SegmentTableView(QTableView):
    """Table of segments. Double-click on a time plays; F2 or typing edits it."""

    playRequested = Signal(int)  # row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Segments")
        self.setAccessibleDescription("Start time, end time, speaker and text of each segment")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # several rows at once (Shift/Ctrl): a speaker is given to all of them (speakers.py)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.setTabKeyNavigation(False)
        header = self.horizontalHeader()
        # Times always have the shape H:MM:SS.mmm: size those columns once. Sizing them
        # (or the rows) from their contents makes Qt measure every row on every change,
        # which with 10,000 segments is seconds per edit or playback step (issue #16).
        width = self.fontMetrics().horizontalAdvance("00:00:00.000") + 24
        for col in (COL_START, COL_END):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        # Rows get the height of their wrapped text when they are on screen (fit_visible_rows).
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self.fit_visible_rows)
        self.verticalScrollBar().valueChanged.connect(self._fit_timer.start)
        header.sectionResized.connect(self._fit_timer.start)
        for corner in self.findChildren(QAbstractButton):  # Qt's select-all corner button
            corner.setAccessibleName("Select all segments")
        self.segment_delegate = SegmentDelegate(self)
        self.setItemDelegate(self.segment_delegate)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        old = self.model()
        if old is not None:
            for signal in self._fit_signals(old):
                signal.disconnect(self._fit_timer.start)
        super().setModel(model)
        if model is not None:
            for signal in self._fit_signals(model):
                signal.connect(self._fit_timer.start)
        self._fit_timer.start()

    @staticmethod
    def _fit_signals(model: QAbstractItemModel) -> tuple[Any, ...]:
        return (
            model.dataChanged,
            model.rowsInserted,
            model.rowsRemoved,
            model.modelReset,
            model.layoutChanged,
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_timer.start()

    def fit_visible_rows(self) -> None:
        """Give the rows on screen the height of their wrapped text.

        Only what is visible is measured, so the cost of a change or a scroll step does
        not grow with the transcript. Rows off screen are measured when they scroll in.
        """
        model = self.model()
        if model is None or model.rowCount() == 0:
            return
        for _ in range(4):  # heights change what fits on screen: repeat until stable
            first = self.rowAt(0)
            if first < 0:
                return
            last = self.rowAt(self.viewport().height() - 1)
            last = model.rowCount() - 1 if last < 0 else last
            changed = False
            for row in range(first, last + 1):
                height = self.rowHeight(row)
                self.resizeRowToContents(row)
                changed = changed or self.rowHeight(row) != height
            if not changed:
                return

    def is_editing(self) -> bool:
        return self.state() == QAbstractItemView.State.EditingState

    def current_row(self) -> int:
        """The selected row, or -1."""
        index = self.currentIndex()
        return index.row() if index.isValid() else -1

    def selected_rows(self) -> list[int]:
        """The selected rows, in order (Shift/Ctrl+click select several)."""
        model = self.selectionModel()
        return sorted({i.row() for i in model.selectedIndexes()}) if model is not None else []

    def select_row(self, row: int, column: int = COL_TEXT) -> None:
        model = self.model()
        if model is None or not 0 <= row < model.rowCount():
            return
        index = model.index(row, column)
        self.setCurrentIndex(index)
        self.scrollTo(index)

    def edit(  # type: ignore[override]
        self,
        index: AnyIndex,
        trigger: QAbstractItemView.EditTrigger | None = None,
        event: QEvent | None = None,
    ) -> bool:
        if trigger is None:  # the public edit(index) slot
            super().edit(index)
            return True
        if (
            trigger == QAbstractItemView.EditTrigger.DoubleClicked
            and index.isValid()
            and index.column() != COL_TEXT
        ):
            self.playRequested.emit(index.row())
            return False
        return super().edit(index, trigger, event)
