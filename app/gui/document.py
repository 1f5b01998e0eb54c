"""One open transcript in the GUI: the core Transcript, its media and its undo stack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.core.transcript import Command, Transcript, TranscriptChange
from app.gui.editor.undo import TranscriptUndoCommand


class TranscriptDocument(QObject):
    """Holds a :class:`Transcript`, the media path and a :class:`QUndoStack`.

    Every user edit goes through :meth:`push`, so it can be undone. Streamed
    results (``transcript.append``) are not edits and don't make it dirty.
    """

    changed = Signal()  # the transcript changed in any way
    dirtyChanged = Signal(bool)  # unexported edits appeared / went away
    editFailed = Signal(str)  # an undo/redo step could not be applied

    def __init__(
        self,
        transcript: Transcript | None = None,
        media_path: str | Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._transcript = transcript if transcript is not None else Transcript()
        if media_path is None:
            media_path = self._transcript.meta.source
        self._media_path = str(media_path) if media_path else ""
        self._stack = QUndoStack(self)
        self._stack.cleanChanged.connect(self._on_clean_changed)
        self._transcript.subscribe(self._on_transcript_change)
        self.destroyed.connect(self._transcript_unsubscriber())

    def _transcript_unsubscriber(self) -> Callable[..., None]:
        transcript, callback = self._transcript, self._on_transcript_change
        return lambda *_args: transcript.unsubscribe(callback)

    def close(self) -> None:
        """Stop listening to the transcript (also done when the object is destroyed)."""
        self._transcript.unsubscribe(self._on_transcript_change)

    # -- properties ------------------------------------------------------------
    @property
    def transcript(self) -> Transcript:
        return self._transcript

    @property
    def media_path(self) -> str:
        return self._media_path

    def set_media_path(self, path: str | Path | None) -> None:
        self._media_path = str(path) if path else ""

    @property
    def undo_stack(self) -> QUndoStack:
        return self._stack

    def title(self) -> str:
        """A short name for window titles: the media file name."""
        return Path(self._media_path).name if self._media_path else "Untitled"

    # -- editing ----------------------------------------------------------------
    def push(self, command: Command) -> bool:
        """Apply ``command`` as one undoable step; False when it changed nothing.

        Raises :class:`EditError` when the edit is refused (nothing changed then).
        """
        revision = self._transcript.revision
        inverse = self._transcript.apply(command)
        if self._transcript.revision == revision:
            return False  # e.g. replace all without matches: no empty undo step
        self._stack.push(
            TranscriptUndoCommand(self._transcript, command, inverse, self.editFailed.emit)
        )
        return True

    def undo(self) -> None:
        self._stack.undo()

    def redo(self) -> None:
        self._stack.redo()

    # -- dirty state ----------------------------------------------------------------
    def is_dirty(self) -> bool:
        """True when there are edits since the last export (undoing them clears it)."""
        return not self._stack.isClean()

    def mark_exported(self) -> None:
        self._stack.setClean()
        self._transcript.mark_saved()

    # -- internals ------------------------------------------------------------------
    def _on_clean_changed(self, clean: bool) -> None:
        self.dirtyChanged.emit(not clean)

    def _on_transcript_change(self, change: TranscriptChange) -> None:
        if change.kind == "reset":
            # Row-based undo steps make no sense after the whole list was replaced.
            self._stack.clear()
        self.changed.emit()
