"""TranscriptEditor: the segment table, find/replace, playback and video preview."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.transcript import Command, EditError, Segment
from app.core.transcript.edits import Batch, Delete, Insert, Merge, SetText, SetTimes, Split
from app.gui.editor.find_replace import FindReplaceBar
from app.gui.editor.player import MediaPlayer
from app.gui.editor.segment_table import COL_TEXT, SegmentTableModel, SegmentTableView
from app.gui.editor.speakers import SpeakerTools
from app.gui.editor.subtitle_tools import SubtitleTools
from app.gui.editor.timecode import format_time
from app.gui.editor.timeline import TimelineWidget
from app.gui.editor.video import VideoPreview

if TYPE_CHECKING:
    from app.gui.document import TranscriptDocument

SKIP_SECONDS = 5.0
NEW_SEGMENT_SECONDS = 2.0
MIN_GAP_SECONDS = 0.1


def middle_split_position(text: str) -> int:
    """Where to split when there is no cursor: the space nearest the middle, else the middle."""
    middle = len(text) // 2
    spaces = [i for i, char in enumerate(text) if char.isspace() and 0 < i < len(text) - 1]
    if spaces:
        return min(spaces, key=lambda i: abs(i - middle))
    return middle


class TranscriptEditor(QWidget):
    """Edits one :class:`TranscriptDocument` at a time (``set_document``).

    The actions (``action_split`` … ``action_forward_5s``) are public so the main
    window can put them in its menus.
    """

    documentChanged = Signal(object)  # TranscriptDocument | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Transcript editor")
        self._doc: TranscriptDocument | None = None

        self.model = SegmentTableModel(self)
        self.table = SegmentTableView()
        self.table.setModel(self.model)
        self.player = MediaPlayer(self)
        self.preview = VideoPreview()
        self.preview.hide()
        self.player.set_video_output(self.preview.video_item)
        self.timeline = TimelineWidget()
        self.find_bar = FindReplaceBar()
        self.find_bar.hide()
        self.status_label = QLabel("")
        self.status_label.setAccessibleName("Editor status")
        self.status_label.setWordWrap(True)

        self._make_actions()
        self.subtitle_tools = SubtitleTools(self)  # checks, retiming; its own actions
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.preview)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(self._make_transport())
        lower_layout.addWidget(self.timeline)
        lower_layout.addLayout(self._make_edit_bar())
        self.speaker_tools = SpeakerTools(self)  # speaker column, picker, rename, merge
        lower_layout.addWidget(self.speaker_tools.bar)
        lower_layout.addWidget(self.find_bar)
        lower_layout.addWidget(self.table, 1)
        lower_layout.addWidget(self.status_label)
        splitter.addWidget(lower)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 400])  # room for the video when there is one
        layout.addWidget(splitter)

        self.model.editRejected.connect(lambda msg: self.show_message(msg, error=True))
        self.table.playRequested.connect(self.play_row)
        self.table.selectionModel().currentRowChanged.connect(self._update_actions)
        self.find_bar.matchActivated.connect(self._show_match)
        self.find_bar.currentChanged.connect(self._highlight_match)
        self.find_bar.message.connect(self.show_message)
        self.find_bar.closed.connect(self.table.setFocus)
        self.player.positionChanged.connect(self._on_position)
        self.player.durationChanged.connect(self._on_duration)
        self.player.playingChanged.connect(self._on_playing)
        self.player.hasVideoChanged.connect(self.preview.setVisible)
        self.player.errorOccurred.connect(lambda msg: self.show_message(msg, error=True))
        self._connect_timeline()
        self._update_actions()

    def _connect_timeline(self) -> None:
        """The timeline seeks, plays and re-times through the same player and undo stack."""
        timeline = self.timeline
        timeline.addAction(self.action_play_pause)  # Space plays there too
        timeline.seekRequested.connect(self.player.seek)
        timeline.playRequested.connect(self.play_row)
        timeline.cueActivated.connect(self.table.select_row)
        timeline.timesEdited.connect(
            lambda row, start, end: self.push_edit(SetTimes(row, start, end))
        )
        self.player.positionChanged.connect(timeline.set_position)
        self.player.durationChanged.connect(timeline.set_duration)
        self.player.playingChanged.connect(timeline.set_playing)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: timeline.set_selected_rows(
                {index.row() for index in self.table.selectionModel().selectedRows()}
            )
        )

    # -- construction -------------------------------------------------------------------
    def _action(
        self,
        text: str,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None,
        slot: Callable[[], object],
        tip: str,
        owner: QWidget | None = None,
        context: Qt.ShortcutContext = Qt.ShortcutContext.WidgetWithChildrenShortcut,
    ) -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)  # every platform binding (F3 and Ctrl+G, …)
            action.setShortcutContext(context)
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(context)
        action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        (owner or self).addAction(action)
        return action

    def _make_actions(self) -> None:
        a = self._action
        self.action_split = a("&Split Segment", "Ctrl+Return", self.split, "Split at the cursor")
        self.action_merge = a("&Merge with Next", "Ctrl+J", self.merge, "Merge with the next")
        self.action_delete = a("&Delete Segment", "Ctrl+D", self.delete, "Delete the segment")
        self.action_insert = a(
            "&Insert Segment", "Ctrl+Shift+Return", self.insert, "Insert a segment after this one"
        )
        self.action_undo = a("&Undo Edit", None, self.undo, "Undo the last edit")
        self.action_redo = a("&Redo Edit", None, self.redo, "Redo the edit")
        self.action_find = a("&Find…", QKeySequence.StandardKey.Find, self.open_find, "Find text")
        self.action_replace = a("&Replace…", "Ctrl+H", self.open_replace, "Find and replace")
        self.action_find_next = a(
            "Find &Next", QKeySequence.StandardKey.FindNext, self.find_bar.find_next, "Next match"
        )
        self.action_find_previous = a(
            "Find Pre&vious",
            QKeySequence.StandardKey.FindPrevious,
            self.find_bar.find_previous,
            "Previous match",
        )
        self.action_play_pause = a(
            "&Play/Pause",
            "Space",
            self.play_pause,
            "Play or pause",
            owner=self.table,  # Space only while the table has focus and is not editing
            context=Qt.ShortcutContext.WidgetShortcut,
        )
        self.action_back_5s = a(
            "&Back 5 s", "Alt+Left", lambda: self.skip(-SKIP_SECONDS), "Back 5 seconds"
        )
        self.action_forward_5s = a(
            "&Forward 5 s", "Alt+Right", lambda: self.skip(SKIP_SECONDS), "Forward 5 seconds"
        )

    def _tool_button(self, action: QAction, name: str) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setAccessibleName(name)
        return button

    def _make_transport(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.play_button = self._tool_button(self.action_play_pause, "Play or pause")
        row.addWidget(self._tool_button(self.action_back_5s, "Back 5 seconds"))
        row.addWidget(self.play_button)
        row.addWidget(self._tool_button(self.action_forward_5s, "Forward 5 seconds"))
        self.position_slider = QSlider(Qt.Orientation.Horizontal)
        self.position_slider.setAccessibleName("Playback position")
        self.position_slider.setRange(0, 0)
        self.position_slider.sliderMoved.connect(lambda ms: self.player.seek(ms / 1000.0))
        row.addWidget(self.position_slider, 1)
        self.time_label = QLabel(format_time(0))
        self.time_label.setAccessibleName("Playback time")
        row.addWidget(self.time_label)
        return row

    def _make_edit_bar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for action, name in (
            (self.action_split, "Split segment"),
            (self.action_merge, "Merge with next segment"),
            (self.action_insert, "Insert segment"),
            (self.action_delete, "Delete segment"),
            (self.action_undo, "Undo edit"),
            (self.action_redo, "Redo edit"),
            (self.action_find, "Find"),
            (self.action_replace, "Find and replace"),
        ):
            row.addWidget(self._tool_button(action, name))
        row.addStretch(1)
        return row

    # -- document ---------------------------------------------------------------------------
    @property
    def document(self) -> TranscriptDocument | None:
        return self._doc

    def set_document(self, doc: TranscriptDocument | None) -> None:
        if doc is self._doc:
            return
        if self._doc is not None:
            self._doc.changed.disconnect(self._update_actions)
            self._doc.editFailed.disconnect(self._on_edit_failed)
            self._doc.undo_stack.indexChanged.disconnect(self._update_actions)
        self.table.segment_delegate.commit_and_close()
        self._doc = doc
        self.model.set_document(doc)
        self.find_bar.set_document(doc)
        self.preview.hide()
        self.preview.set_cue("")
        self.show_message("")
        media = doc.media_path if doc is not None else ""
        if media and not Path(media).is_file():
            self.show_message(f"Media file not found: {Path(media).name}", error=True)
            media = ""
        self.player.set_source(media)
        self.timeline.set_document(doc, media)
        if doc is not None:
            doc.changed.connect(self._update_actions)
            doc.editFailed.connect(self._on_edit_failed)
            doc.undo_stack.indexChanged.connect(self._update_actions)
            if len(doc.transcript):
                self.table.select_row(0)
        self._update_actions()
        self.documentChanged.emit(doc)

    # -- messages ---------------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setProperty("error", error)
        dark = self.palette().color(self.backgroundRole()).lightness() < 128
        color = "#ff8a80" if dark else "#b00020"
        self.status_label.setStyleSheet(f"color: {color};" if error else "")
        self.status_label.setAccessibleDescription(text)

    def _on_edit_failed(self, message: str) -> None:
        self.show_message(message, error=True)

    def push_edit(self, command: Command, message: str | None = None) -> bool:
        """Apply ``command`` as one undoable step and say so in the status line (``message``,
        or the command's label); an edit the transcript refuses is shown as an error.
        False when nothing changed (the speaker tools, subtitle tools and timeline use it too).
        """
        if self._doc is None:
            return False
        try:
            changed = self._doc.push(command)
        except EditError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.show_message(message or (command.label if changed else "Nothing changed"))
        return changed

    def _update_actions(self, *_args: object) -> None:
        doc = self._doc
        if doc is not None and not shiboken6.isValid(doc.undo_stack):
            doc = None  # the document is being destroyed
        count = len(doc.transcript) if doc is not None else 0
        row = self.table.current_row()
        has_row = doc is not None and 0 <= row < count
        self.action_split.setEnabled(has_row)
        self.action_merge.setEnabled(has_row and row + 1 < count)
        self.action_delete.setEnabled(has_row)
        self.action_insert.setEnabled(doc is not None)
        self.action_undo.setEnabled(doc is not None and doc.undo_stack.canUndo())
        self.action_redo.setEnabled(doc is not None and doc.undo_stack.canRedo())
        for action in (self.action_find, self.action_replace):
            action.setEnabled(doc is not None)

    # -- edits ------------------------------------------------------------------------------
    def split(self) -> None:
        """Split the selected segment at the text cursor (or near the middle)."""
        doc = self._doc
        if doc is None:
            return
        editor, row = self.table.segment_delegate.active_text_editor()
        if editor is not None and 0 <= row < len(doc.transcript):
            text, pos = editor.text(), editor.cursorPosition()
            self.table.segment_delegate.discard(editor)
            commands: list[Command] = []
            if text != doc.transcript[row].text:
                commands.append(SetText(row, text))
            commands.append(Split(row, pos))
            command: Command = Batch(tuple(commands), commands[-1].label)
        else:
            row = self.table.current_row()
            if not 0 <= row < len(doc.transcript):
                self.show_message("Select a segment to split", error=True)
                return
            command = Split(row, middle_split_position(doc.transcript[row].text))
        if self.push_edit(command):
            self.table.select_row(row + 1)

    def merge(self) -> None:
        row = self._selected_row("merge")
        if row is not None and self.push_edit(Merge(row)):
            self.table.select_row(row)

    def delete(self) -> None:
        row = self._selected_row("delete")
        if row is not None and self._doc is not None and self.push_edit(Delete(row)):
            self.table.select_row(min(row, len(self._doc.transcript) - 1))

    def insert(self) -> None:
        """Insert an empty segment after the selected one, in the gap, and edit it."""
        doc = self._doc
        if doc is None:
            return
        transcript, duration = doc.transcript, doc.transcript.meta.duration
        row = self.table.current_row()
        if not 0 <= row < len(transcript):
            row = len(transcript) - 1
        start = transcript[row].end if row >= 0 else 0.0
        if row + 1 < len(transcript):
            limit = transcript[row + 1].start
        else:
            limit = duration if duration > 0 else start + NEW_SEGMENT_SECONDS
        if limit - start < MIN_GAP_SECONDS:
            where = f"after segment {row + 1}" if row >= 0 else "here"
            self.show_message(f"No room {where}: shorten a neighbouring segment first", error=True)
            return
        segment = Segment(start, min(limit, start + NEW_SEGMENT_SECONDS), "")
        if self.push_edit(Insert(row + 1, segment)):
            self.table.select_row(row + 1)
            self.table.edit(self.model.index(row + 1, COL_TEXT))

    def undo(self) -> None:
        if self._doc is not None:
            self._doc.undo()

    def redo(self) -> None:
        if self._doc is not None:
            self._doc.redo()

    def _selected_row(self, verb: str) -> int | None:
        row = self.table.current_row()
        if self._doc is None or not 0 <= row < len(self._doc.transcript):
            self.show_message(f"Select a segment to {verb}", error=True)
            return None
        return row

    # -- find and replace ---------------------------------------------------------------------
    def open_find(self) -> None:
        self.find_bar.open_bar(replace=False)

    def open_replace(self) -> None:
        self.find_bar.open_bar(replace=True)

    def _highlight_match(self, match: tuple[int, int, int] | None) -> None:
        self.table.segment_delegate.highlight = match
        self.table.viewport().update()

    def _show_match(self, row: int, start: int, end: int) -> None:
        self.table.select_row(row)
        self.show_message(f"Match in segment {row + 1}, characters {start + 1}–{end}")

    # -- playback -------------------------------------------------------------------------------
    def play_pause(self) -> None:
        if not self.player.source:
            self.show_message("No media to play", error=True)
            return
        self.player.toggle()

    def skip(self, seconds: float) -> None:
        if self.player.source:
            self.player.skip(seconds)

    def play_row(self, row: int) -> None:
        doc = self._doc
        if doc is None or not 0 <= row < len(doc.transcript):
            return
        if not self.player.play_from(doc.transcript[row].start):
            self.show_message("No media to play", error=True)

    def _on_position(self, seconds: float) -> None:
        doc = self._doc
        row = doc.transcript.row_at(seconds) if doc is not None else None
        if row != self.model.current_row:
            self.model.set_current_row(row)
            if row is not None and not self.table.is_editing():
                self.table.scrollTo(self.model.index(row, COL_TEXT))
        cue = doc.transcript[row].text if doc is not None and row is not None else ""
        self.preview.set_cue(cue)
        if not self.position_slider.isSliderDown():
            self.position_slider.setValue(round(seconds * 1000))
        self.time_label.setText(f"{format_time(seconds)} / {format_time(self.player.duration)}")

    def _on_duration(self, seconds: float) -> None:
        self.position_slider.setRange(0, max(0, round(seconds * 1000)))

    def _on_playing(self, playing: bool) -> None:
        self.action_play_pause.setText("&Pause" if playing else "&Play")
