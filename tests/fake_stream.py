"""A stand-in for a PortAudio input stream that plays an array, at real pace.

``FileStreamFactory(samples, rate)`` is a :data:`app.core.audio.capture.StreamFactory`: the
recorder asks it for a stream and gets a :class:`FakeInputStream` that calls the recorder's
callback from its own thread with blocks of ``spec.blocksize`` frames, one block every
``blocksize / rate`` seconds (``pace=1``), as PortAudio would. After the samples it goes on
with silence (like a microphone in a quiet room), stops (``then="stop"``: the stream ends by
itself, as when a device is unplugged), or holds (``then="hold"``: no more blocks, still
"active").

Every delivery is logged (frame index, monotonic time), so a test or benchmark can tell when
a given sample reached the recorder: ``factory.stream.time_of(frame)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app.core.audio.capture import AudioCallback, StreamSpec


class FakeInputStream:
    def __init__(
        self,
        spec: StreamSpec,
        callback: AudioCallback,
        finished: Callable[[], None],
        samples: np.ndarray,
        *,
        pace: float = 1.0,
        then: str = "silence",
        stop_after_frames: int | None = None,
    ) -> None:
        data = np.asarray(samples, dtype=np.float32)
        if data.ndim == 1:
            data = data[:, None]
        if data.shape[1] != spec.channels:
            data = np.repeat(data[:, :1], spec.channels, axis=1)
        self.spec = spec
        self.samples = data
        self.pace = pace
        self.then = then
        self.stop_after_frames = stop_after_frames
        self._callback = callback
        self._finished = finished
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = False
        self.delivered = 0  # frames handed to the callback
        self.source_done = threading.Event()  # every sample of ``samples`` was delivered
        self.log: list[tuple[int, float]] = []  # (frames delivered after the block, time)

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> None:
        self._active = True
        self._thread = threading.Thread(target=self._run, name="fake-input", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        if self._active:
            self._active = False
            self._finished()

    def close(self) -> None:
        self.stop()

    def time_of(self, frame: int) -> float:
        """Monotonic time at which ``frame`` had been delivered."""
        for done, t in self.log:
            if done > frame:
                return t
        raise ValueError(f"frame {frame} was never delivered")

    def _run(self) -> None:
        n = self.spec.blocksize
        period = n / self.spec.samplerate / self.pace if self.pace > 0 else 0.0
        start = time.monotonic()
        k = 0
        while not self._stop.is_set():
            pos = k * n
            if self.stop_after_frames is not None and pos >= self.stop_after_frames:
                self._active = False
                self._finished()  # the stream ended by itself: unplugged
                return
            if pos >= len(self.samples):
                self.source_done.set()
                if self.then == "stop":
                    self._active = False
                    self._finished()
                    return
                if self.then == "hold":
                    self._stop.wait()
                    return
                block = np.zeros((n, self.spec.channels), np.float32)
            else:
                block = self.samples[pos : pos + n]
                if len(block) < n:
                    pad = np.zeros((n - len(block), self.spec.channels), np.float32)
                    block = np.concatenate([block, pad])
            if period:
                delay = start + (k + 1) * period - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            self._callback(block, n, None, None)
            self.delivered += n
            self.log.append((self.delivered, time.monotonic()))
            if pos + n >= len(self.samples):
                self.source_done.set()
            k += 1


class FileStreamFactory:
    """A StreamFactory that plays ``samples`` (mono or (frames, channels)) at ``rate``.

    The recorder must be created with ``samplerate=rate`` (and the channels wanted).
    """

    def __init__(self, samples: np.ndarray, rate: int, **options: Any) -> None:
        self.samples = samples
        self.rate = rate
        self.options = options
        self.stream: FakeInputStream | None = None

    def __call__(
        self, spec: StreamSpec, callback: AudioCallback, finished: Callable[[], None]
    ) -> FakeInputStream:
        assert spec.samplerate == self.rate, "create the Recorder with samplerate=rate"
        self.stream = FakeInputStream(spec, callback, finished, self.samples, **self.options)
        return self.stream
