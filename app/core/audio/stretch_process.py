"""The producer of :mod:`app.core.audio.stretches` in a child process.

Decoding (PyAV calls Python for every frame) and speech detection are Python work. On
a thread beside the model they share the interpreter lock with it, and with the
model's loading (imports are Python too): measured on a 2-core machine, one hour of
MP3 took the producer 18 s in the pipelined run against 9 s on its own, and the
model's import starved it to a quarter of a core. In a child process it has a whole
core of its own, and the parent's imports run at full speed beside it.

:class:`ProcessStretches` has the same face as :class:`SpeechStretches`: ``items``
(the same items, in the same order), ``samples`` (readable while the child decodes)
and ``stop``. The child writes every decoded sample into an unnamed temporary file
that the parent created and handed over, so nothing is left behind if either process
dies; the parent reads chunks from it and maps it when decoding is over.

The child is started with SIGINT blocked (a Ctrl+C in the terminal reaches the whole
process group): the parent's cancel stops it at its next check, as it stops the
thread, and so does the parent's end, however abrupt. A child that dies without a word
(killed, out of memory) becomes a one-line :class:`MediaError`.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import tempfile
import threading
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from app.core.audio import stretches
from app.core.audio.media import SliceReader, StreamedSamples, _spill_dir
from app.core.audio.stretches import Decoded, Item, Restarted, SpeechStretches
from app.core.audio.vad import VadOptions
from app.core.errors import MediaError

_STOP_WAIT_S = 10.0  # after a stop, how long the child may take to notice it
# Linux and macOS. On Windows the file would need a handle of the parent's own (a handle
# passed to the child shares its file position) and os.pread is missing: a thread there.
SUPPORTED = os.name == "posix" and hasattr(os, "pread")

log = logging.getLogger(__name__)


class SharedSamples(SliceReader):
    """The samples the child has decoded so far, read from the shared file (or from a
    thread's :class:`StreamedSamples` when the child could not start)."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self._size = 0
        self._lock = threading.Lock()
        self.fallback: StreamedSamples | None = None

    def _set_size(self, size: int) -> None:
        with self._lock:
            self._size = size

    def __len__(self) -> int:
        if self.fallback is not None:
            return len(self.fallback)
        with self._lock:
            return self._size

    def read(self, start: int, end: int) -> np.ndarray:
        """A copy of ``[start, end)``; zeros where the file is shorter (after a restart)."""
        if self.fallback is not None:
            return self.fallback.read(start, end)
        start = max(0, start)
        end = min(end, len(self))
        if end <= start:
            return np.zeros(0, dtype=np.float32)
        out = np.zeros(end - start, dtype=np.float32)
        data = os.pread(self._file.fileno(), out.nbytes, start * 4)
        got = len(data) // 4
        out[:got] = np.frombuffer(data, dtype=np.float32, count=got)
        return out

    def mapped(self, size: int) -> np.ndarray:
        """The first ``size`` samples as a read-only memory map (zeros when empty)."""
        self._set_size(size)
        if size == 0:
            return np.zeros(0, dtype=np.float32)
        return np.memmap(self._file, dtype=np.float32, mode="r", shape=(size,))


class _Sender:
    """The child's stand-in for the producer's queue: each item goes to the parent,
    after the samples it covers were flushed to the shared file."""

    def __init__(self, conn: Connection, producer: SpeechStretches) -> None:
        self.conn = conn
        self.producer = producer

    def put(self, item: Item) -> None:
        samples = self.producer.samples
        if isinstance(item, BaseException):
            self.conn.send(("error", _picklable(item)))
        elif isinstance(item, Decoded):
            audio = item.audio
            size = len(audio.samples)
            self.conn.send(("decoded", replace(audio, samples=np.zeros(0, np.float32)), size))
        else:
            samples.flush()
            self.conn.send(("item", item, len(samples)))


def _picklable(exc: BaseException) -> BaseException:
    """``exc`` if it survives the trip to the parent, else a MediaError with its line."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        text = str(exc).strip().splitlines()
        return MediaError(text[0] if text else type(exc).__name__)
    return exc


class _ParentSays(threading.Event):
    """The child's stop: set when the parent sends "stop" or is gone (checked where the
    producer checks its stop, no thread and no semaphore needed)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn
        self._parent = multiprocessing.parent_process()

    def is_set(self) -> bool:
        if not super().is_set():
            try:
                if self._conn.poll():
                    self._conn.recv()
                    self.set()
            except (EOFError, OSError):
                self.set()
            if self._parent is not None and not self._parent.is_alive():
                self.set()
        return super().is_set()


def _child(path: str, vad: VadOptions, options: dict[str, Any], conn: Connection) -> None:
    """The child process: receive the samples file, decode and detect, report.
    ``options``: :class:`SpeechStretches`'s keyword arguments, besides its stop."""
    from multiprocessing.reduction import recv_handle

    with contextlib.suppress(ValueError, OSError):  # a second guard, besides the mask
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = recv_handle(conn)
    conn.send(("ready",))  # started: from here on, a death is the media's doing
    with open(fd, "r+b") as file:
        producer = SpeechStretches(path, vad, **options, stop=_ParentSays(conn), samples_file=file)
        producer.items = _Sender(conn, producer)  # type: ignore[assignment]
        with contextlib.suppress(BrokenPipeError, EOFError, OSError):
            producer.run()  # hands every item over, its error included
        with contextlib.suppress(OSError):
            conn.close()


