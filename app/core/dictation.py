"""Live dictation: utterances from a stream of 16 kHz audio, each transcribed as it ends.

:func:`dictate` reads a source of 16 kHz mono blocks (usually a recorder's
:class:`~app.core.audio.capture.AudioTap`), finds utterances with
:class:`~app.core.audio.utterances.UtteranceSegmenter` and hands each finished utterance to
the engine at once, on the caller's thread (the thread that owns the engine). While an
utterance is being transcribed the audio keeps arriving on the source's queue (nothing is
lost) and is looked at right after.

It yields frozen events: :class:`UtteranceStarted`, :class:`UtteranceEnded` (being
transcribed now), :class:`UtteranceTranscribed` with the text, capture events that came
through the source (``LevelChanged``, ``SilenceWarning``, ``RecordingStopped``, when the tap
was opened with ``events=True``) and finally :class:`DictationFinished`. Utterance times are
seconds from the start of the source, which for a recorder's tap is the start of its file.

The source ending (the recorder was stopped) finishes the utterance in progress and
transcribes it; ``cancel`` stops without finishing (raises :class:`Cancelled`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from app.core.audio.utterances import (
    SpeechStarted,
    Utterance,
    UtteranceOptions,
    UtteranceSegmenter,
)
from app.core.errors import Cancelled

# A margin inside the model's window (the processor pads to the window; never go over).
_WINDOW_MARGIN_S = 0.1


@dataclass(frozen=True)
class DictationOptions:
    utterances: UtteranceOptions = field(default_factory=UtteranceOptions)
    # torch threads while dictating: 1 leaves a core to the capture and the rest of the
    # desktop, and on a busy 2-core machine the listener decoded a 2 s utterance in 0.17 s
    # on 1 thread against 0.64 s on 2 (measured; see benchmarks/README.md). 0 = unchanged.
    threads: int = 1


@dataclass(frozen=True)
class UtteranceStarted:
    index: int
    start: float  # seconds from the start of the stream


@dataclass(frozen=True)
class UtteranceEnded:
    """Speech ended (or was cut at the longest length); the text is being made."""

    index: int
    start: float
    end: float


@dataclass(frozen=True)
class UtteranceTranscribed:
    index: int
    start: float
    end: float
    text: str  # may be "" (the model heard no words)
    transcribe_s: float = 0.0  # time the engine took
    cut: bool = False  # the utterance reached the longest length and was cut


@dataclass(frozen=True)
class DictationFinished:
    utterances: tuple[UtteranceTranscribed, ...]
    duration_s: float  # audio seen

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances if u.text)


DictationEvent = UtteranceStarted | UtteranceEnded | UtteranceTranscribed | DictationFinished


def max_utterance_seconds(engine: object, wanted: float) -> float:
    """The longest utterance: ``wanted``, but never more than the model's window."""
    window = getattr(engine, "window_seconds", None)
    if window:
        return max(1.0, min(wanted, float(window) - _WINDOW_MARGIN_S))
    return wanted


def dictate(
    engine: object,
    source: Iterable[object],
    options: DictationOptions = DictationOptions(),
    cancel: threading.Event | None = None,
) -> Iterator[object]:
    """Transcribe each utterance of ``source`` as it ends; see the module text.

    ``engine`` is an :class:`app.core.asr.engine.Engine` (loaded here if it isn't yet).
    Items of ``source`` that are not numpy arrays are passed through as they come.
    """
    from app.core.asr.engine import Engine

    assert isinstance(engine, Engine)
    if not engine.loaded:
        engine.load(cancel=cancel)
    seg_options = options.utterances
    limit = max_utterance_seconds(engine, seg_options.max_utterance_s)
    if limit != seg_options.max_utterance_s:
        from dataclasses import replace

        seg_options = replace(seg_options, max_utterance_s=limit)
    segmenter = UtteranceSegmenter(seg_options)
    done: list[UtteranceTranscribed] = []
    import torch

    saved_threads = torch.get_num_threads()
    if options.threads > 0:
        torch.set_num_threads(options.threads)

    def transcribe(utterances: list[Utterance]) -> Iterator[object]:
        for u in utterances:
            yield UtteranceEnded(u.index, u.start, u.end)
        started = time.monotonic()
        texts: dict[int, str] = {}
        for i, text, _retried in engine.transcribe([u.audio for u in utterances], cancel):
            texts[i] = text
        took = (time.monotonic() - started) / max(1, len(utterances))
        for i, u in enumerate(utterances):
            result = UtteranceTranscribed(u.index, u.start, u.end, texts[i].strip(), took, u.cut)
            done.append(result)
            yield result

    def handle(events: list[object]) -> Iterator[object]:
        finished = [e for e in events if isinstance(e, Utterance)]
        for e in events:
            if isinstance(e, SpeechStarted):
                yield UtteranceStarted(e.index, e.start)
        if finished:
            yield from transcribe(finished)

    try:
        for item in source:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if isinstance(item, np.ndarray):
                yield from handle(list(segmenter.push(item)))
            else:
                yield item
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        yield from handle(list(segmenter.flush()))
        yield DictationFinished(tuple(done), segmenter.position)
    finally:
        segmenter.close()
        torch.set_num_threads(saved_threads)
