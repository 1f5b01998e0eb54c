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

import collections
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
from app.core.audio.media import SAMPLE_RATE, SliceReader, StreamedSamples, _spill_dir
from app.core.audio.stretches import (
    Decoded,
    Detecting,
    Item,
    Restarted,
    SpeechStretches,
    Stretch,
)
from app.core.audio.vad import VadOptions
from app.core.errors import Cancelled, MediaError

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
    try:
        fd = recv_handle(conn)
        conn.send(("ready",))  # started: from here on, a death is the media's doing
    except (EOFError, OSError):  # the parent is gone already: nothing to do, nothing to say
        return
    with open(fd, "r+b") as file:
        producer = SpeechStretches(path, vad, **options, stop=_ParentSays(conn), samples_file=file)
        producer.items = _Sender(conn, producer)  # type: ignore[assignment]
        with contextlib.suppress(BrokenPipeError, EOFError, OSError):
            producer.run()  # hands every item over, its error included
        with contextlib.suppress(OSError):
            conn.close()


def _detector(vad: VadOptions, rate: int, conn: Connection) -> None:
    """The detection process: receive the samples file, then find the speech of each
    stretch the parent names, in order, until "stop" or the parent's end. (A stretch
    takes it a fraction of a second, so a stop is noticed between stretches.)"""
    from multiprocessing.reduction import recv_handle

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        fd = recv_handle(conn)
        conn.send(("ready",))
    except (EOFError, OSError):  # the parent is gone already
        return
    parent = multiprocessing.parent_process()
    with open(fd, "rb") as file, contextlib.suppress(BrokenPipeError, EOFError, OSError):
        samples = SharedSamples(file)
        while True:
            if not conn.poll(0.5):
                if parent is not None and not parent.is_alive():
                    return
                continue
            message = conn.recv()
            if message[0] != "detect":
                return
            _, generation, start, end = message
            samples._set_size(end)
            try:
                regions = stretches.stretch_regions(
                    samples.read(start, end), start, rate, vad, None
                )
            except BaseException as exc:
                conn.send(("error", _picklable(exc)))
                return
            conn.send(("found", generation, regions))


