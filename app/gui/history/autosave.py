"""Edits saved to the library as they are made: debounced, written off the UI thread.

Every change of the document restarts a short timer; when it fires, the current
segments are handed to one background thread that writes only what differs
(:meth:`Library.save_segments`). Undo and redo are edits like any other, so they
are saved too. :meth:`flush` writes what is pending and waits (on close).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.store import Library
from app.core.transcript import Segment
from app.gui.document import TranscriptDocument

log = logging.getLogger(__name__)

DELAY_MS = 400  # on disk well within 1 s of the last keystroke

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _saver() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="murmur-autosave")
        return _executor


class LibraryAutosave(QObject):
    saved = Signal(int)  # transcription id
    saveFailed = Signal(str)  # one line

    def __init__(
        self,
        doc: TranscriptDocument,
        library: Library,
        transcription_id: int,
        delay_ms: int = DELAY_MS,
    ) -> None:
        super().__init__(doc)
        self.doc = doc
        self.library = library
        self.transcription_id = transcription_id
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save_now)
        self._pending: Future[int] | None = None
        self._saved_segments = doc.transcript.segments
        doc.changed.connect(self._timer.start)

    @property
    def pending(self) -> bool:
        return self._timer.isActive() or (self._pending is not None and not self._pending.done())

    def save_now(self) -> None:
        """Hand the current segments to the saver thread (returns at once)."""
        self._timer.stop()
        segments = self.doc.transcript.segments
        if segments == self._saved_segments:
            return
        self._saved_segments = segments
        future = _saver().submit(self._write, segments)
        future.add_done_callback(self._done)
        self._pending = future

    def _write(self, segments: tuple[Segment, ...]) -> int:
        return self.library.save_segments(self.transcription_id, segments)

    def _done(self, future: Future[int]) -> None:  # on the saver thread: signals are queued
        exc = future.exception()
        if exc is not None:
            log.warning("autosave failed: %s", exc)
            self.saveFailed.emit(f"Not saved to the library: {exc}")
        else:
            self.saved.emit(self.transcription_id)

    def flush(self, timeout: float = 10.0) -> None:
        """Write what is pending now and wait for it (on close)."""
        if self._timer.isActive():
            self.save_now()
        if self._pending is not None:
            try:
                self._pending.result(timeout=timeout)
            except Exception as exc:  # reported through saveFailed already
                log.warning("autosave failed on close: %s", exc)
