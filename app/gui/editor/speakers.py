"""Who speaks, in the editor: the speaker column, and rename, change and merge speakers.

Every change is one undo step through the document (core commands ``SetSpeaker`` and
``RenameSpeaker`` in ``app.core.transcript.edits``), so it is autosaved and exported
like any other edit. The column is shown only while the transcript has speakers;
colours come from ``app.core.speakers.colours`` (by order of first appearance, so a
rename keeps its colour).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.speakers import speaker_name
from app.core.speakers.colours import speaker_colours
from app.core.transcript import Command, Segment
from app.core.transcript.edits import Batch, RenameSpeaker, SetSpeaker, speakers_of
from app.gui.editor.segment_table import COL_SPEAKER

if TYPE_CHECKING:
    from app.gui.document import TranscriptDocument
    from app.gui.editor.editor import TranscriptEditor

_D = TypeVar("_D", bound=QDialog)
NEW_SPEAKER = "\x00new"  # the picker's "New speaker" entry


def new_speaker_name(existing: list[str]) -> str:
    """The first "Speaker N" that is not taken."""
    taken = set(existing)
    n = 0
    while speaker_name(n) in taken:
        n += 1
    return speaker_name(n)


def swatch(colour: str, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def speaker_combo(name: str, speakers: list[str], current: str | None = None) -> QComboBox:
    """A combo of the speakers, each with its colour; ``current`` chosen (else the first)."""
    box = QComboBox()
    box.setAccessibleName(name)
    fill_speakers(box, speakers)
    box.setCurrentIndex(max(0, box.findData(current)))
    return box


def fill_speakers(box: QComboBox, speakers: list[str]) -> None:
    colours = speaker_colours(speakers)
    for name in speakers:
        box.addItem(swatch(colours[name]), name, name)


class _SpeakerDialog(QDialog):
    """A form, a note and OK (named ``ok_text``) / Cancel."""

    def __init__(
        self, title: str, ok_text: str, rows: list[tuple[str, QWidget]], parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.note = QLabel("")
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        for label, widget in rows:
            form.addRow(label, widget)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)

    def set_ok(self, enabled: bool) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(enabled)


class RenameSpeakerDialog(_SpeakerDialog):
    """Which speaker, and the new name (an existing name merges the two)."""

    def __init__(self, speakers: list[str], current: str | None, parent: QWidget) -> None:
        self.speaker_combo = speaker_combo("Speaker to rename", speakers, current)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("New name")
        self.name_edit.setPlaceholderText("For example: Interviewer")
        rows = [("Speaker:", self.speaker_combo), ("New name:", self.name_edit)]
        super().__init__("Rename speaker", "Rename", rows, parent)
        self._speakers = speakers
        self.name_edit.textChanged.connect(self._check)
        self.speaker_combo.currentIndexChanged.connect(self._check)
        self.name_edit.setText(str(self.speaker_combo.currentData() or ""))
        self.name_edit.selectAll()
        self.name_edit.setFocus()

    def old_name(self) -> str:
        return str(self.speaker_combo.currentData() or "")

    def new_name(self) -> str:
        return self.name_edit.text().strip()

    def _check(self) -> None:
        new, old = self.new_name(), self.old_name()
        ok = bool(new) and new != old
        self.set_ok(ok)
        merge = ok and new in self._speakers
        self.note.setText(f"{new} is already a speaker: the two become one." if merge else "")


class MergeSpeakersDialog(_SpeakerDialog):
    """Merge one speaker into another: every segment of the first gets the second."""

    def __init__(self, speakers: list[str], current: str | None, parent: QWidget) -> None:
        self.source_combo = speaker_combo("Speaker to merge", speakers, current)
        self.target_combo = speaker_combo("Merge into", speakers)
        self.target_combo.setCurrentIndex(0 if self.source_combo.currentIndex() else 1)
        rows = [("Merge:", self.source_combo), ("Into:", self.target_combo)]
        super().__init__("Merge speakers", "Merge", rows, parent)
        for combo in (self.source_combo, self.target_combo):
            combo.currentIndexChanged.connect(self._check)
        self._check()

    def pair(self) -> tuple[str, str]:
        return str(self.source_combo.currentData()), str(self.target_combo.currentData())

    def _check(self) -> None:
        source, target = self.pair()
        self.set_ok(source != target)
        text = f"Every segment of {source} goes to {target}." if source != target else ""
        self.note.setText(text)


class SpeakerTools(QObject):
    """The editor's speaker controls: a picker for the selected segments, Rename and
    Merge buttons (also in the table's context menu), and the speaker column."""

    def __init__(self, editor: TranscriptEditor) -> None:
        super().__init__(editor)
        self.editor = editor
        self.table = editor.table
        self.dialog: QDialog | None = None  # the open rename or merge dialog
        self._speakers: list[str] = []

        self.picker = QComboBox()
        self.picker.setAccessibleName("Speaker of the selected segments")
        self.picker.setToolTip("Give the selected segments this speaker")
        self.picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.picker.activated.connect(self._picked)
        self.action_rename = QAction("Re&name Speaker…", self)
        self.action_rename.setToolTip("Rename a speaker everywhere")
        self.action_rename.triggered.connect(self.open_rename)
        self.action_merge = QAction("Mer&ge Speakers…", self)
        self.action_merge.setToolTip("Merge two speakers into one")
        self.action_merge.triggered.connect(self.open_merge)
        self.rename_button = QToolButton()
        self.rename_button.setDefaultAction(self.action_rename)
        self.rename_button.setAccessibleName("Rename speaker")
        self.merge_button = QToolButton()
        self.merge_button.setDefaultAction(self.action_merge)
        self.merge_button.setAccessibleName("Merge speakers")
        self.label = QLabel("Speaker of the selection:")
        self.label.setBuddy(self.picker)
        self.bar = QWidget()  # a row of its own, shown while the transcript has speakers
        self.bar.setAccessibleName("Speakers")
        row = QHBoxLayout(self.bar)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.picker, self.rename_button, self.merge_button):
            row.addWidget(widget)
        row.addStretch(1)

        width = self.table.fontMetrics().horizontalAdvance("Speaker 10") + 48
        self.table.horizontalHeader().resizeSection(COL_SPEAKER, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        # Many rows change in one edit (a rename): refresh once, after it.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self.table.selectionModel().currentRowChanged.connect(self._show_current)
        editor.documentChanged.connect(self._on_document)
        editor.timeline.set_cue_color(self.cue_colour)  # each cue in its speaker's colour
        self._doc: TranscriptDocument | None = None
        self.refresh()

    def cue_colour(self, _row: int, segment: Segment) -> str | None:
        """The timeline's fill for a cue: its speaker's colour, as in the table's column."""
        if not segment.speaker:
            return None
        return self.editor.model.speaker_colours().get(segment.speaker)

    # -- state ---------------------------------------------------------------------------
    def _on_document(self, doc: TranscriptDocument | None) -> None:
        if self._doc is not None:
            self._doc.changed.disconnect(self._refresh_timer.start)
        self._doc = doc
        if doc is not None:
            doc.changed.connect(self._refresh_timer.start)
        self.refresh()

    @property
    def speakers(self) -> list[str]:
        """The transcript's speakers in order of first appearance (as they are now)."""
        return speakers_of(self._doc.transcript) if self._doc is not None else []

    def refresh(self) -> None:
        self._speakers = self.speakers
        shown = bool(self._speakers)
        self.table.setColumnHidden(COL_SPEAKER, not shown)
        self.bar.setVisible(shown)
        self.action_rename.setEnabled(shown)
        self.action_merge.setEnabled(len(self._speakers) > 1)
        self.picker.blockSignals(True)
        self.picker.clear()
        fill_speakers(self.picker, self._speakers)
        self.picker.insertSeparator(self.picker.count())
        self.picker.addItem("New speaker", NEW_SPEAKER)
        self.picker.blockSignals(False)
        self._show_current()

    def _show_current(self, *_args: object) -> None:
        current = self._current_speaker()
        self.picker.blockSignals(True)
        self.picker.setCurrentIndex(self.picker.findData(current) if current else -1)
        self.picker.blockSignals(False)

    def _current_speaker(self) -> str | None:
        doc, row = self._doc, self.table.current_row()
        if doc is None or not 0 <= row < len(doc.transcript):
            return None
        return doc.transcript[row].speaker

    def selected_rows(self) -> list[int]:
        """The selected segments (the current one when none is selected)."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedIndexes()})
        if not rows and self.table.current_row() >= 0:
            rows = [self.table.current_row()]
        return rows

    # -- edits ------------------------------------------------------------------------------
    def _push(self, command: Command) -> bool:
        changed = self.editor.push_edit(command)
        self.refresh()  # at once, not after the event loop turns
        return changed

    def set_speaker(self, name: str | None = None) -> bool:
        """Give the selected segments ``name`` (None: a new speaker); one undo step."""
        rows = self.selected_rows()
        if self._doc is None or not rows:
            self.editor.show_message("Select the segments first", error=True)
            return False
        name = name or new_speaker_name(speakers_of(self._doc.transcript))
        return self._push(SetSpeaker(tuple(rows), name))

    def rename(self, old: str, new: str) -> bool:
        """Rename ``old`` everywhere (an existing name merges them); one undo step."""
        return self._push(RenameSpeaker(old, new))

    def merge(self, source: str, target: str) -> bool:
        """Every segment of ``source`` gets ``target``; one undo step."""
        if source == target:
            return False
        return self._push(Batch((RenameSpeaker(source, target),), f"Merge {source} into {target}"))

    def _picked(self, index: int) -> None:
        data = self.picker.itemData(index)
        self.set_speaker(None if data == NEW_SPEAKER else str(data))
        self.table.setFocus()

    # -- dialogs ----------------------------------------------------------------------------
    def open_rename(self) -> RenameSpeakerDialog | None:
        self.refresh()
        if not self._speakers:
            return None
        dialog = RenameSpeakerDialog(self._speakers, self._current_speaker(), self.editor)
        dialog.accepted.connect(lambda: self.rename(dialog.old_name(), dialog.new_name()))
        return self._open(dialog)

    def open_merge(self) -> MergeSpeakersDialog | None:
        self.refresh()
        if len(self._speakers) < 2:
            return None
        dialog = MergeSpeakersDialog(self._speakers, self._current_speaker(), self.editor)
        dialog.accepted.connect(lambda: self.merge(*dialog.pair()))
        return self._open(dialog)

    def _open(self, dialog: _D) -> _D:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()  # window-modal, without a nested event loop
        return dialog

    # -- context menu ---------------------------------------------------------------------------
    def context_menu(self) -> QMenu:
        """The table's menu: the speaker of the selected segments, rename, merge."""
        self.refresh()
        menu = QMenu(self.table)
        change = menu.addMenu("Speaker of Selected Segments")
        colours = speaker_colours(self._speakers)
        for name in self._speakers:
            action = change.addAction(swatch(colours[name]), name)
            action.triggered.connect(lambda _=False, n=name: self.set_speaker(n))
        if self._speakers:
            change.addSeparator()
        change.addAction("New Speaker").triggered.connect(lambda: self.set_speaker(None))
        menu.addAction(self.action_rename)
        menu.addAction(self.action_merge)
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        if self._doc is None or self.table.rowAt(pos.y()) < 0:
            return
        row = self.table.rowAt(pos.y())
        if row not in self.selected_rows():
            self.table.select_row(row)
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.viewport().mapToGlobal(pos))
