"""Dialogs of the subtitle tools: shift, stretch, close gaps, and the fix preview.

Each dialog only collects values (or shows a plan); the tools in
:mod:`app.gui.editor.subtitle_tools` turn them into one undoable edit.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.transcript import EditError, Segment
from app.core.transcript.retime import FixPlan, linear_map
from app.core.transcript.timecode import format_time, parse_time


def _seconds_box(low: float, high: float, value: float, name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(3)
    box.setRange(low, high)
    box.setSingleStep(0.1)
    box.setSuffix(" s")
    box.setValue(value)
    box.setAccessibleName(name)
    return box


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName("muted")
    return label


class _Dialog(QDialog):
    """A form, a note, an error line, OK and Cancel."""

    def __init__(self, title: str, note: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.error_label = QLabel("")
        self.error_label.setAccessibleName("Error")
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(_note(note))
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))


class ShiftDialog(_Dialog):
    """Offset (negative: earlier), and whether it applies to all cues or the selected ones."""

    def __init__(self, count: int, selected: int, parent: QWidget | None = None) -> None:
        super().__init__(
            "Shift times",
            "A negative offset moves cues earlier. No cue moves before 0, past the end of "
            "the media, or into a cue that is not shifted: the offset is reduced to what "
            "fits, and the status line says so.",
            parent,
        )
        self.offset = _seconds_box(-86400.0, 86400.0, 0.0, "Offset")
        self.all_cues = QRadioButton(f"All cues ({count})")
        self.selected_cues = QRadioButton(f"Selected cues ({selected})")
        self.selected_cues.setEnabled(selected > 0)
        (self.selected_cues if selected > 1 else self.all_cues).setChecked(True)
        self.form.addRow("Offset:", self.offset)
        self.form.addRow("Shift:", self.all_cues)
        self.form.addRow("", self.selected_cues)

    def values(self) -> tuple[float, bool]:
        """(offset in seconds, selected cues only)."""
        return self.offset.value(), self.selected_cues.isChecked()


class StretchDialog(_Dialog):
    """Two anchor cues and the times they should start at: every cue is mapped linearly."""

    def __init__(self, segments: Sequence[Segment], parent: QWidget | None = None) -> None:
        super().__init__(
            "Stretch between two cues",
            "Give two cues (far apart) and the times they should start at, as heard in "
            "the media. Every cue's times are mapped along the same straight line: for "
            "subtitles made against another cut or frame rate.",
            parent,
        )
        self._segments = list(segments)
        n = len(self._segments)
        self.cue1, self.time1 = self._anchor(1, "First")
        self.cue2, self.time2 = self._anchor(n, "Second")
        self.mapping = QLabel("")
        self.mapping.setAccessibleName("Mapping")
        self.form.addRow("", self.mapping)
        for edit in (self.time1, self.time2):
            edit.textChanged.connect(self._update_mapping)
        self._update_mapping()

    def _anchor(self, cue: int, which: str) -> tuple[QSpinBox, QLineEdit]:
        spin = QSpinBox()
        spin.setRange(1, max(1, len(self._segments)))
        spin.setValue(cue)
        spin.setAccessibleName(f"{which} anchor cue")
        edit = QLineEdit()
        edit.setAccessibleName(f"{which} anchor new start")
        edit.setPlaceholderText("H:MM:SS.mmm")
        now = QLabel("")

        def follow(value: int) -> None:
            start = format_time(self._segments[value - 1].start) if self._segments else ""
            now.setText(f"now starts at {start}")
            edit.setText(start)

        spin.valueChanged.connect(follow)
        follow(cue)
        self.form.addRow(f"{which} anchor cue:", spin)
        self.form.addRow("", now)
        self.form.addRow("should start at:", edit)
        return spin, edit

    def values(self) -> tuple[int, float, int, float]:
        """(row 1, new start 1, row 2, new start 2); EditError for a bad time."""
        return (
            self.cue1.value() - 1,
            parse_time(self.time1.text()),
            self.cue2.value() - 1,
            parse_time(self.time2.text()),
        )

    def _update_mapping(self) -> None:
        try:
            row1, t1, row2, t2 = self.values()
            a, b = linear_map(self._segments[row1].start, t1, self._segments[row2].start, t2)
        except (EditError, IndexError) as exc:
            self.mapping.setText(str(exc) if isinstance(exc, EditError) else "")
            return
        self.mapping.setText(f"speed ×{a:.5f}, then {b:+.3f} s")


class CloseGapsDialog(_Dialog):
    def __init__(self, min_gap: float, parent: QWidget | None = None) -> None:
        super().__init__(
            "Close short gaps",
            "A cue followed by a gap shorter than this is lengthened up to the next cue, "
            "leaving the time below between them.",
            parent,
        )
        self.shorter_than = _seconds_box(0.01, 10.0, 0.5, "Close gaps shorter than")
        self.leave = _seconds_box(0.0, 1.0, min_gap, "Leave between cues")
        self.leave.setSingleStep(0.01)
        self.form.addRow("Close gaps shorter than:", self.shorter_than)
        self.form.addRow("Leave between cues:", self.leave)

    def values(self) -> tuple[float, float]:
        return self.shorter_than.value(), self.leave.value()


def _describe(segment: Segment) -> str:
    return f"{format_time(segment.start)} → {format_time(segment.end)}  {segment.text}"


class FixPreviewDialog(QDialog):
    """Every change "Fix common problems" would make: cue, before, after, reason."""

    COLUMNS = ("Cue", "Before", "After", "Reason")

    def __init__(self, plan: FixPlan, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fix common problems")
        self.resize(900, 420)
        count = len(plan.fixes)
        summary = QLabel(
            f"{count} cue{'s' if count != 1 else ''} will change. "
            "Apply makes all of it one edit, which Undo takes back."
        )
        summary.setWordWrap(True)
        self.table = QTableWidget(count, len(self.COLUMNS))
        self.table.setAccessibleName("Changes")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        for row, fix in enumerate(plan.fixes):
            after = "\n".join(_describe(s) for s in fix.after) or "(removed)"
            cells = (str(fix.cue), _describe(fix.before), after, "; ".join(fix.reasons))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        if count <= 500:  # measuring thousands of rows would keep the dialog from opening
            self.table.resizeRowsToContents()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = self.buttons.addButton("Apply", QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (for tests and accessibility checks)."""
        return [
            tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
            for r in range(self.table.rowCount())
        ]
