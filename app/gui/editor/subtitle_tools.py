"""The editor's subtitle checks and timing tools.

Cues over the limits (:mod:`app.core.transcript.checks`) are marked in the segment
table, with a tooltip saying what is wrong; F8 / Shift+F8 go to the next and the
previous marked cue. The timing tools (:mod:`app.core.transcript.retime`) each
make ONE undoable edit on the document's undo stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QDialog

from app.core.transcript import Command, EditError, Segment, Transcript
from app.core.transcript.checks import CheckLimits, Problem, check_cues, next_flagged
from app.core.transcript.retime import (
    close_gaps,
    enforce_min_gap,
    plan_fixes,
    plan_stretch,
    replace_changed,
    set_edge_command,
    shift_command,
)
from app.gui.editor.subtitle_dialogs import (
    CloseGapsDialog,
    FixPreviewDialog,
    ShiftDialog,
    StretchDialog,
)

if TYPE_CHECKING:
    from app.gui.document import TranscriptDocument
    from app.gui.editor.editor import TranscriptEditor

FLAG_COLOR = QColor(255, 152, 0)  # the timeline's mark over a cue beyond a limit (orange)

SHORTCUTS = {
    "next": "F8",
    "previous": "Shift+F8",
    "start": "[",
    "end": "]",
    "shift": "Ctrl+Shift+T",
    "stretch": "Ctrl+Shift+K",
    "close_gaps": "Ctrl+Shift+B",
    "min_gap": "Ctrl+Shift+M",
    "fix": "Ctrl+Shift+F",
}


class SubtitleTools(QObject):
    """Checks and timing tools for one :class:`TranscriptEditor`; its actions are public."""

    action_next: QAction
    action_previous: QAction
    action_set_start: QAction
    action_set_end: QAction
    action_shift: QAction
    action_stretch: QAction
    action_close_gaps: QAction
    action_min_gap: QAction
    action_fix: QAction

    def __init__(self, editor: TranscriptEditor) -> None:
        super().__init__(editor)
        self._editor = editor
        self._limits = CheckLimits()
        self._key: tuple[int, int, CheckLimits] | None = None
        self._flags: dict[int, tuple[Problem, ...]] = {}
        self._rows: list[int] = []
        self._watched: TranscriptDocument | None = None
        self._shown: dict[int, tuple[Problem, ...]] = {}  # the marks the table shows
        # After an edit, repaint only the rows whose marks changed (a time edit can change a
        # neighbour's gap or overlap), once the table has taken the edit in.
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(0)
        self._refresh.timeout.connect(self._refresh_marks)
        self._make_actions()
        editor.model.set_problem_source(self.problems_at)
        editor.timeline.set_cue_flag(self.flag_color)
        editor.documentChanged.connect(self._on_document)
        self._on_document(editor.document)

    # -- actions ----------------------------------------------------------------------
    def _action(self, text: str, key: str, slot: Callable[[], object], tip: str) -> QAction:
        action = QAction(text, self._editor)
        action.setShortcut(QKeySequence(SHORTCUTS[key]))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{tip} ({action.shortcut().toString()})")
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self._editor.addAction(action)
        return action

    def _make_actions(self) -> None:
        a = self._action
        for name, text, key, slot, tip in (
            ("next", "&Next Flagged Cue", "next", lambda: self.go_flagged(True),
             "Next cue over a limit"),
            ("previous", "&Previous Flagged Cue", "previous", lambda: self.go_flagged(False),
             "Previous cue over a limit"),
            ("set_start", "Set &Start to Playhead", "start", lambda: self.set_edge("start"),
             "Start the selected cue at the playback position"),
            ("set_end", "Set &End to Playhead", "end", lambda: self.set_edge("end"),
             "End the selected cue at the playback position"),
            ("shift", "S&hift Times…", "shift", self.shift_times,
             "Shift all or the selected cues"),
            ("stretch", "Stretch &Between Two Cues…", "stretch", self.stretch_times,
             "Map every cue's times from two anchor cues"),
            ("close_gaps", "&Close Short Gaps…", "close_gaps", self.close_short_gaps,
             "Close short gaps"),
            ("min_gap", "Enforce &Minimum Gap", "min_gap", self.enforce_minimum_gap,
             "Open gaps below the least gap from the settings"),
            ("fix", "&Fix Common Problems…", "fix", self.fix_common_problems,
             "Fix overlaps, short, long and empty cues, and long lines"),
        ):  # fmt: skip
            setattr(self, f"action_{name}", a(text, key, slot, tip))

    def menu_actions(self) -> list[QAction | None]:
        """The actions in menu order; None is a separator."""
        return [
            self.action_next,
            self.action_previous,
            None,
            self.action_set_start,
            self.action_set_end,
            None,
            self.action_shift,
            self.action_stretch,
            self.action_close_gaps,
            self.action_min_gap,
            None,
            self.action_fix,
        ]

    # -- limits and flags ------------------------------------------------------------------
    @property
    def limits(self) -> CheckLimits:
        return self._limits

    def set_limits(self, limits: CheckLimits) -> None:
        if limits != self._limits:
            self._limits = limits
            self._shown = dict(self.flags())
            self._editor.model.refresh_rows()
            self._editor.timeline.refresh_marks()

    def _doc(self) -> TranscriptDocument | None:
        return self._editor.document

    def flags(self) -> dict[int, tuple[Problem, ...]]:
        """Row -> problems of every cue over a limit (recomputed after each change)."""
        doc = self._doc()
        if doc is None:
            return {}
        key = (id(doc.transcript), doc.transcript.revision, self._limits)
        if key != self._key:
            self._flags = check_cues(doc.transcript.segments, self._limits)
            self._rows = sorted(self._flags)
            self._key = key
        return self._flags

    def problems_at(self, row: int) -> tuple[str, ...]:
        """The messages for row ``row`` (empty when it is within the limits)."""
        return tuple(p.message for p in self.flags().get(row, ()))

    def flag_color(self, row: int, _segment: object) -> QColor | None:
        """The timeline's mark over a cue that breaks a limit (the table's warning colour)."""
        return FLAG_COLOR if row in self.flags() else None

    def _on_document(self, doc: TranscriptDocument | None) -> None:
        self._key = None
        refresh = self._refresh.start
        if self._watched is not None and shiboken6.isValid(self._watched):
            self._watched.changed.disconnect(refresh)
        self._watched = doc
        self._shown = dict(self.flags())
        if doc is not None:
            doc.changed.connect(refresh)
        self._update_actions()

    def _refresh_marks(self) -> None:
        new = self.flags()
        old, self._shown = self._shown, dict(new)
        rows = [r for r in old.keys() | new.keys() if old.get(r) != new.get(r)]
        if rows:
            self._editor.timeline.refresh_marks()
            self._editor.model.refresh_rows(
                min(rows), min(max(rows), self._editor.model.rowCount() - 1)
            )

    def _update_actions(self) -> None:
        has_doc = self._doc() is not None
        for action in self.menu_actions():
            if action is not None:
                action.setEnabled(has_doc)

    def go_flagged(self, forward: bool) -> None:
        """Select the next (or previous) flagged cue, wrapping around."""
        self.flags()
        row = next_flagged(self._rows, self._editor.table.current_row(), forward)
        if row is None:
            self._editor.show_message("No cue is over the limits")
            return
        self._editor.table.select_row(row)
        self._editor.show_message(f"Cue {row + 1}: " + "; ".join(self.problems_at(row)))

    # -- edits -------------------------------------------------------------------------------
    def _push(self, command: Command, message: str | None = None) -> bool:
        return self._editor.push_edit(command, message)

    def _transcript(self) -> Transcript | None:
        doc = self._doc()
        if doc is None:
            self._editor.show_message("Open a transcript first", error=True)
            return None
        return doc.transcript

    def _media_duration(self, transcript: Transcript) -> float:
        return transcript.meta.duration or self._editor.player.duration

    def _replace(self, transcript: Transcript, new: tuple[Segment, ...], label: str) -> bool:
        return self._push(replace_changed(transcript.segments, new, label))

    def set_edge(self, edge: str) -> None:
        """Set the start or end of the selected cue to the playback position."""
        transcript = self._transcript()
        if transcript is None:
            return
        if not self._editor.player.source:
            self._editor.show_message("No media: play it to set times", error=True)
            return
        row = self._editor.table.current_row()
        try:
            command = set_edge_command(
                transcript.segments,
                row,
                edge,
                self._editor.player.position,
                self._media_duration(transcript),
            )
        except EditError as exc:
            self._editor.show_message(str(exc), error=True)
            return
        self._push(command)

    def _exec(self, dialog: QDialog) -> bool:
        return dialog.exec() == QDialog.DialogCode.Accepted

    def shift_times(self) -> None:
        transcript = self._transcript()
        if transcript is None:
            return
        selected = self._editor.table.selected_rows()
        dialog = ShiftDialog(len(transcript), len(selected), self._editor)
        if not self._exec(dialog):
            return
        offset, only_selected = dialog.values()
        rows = selected if only_selected else None
        try:
            command, message = shift_command(
                transcript.segments, rows, offset, self._media_duration(transcript)
            )
        except EditError as exc:
            self._editor.show_message(str(exc), error=True)
            return
        self._push(command, message)

    def stretch_times(self) -> None:
        transcript = self._transcript()
        if transcript is None:
            return
        if len(transcript) < 2:
            self._editor.show_message("Stretching needs two cues", error=True)
            return
        dialog = StretchDialog(transcript.segments, self._editor)

        def accept() -> None:
            try:
                row1, t1, row2, t2 = dialog.values()
                new = plan_stretch(
                    transcript.segments, row1, t1, row2, t2, self._media_duration(transcript)
                )
            except EditError as exc:
                dialog.show_error(str(exc))
                return
            dialog.done(QDialog.DialogCode.Accepted)
            self._replace(transcript, new, "Stretch times between two cues")

        dialog.buttons.accepted.disconnect()  # validate before the dialog closes
        dialog.buttons.accepted.connect(accept)
        dialog.exec()

    def close_short_gaps(self) -> None:
        transcript = self._transcript()
        if transcript is None:
            return
        dialog = CloseGapsDialog(self._limits.min_gap_s, self._editor)
        if not self._exec(dialog):
            return
        shorter_than, leave = dialog.values()
        self._replace(
            transcript, close_gaps(transcript.segments, shorter_than, leave), "Close gaps"
        )

    def enforce_minimum_gap(self) -> None:
        transcript = self._transcript()
        if transcript is None:
            return
        gap = self._limits.min_gap_s
        new, stuck = enforce_min_gap(transcript.segments, gap, self._limits.cues.min_duration_s)
        changed = sum(1 for a, b in zip(transcript.segments, new, strict=True) if a != b)
        message = f"Opened gaps of {gap:g} s around {changed} cue(s)"
        if not changed:
            message = f"No gap was below {gap:g} s" if not stuck else "No room to open gaps"
        if stuck:
            message += f"; no room after cue(s) {', '.join(str(r + 1) for r in stuck[:5])}"
        self._push(replace_changed(transcript.segments, new, "Enforce minimum gap"), message)

    def fix_common_problems(self) -> FixPreviewDialog | None:
        """Preview the fixes; Apply makes them one edit. The dialog, or None: nothing to fix."""
        transcript = self._transcript()
        if transcript is None:
            return None
        plan = plan_fixes(transcript.segments, self._limits, self._media_duration(transcript))
        if not plan.fixes:
            self._editor.show_message("No common problems found")
            return None
        dialog = FixPreviewDialog(plan, self._editor)
        if self._exec(dialog):
            count = len(plan.fixes)
            self._push(
                replace_changed(transcript.segments, plan.segments, "Fix common problems"),
                f"Fixed {count} cue{'s' if count != 1 else ''}",
            )
        return dialog
