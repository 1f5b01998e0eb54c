"""Waveform peaks computed off the GUI thread.

:class:`PeaksLoader` runs :func:`app.core.audio.peaks.media_peaks` (cache, else decode
and compute) on a short-lived Python thread per request and reports on the GUI thread
through queued signals. A newer request, or :meth:`cancel`, cancels the one running
(the decode and the peak pass check the cancel event between blocks); results of a
cancelled or superseded request are dropped. The last few results are kept in memory,
so switching between open files does not even read the disk cache.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict

from PySide6.QtCore import QObject, Signal

from app.core.audio.peaks import Peaks, cache_key, media_peaks
from app.core.errors import Cancelled, MurmurError

KEEP_IN_MEMORY = 4


def _memory_key(path: str) -> str:
    """The file as it is now (a changed file is loaded again)."""
    try:
        return cache_key(path)
    except OSError:
        return f"missing:{path}"


class PeaksLoader(QObject):
    """Loads one media file's peaks at a time; signals ``ready`` or ``failed``."""

    ready = Signal(str, object)  # media path, Peaks
    failed = Signal(str, str)  # media path, one line for the user
    _done = Signal(int, str, object)  # request number, path, Peaks | str (from the thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._request = 0
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._memory: OrderedDict[str, Peaks] = OrderedDict()
        self._done.connect(self._on_done)

    def load(self, path: str) -> Peaks | None:
        """Start loading ``path``; returns the peaks at once when they are in memory."""
        self.cancel()
        key = _memory_key(path)
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        self._request += 1
        cancel = threading.Event()
        self._cancel = cancel
        self._thread = threading.Thread(
            target=self._run,
            args=(self._request, path, cancel),
            name="murmur-waveform",
            daemon=True,
        )
        self._thread.start()
        return None

    def cancel(self) -> None:
        """Cancel the request in progress, if any (its result will not be signalled)."""
        self._request += 1
        if self._cancel is not None:
            self._cancel.set()
            self._cancel = None

    def wait(self, timeout: float = 5.0) -> bool:
        """Wait for the loading thread to end (tests, shutdown); True when it has."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, request: int, path: str, cancel: threading.Event) -> None:
        result: Peaks | str
        try:
            result = media_peaks(path, cancel=cancel)
        except Cancelled:
            return
        except MurmurError as exc:
            result = str(exc)
        except (OSError, ValueError, MemoryError) as exc:
            result = f"Can't read the waveform of this file: {exc}"
        if cancel.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the loader was deleted meanwhile
            self._done.emit(request, path, result)

    def _on_done(self, request: int, path: str, result: object) -> None:
        if request != self._request:
            return  # superseded
        self._cancel = None
        if isinstance(result, Peaks):
            self._memory[_memory_key(path)] = result
            while len(self._memory) > KEEP_IN_MEMORY:
                self._memory.popitem(last=False)
            self.ready.emit(path, result)
        else:
            self.failed.emit(path, str(result))
