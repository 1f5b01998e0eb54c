"""A QUndoCommand that runs a core edit command on a Transcript."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from app.core.transcript import Command, EditError, Transcript


class TranscriptUndoCommand(QUndoCommand):
    """Wraps a core command that has *already been applied* (see ``applied``).

    ``redo`` applies the forward command and keeps its inverse; ``undo`` applies
    the inverse and keeps the command that redoes it. Each step is exact because
    every core command returns its exact inverse.
    """

    def __init__(
        self,
        transcript: Transcript,
        command: Command,
        inverse: Command,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(command.label)
        self._transcript = transcript
        self._forward: Command = command
        self._inverse: Command | None = inverse
        self._skip_first_redo = True
        self._on_error = on_error

    def redo(self) -> None:
        if self._skip_first_redo:  # QUndoStack.push() calls redo(); the edit is done
            self._skip_first_redo = False
            return
        try:
            self._inverse = self._transcript.apply(self._forward)
        except EditError as exc:  # state changed outside the stack (should not happen)
            self.setObsolete(True)
            if self._on_error is not None:
                self._on_error(f"Can't redo: {exc}")

    def undo(self) -> None:
        if self._inverse is None:
            return
        try:
            self._forward = self._transcript.apply(self._inverse)
        except EditError as exc:
            self.setObsolete(True)
            if self._on_error is not None:
                self._on_error(f"Can't undo: {exc}")