class _Child:
    """A child process of the producer's, with its end of the pipe."""

    def __init__(self, ctx: Any, target: Any, args: tuple[Any, ...], name: str, what: str) -> None:
        # Duplex: a socket pair, to pass the file there and "stop" (no semaphores: a
        # process that exits at once, on a second Ctrl+C, leaves none behind).
        self.conn, theirs = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=target, args=(*args, theirs), name=name, daemon=True
        )  # daemon: never outlives the app
        self.heard = False  # it has said something
        self._stopped = False
        try:
            _start(self.process)
        except Exception as exc:  # no processes here, or no spawnable interpreter
            self.conn.close()
            raise _NotStarted(f"could not start a {what} process: {exc}") from None
        finally:
            theirs.close()

    def send_file(self, file: Any) -> None:
        from multiprocessing.reduction import send_handle

        send_handle(self.conn, file.fileno(), self.process.pid)

    def gone(self) -> bool:
        """Ended, with nothing left to read from it."""
        return not self.process.is_alive() and not self.conn.poll(0)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            with contextlib.suppress(OSError):
                self.conn.send("stop")

    def end(self) -> None:
        """Stop it and wait for its end (ended by force past :data:`_STOP_WAIT_S`)."""
        self.stop()
        self.process.join(_STOP_WAIT_S)
        if self.process.is_alive():
            self.process.terminate()  # a child, not a thread: safe to end
            self.process.join()
        self.conn.close()


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
        detector: bool = False,
    ) -> None:
        self.path = Path(path)
        self.vad = replace(vad, workers=1)
        self.stop = stop or threading.Event()
        self.detector = detector
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
        if not SUPPORTED:
            raise _NotStarted("a decoding process needs POSIX (os.pread, passing a file)")
        ctx = multiprocessing.get_context("spawn")
        detector: _Child | None = None
        if self.detector and self._options["detect"]:
            try:  # first: where it can't start, the decoding process detects
                detector = _Child(
                    ctx, _detector, (self.vad, SAMPLE_RATE), "murmur-detect", "speech detection"
                )
            except _NotStarted as exc:
                log.warning("detecting speech in the decoding process: %s", exc)
        options = {**self._options, "detect": False} if detector else self._options
        try:
            decoder = _Child(
                ctx, _child, (str(self.path), self.vad, options), "murmur-decode", "decoding"
            )
        except BaseException:
            if detector is not None:
                detector.end()
            raise
        try:
            decoder.send_file(self._file)
            if detector is not None:
                detector.send_file(self._file)
            self._relay_items(decoder, detector)
        finally:
            for child in (decoder, detector):
                if child is not None:
                    child.stop()  # both at once, then wait for each
            decoder.end()
            if detector is not None:
                detector.end()

    def _relay_items(self, decoder: _Child, detector: _Child | None) -> None:
        """Hand the children's items over, in order, until the last one. With a
        detection process, the decoder's stretches come without their speech: each is
        sent there and handed over once its speech is found."""
        from multiprocessing.connection import wait

        apart = detector is not None  # the decoder does not detect
        generation = 0  # of the decoding: a restart voids the stretches sent before
        pending: collections.deque[Stretch] = collections.deque()  # sent, not yet found
        finished: Decoded | None = None  # decoding is over: handed over after pending
        announced = False
        while True:
            if finished is not None and not pending:
                self.items.put(finished)
                return
            if self.stop.is_set():
                decoder.stop()
                if detector is not None:
                    detector.stop()
            listening = [c for c in (decoder, detector) if c is not None]
            if finished is not None:
                listening.remove(decoder)  # it has said all it will say
            ready = wait([c.conn for c in listening], timeout=0.1)
            if not ready:
                if finished is None and decoder.gone():
                    raise self._died(decoder.process, decoder.heard)
                if detector is not None and detector.gone():
                    self._detector_lost(detector, pending)
                    detector = None
                continue
            for conn in ready:
                child = decoder if conn is decoder.conn else detector
                assert child is not None
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    if child is decoder:
                        decoder.process.join(1.0)
                        raise self._died(decoder.process, decoder.heard) from None
                    child.process.join(1.0)
                    self._detector_lost(child, pending)
                    detector = None
                    continue
                child.heard = True
                kind = message[0]
                if kind == "ready":
                    continue
                if kind == "error":
                    self.items.put(message[1])
                    return
                if kind == "found":
                    if message[1] != generation:
                        continue  # found for a decoding that started again since
                    self.items.put(replace(pending.popleft(), regions=message[2]))
                elif kind == "item":
                    item, size = message[1], message[2]
                    self.samples._set_size(0 if isinstance(item, Restarted) else size)
                    if not apart or not isinstance(item, Stretch | Restarted):
                        self.items.put(item)
                    elif isinstance(item, Restarted):
                        generation += 1
                        pending.clear()
                        self.items.put(item)
                    else:
                        if not announced:
                            announced = True
                            self.items.put(Detecting())
                        if detector is not None:
                            pending.append(item)
                            first, last = (
                                round(item.start * SAMPLE_RATE),
                                round(item.end * SAMPLE_RATE),
                            )
                            with contextlib.suppress(OSError):
                                detector.conn.send(("detect", generation, first, last))
                        else:
                            self.items.put(self._found_here(item))
                else:  # "decoded"
                    audio, size = message[1], message[2]
                    finished = Decoded(replace(audio, samples=self.samples.mapped(size)))

    def _detector_lost(self, detector: _Child, pending: collections.deque[Stretch]) -> None:
        """The detection process is gone (killed, out of memory): this thread detects
        the stretches it had, and then the rest."""
        if self.stop.is_set():
            raise Cancelled  # it ended as told: the decoder ends with the same
        code = detector.process.exitcode
        log.warning("the speech detection process ended (exit code %s): detecting here", code)
        while pending:
            self.items.put(self._found_here(pending.popleft()))
        return None

    def _found_here(self, stretch: Stretch) -> Stretch:
        first, last = round(stretch.start * SAMPLE_RATE), round(stretch.end * SAMPLE_RATE)
        regions = stretches.stretch_regions(
            self.samples.read(first, last), first, SAMPLE_RATE, self.vad, self.stop
        )
        return replace(stretch, regions=regions)

    def _died(self, process: Any, heard: bool) -> MediaError:
        code = process.exitcode
        how = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
        if not heard and not self.stop.is_set():
            return _NotStarted(f"the decoding process ended before it began ({how})")
        return MediaError(f"Decoding {self.path.name} stopped unexpectedly ({how}).")


class _NotStarted(MediaError):
    """The child ended before its first word."""