def _start(process: Any) -> None:
    """Start ``process`` with SIGINT blocked, so that the child inherits it blocked."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:
        process.start()
        return
    old = block(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        block(signal.SIG_SETMASK, old)


class ProcessStretches:
    """Like :class:`SpeechStretches`, with the decoding and detection in a child
    process. :meth:`run` (on a thread of the caller's) starts the child and relays its
    items until the last one; it never raises."""

    def __init__(
        self,
        path: str | Path,
        vad: VadOptions,
        *,
        track: int | None = None,
        channel: str = "auto",
        stop: threading.Event | None = None,
        detect: bool = True,
        stretch_s: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.vad = replace(vad, workers=1)
        self.stop = stop or threading.Event()
        # SpeechStretches' arguments, for the child or the thread; the stretch length is
        # resolved here, as the child reads stretches.STRETCH_S afresh
        self._options: dict[str, Any] = {
            "track": track,
            "channel": channel,
            "detect": detect,
            "stretch_s": stretch_s or stretches.STRETCH_S,
        }
        self.items: queue.Queue[Item] = queue.Queue()
        # Unnamed on POSIX (unlinked at once), deleted on close on Windows.
        self._file = tempfile.TemporaryFile(prefix="murmur-audio-", dir=_spill_dir())  # noqa: SIM115 (closed in close())
        self.samples = SharedSamples(self._file)

    def run(self) -> None:
        try:
            self._relay()
        except _NotStarted as exc:
            # No child (a script without the ``if __name__ == "__main__"`` guard, a
            # sandbox that forbids processes): decode on this thread instead. Only a
            # child that never got going: one that dies decoding (FFmpeg on damaged
            # data) is an error, never tried again inside this process.
            log.warning("decoding on a thread: %s", exc)
            self._on_thread()
        except BaseException as exc:  # handed to the consumer's thread
            self.items.put(exc)

    def _on_thread(self) -> None:
        producer = SpeechStretches(self.path, self.vad, **self._options, stop=self.stop)
        producer.items = self.items
        self.samples.fallback = producer.samples
        producer.run()

    def close(self) -> None:
        """Close the shared file (a memory map of it stays valid)."""
        with contextlib.suppress(OSError):
            self._file.close()

    def _relay(self) -> None:
        from multiprocessing.reduction import send_handle

        if not SUPPORTED:
            raise _NotStarted("a decoding process needs POSIX (os.pread, passing a file)")
        ctx = multiprocessing.get_context("spawn")
        # Duplex: a socket pair, to pass the file there and "stop" (no semaphores: a
        # process that exits at once, on a second Ctrl+C, leaves none behind).
        parent, child = ctx.Pipe(duplex=True)
        stopped = False

        def stop_child() -> None:
            nonlocal stopped
            if not stopped:
                stopped = True
                with contextlib.suppress(OSError):
                    parent.send("stop")

        process = ctx.Process(
            target=_child,
            args=(str(self.path), self.vad, self._options, child),
            name="murmur-decode",
            daemon=True,  # never outlives the app
        )
        try:
            _start(process)
        except Exception as exc:  # no processes here, or no spawnable interpreter
            raise _NotStarted(f"could not start a decoding process: {exc}") from None
        child.close()
        try:
            send_handle(parent, self._file.fileno(), process.pid)
            heard = False
            while True:
                if self.stop.is_set():
                    stop_child()
                if not parent.poll(0.1):
                    if not process.is_alive() and not parent.poll(0):
                        raise self._died(process, heard)
                    continue
                try:
                    message = parent.recv()
                except (EOFError, OSError):
                    process.join(1.0)
                    raise self._died(process, heard) from None
                heard = True
                kind = message[0]
                if kind == "ready":
                    continue
                if kind == "item":
                    item, size = message[1], message[2]
                    self.samples._set_size(0 if isinstance(item, Restarted) else size)
                    self.items.put(item)
                elif kind == "decoded":
                    audio, size = message[1], message[2]
                    self.items.put(Decoded(replace(audio, samples=self.samples.mapped(size))))
                    return
                else:
                    self.items.put(message[1])
                    return
        finally:
            stop_child()
            process.join(_STOP_WAIT_S)
            if process.is_alive():
                process.terminate()  # a child, not a thread: safe to end
                process.join()
            parent.close()

    def _died(self, process: Any, heard: bool) -> MediaError:
        code = process.exitcode
        how = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
        if not heard and not self.stop.is_set():
            return _NotStarted(f"the decoding process ended before it began ({how})")
        return MediaError(f"Decoding {self.path.name} stopped unexpectedly ({how}).")


class _NotStarted(MediaError):
    """The child ended before its first word."""
