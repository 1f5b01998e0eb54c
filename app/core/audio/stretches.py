"""Decode a media file and find its speech stretch by stretch, on a producer thread.

The pipeline transcribes the chunks of early stretches while later ones are still
being decoded (:func:`app.core.pipeline.transcribe_file`). Speech is detected over a
fixed grid of stretches (30 s, 1 min, 2 min, then ``STRETCH_S``), each on its own, so that the
regions found do not depend on how far decoding had got when detection ran: a
pipelined run and a sequential one find the same regions. A region that crosses a
stretch boundary comes back as two regions that touch; the chunking joins them again.

The samples are kept in a :class:`~app.core.audio.media.StreamedSamples` (a temporary
file past 20 minutes), read back a stretch or a chunk at a time, so memory stays flat
however long the file is.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.core.audio.media import SAMPLE_RATE, DecodedAudio, StreamedSamples, decode_audio
from app.core.audio.vad import SpeechRegion, VadOptions, detect_speech

# Five minutes: the batched detection has enough windows per call to run at full speed.
# The first stretches are shorter (30 s, 1 min, 2 min), so that the model can start soon.
STRETCH_S = 300.0
_RAMP = (0.1, 0.2, 0.4)  # the first stretches, as fractions of STRETCH_S


@dataclass(frozen=True)
class Stretch:
    """The speech found in ``[start, end)`` seconds of the audio."""

    start: float
    end: float
    regions: tuple[SpeechRegion, ...]


@dataclass(frozen=True)
class Detecting:
    """Detection of the first stretch begins."""


@dataclass(frozen=True)
class Restarted:
    """Decoding started again from the beginning (the whole file disagreed with the early
    channel decision): stretches handed over before are void."""


@dataclass(frozen=True)
class Decoded:
    """Decoding is over; every stretch has been handed over."""

    audio: DecodedAudio


Item = Stretch | Detecting | Restarted | Decoded | BaseException


class AnyOf(threading.Event):
    """Set when it is set itself or when any of ``others`` is (for code that checks a
    cancel event with ``is_set``)."""

    def __init__(self, *others: threading.Event | None) -> None:
        super().__init__()
        self._others = [e for e in others if e is not None]

    def is_set(self) -> bool:
        return super().is_set() or any(e.is_set() for e in self._others)


class SpeechStretches:
    """The producer: :meth:`run` decodes ``path`` and detects speech in each stretch as
    soon as it is decoded, handing each item to ``put``; it ends with :class:`Decoded`
    or an exception (also handed over, never raised). ``stop`` ends it at its next check
    (about every 64 packets while decoding, 16 windows while detecting).

    Detection uses one thread, numpy only (the model runs beside it), and
    ``detect=False`` skips it (the chunks are known already).
    """

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
        samples_file: Any = None,
    ) -> None:
        self.path = Path(path)
        self.vad = replace(vad, workers=1)
        self.track, self.channel = track, channel
        self.stop = stop or threading.Event()
        self.detect = detect
        self.rate = SAMPLE_RATE
        full = (stretch_s or STRETCH_S) * self.rate
        self._sizes = [max(1, round(f * full)) for f in _RAMP] + [max(1, round(full))]
        self.samples = StreamedSamples(
            on_grow=self._grew, on_restart=self._restarted, file=samples_file
        )
        self.items: queue.Queue[Item] = queue.Queue()
        self._next = 0  # first sample of the next stretch
        self._count = 0  # stretches handed over
        self._announced = False

    def run(self) -> None:
        try:
            audio = decode_audio(
                self.path,
                self.rate,
                cancel=self.stop,
                track=self.track,
                channel=self.channel,
                into=self.samples,
            )
            self._detect(self._next, len(audio.samples))
            self.items.put(Decoded(audio))
        except BaseException as exc:  # handed to the consumer's thread
            self.items.put(exc)

    def _grew(self, size: int) -> None:
        while size >= self._next + self._size():
            self._detect(self._next, self._next + self._size())

    def _size(self) -> int:
        """Samples in the next stretch."""
        return self._sizes[min(self._count, len(self._sizes) - 1)]

    def _restarted(self) -> None:
        self._next = self._count = 0
        self.items.put(Restarted())

    def _detect(self, a: int, b: int) -> None:
        if b <= a:
            return
        self._next = b
        self._count += 1
        regions: tuple[SpeechRegion, ...] = ()
        if self.detect:
            if not self._announced:
                self._announced = True
                self.items.put(Detecting())
            regions = stretch_regions(self.samples.read(a, b), a, self.rate, self.vad, self.stop)
        self.items.put(Stretch(a / self.rate, b / self.rate, regions))


def stretch_regions(
    samples: Any, first: int, rate: int, vad: VadOptions, stop: threading.Event | None
) -> tuple[SpeechRegion, ...]:
    """The speech in a stretch's ``samples`` (from sample ``first`` of the file), in the
    file's seconds: the same wherever it runs (this thread, or a detection process)."""
    found = detect_speech(samples, rate, vad, cancel=stop)
    offset = first / rate
    return tuple(SpeechRegion(r.start + offset, r.end + offset) for r in found)


def join_thread(thread: threading.Thread, stop: threading.Event) -> None:
    """Stop and join ``thread``, even when an exception (Ctrl+C) lands in ``join()``: the
    process must never exit while it is inside torch or FFmpeg."""
    stop.set()
    while thread.is_alive():
        with contextlib.suppress(KeyboardInterrupt):
            thread.join()
