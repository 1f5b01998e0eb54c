"""Find utterances in live 16 kHz audio as it arrives: where each starts and where it ends.

:class:`UtteranceSegmenter` takes blocks of any size, runs silero-vad on 512-sample windows
(one model call per window, the LSTM state carried across calls) and reports:

* :class:`SpeechStarted` once an utterance has held ``min_speech_s`` of speech;
* :class:`Utterance` (its audio and times) once ``end_silence_s`` of silence follows it, or
  when it reaches ``max_utterance_s`` (cut at its quietest window in the last part, the
  rest going on as the next utterance), or at :meth:`UtteranceSegmenter.flush`.

Each utterance starts ``preroll_s`` before the first speech window, so that a first syllable
that the detector hears late is kept, and ends ``tail_s`` after the last speech window.
Bursts with less than ``min_speech_s`` of speech (a click, a cough) are dropped.

Before detection the level is normalised, causally: the loud parts of the last
``level_history_s`` are brought to ``target_dbfs`` (gain capped), as the file pipeline does
(:mod:`app.core.audio.vad`), so quiet speech is found. The samples handed on are never
changed. Only the audio still needed (the utterance in progress, the pre-roll) is kept.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core.audio.vad import MODEL_RATE, WINDOW, _loud_level, window_levels_db


@dataclass(frozen=True)
class UtteranceOptions:
    threshold: float = 0.5  # speech probability that starts (or continues) speech
    neg_threshold: float = 0.35  # below this a window counts as silence
    min_speech_s: float = 0.25  # less speech than this in an utterance: dropped
    end_silence_s: float = 0.5  # this much silence ends an utterance
    preroll_s: float = 0.3  # audio kept from before the first speech window
    tail_s: float = 0.2  # audio kept after the last speech window
    max_utterance_s: float = 30.0  # cut longer speech (at its quietest point)
    normalize: bool = True  # level normalisation before detection (quiet speech)
    target_dbfs: float = -20.0
    max_gain_db: float = 40.0
    max_cut_db: float = 20.0
    level_history_s: float = 30.0
    min_loud_s: float = 0.25  # loud audio needed before a gain is applied


@dataclass(frozen=True)
class SpeechStarted:
    index: int
    start: float  # seconds from the start of the stream (pre-roll included)


@dataclass(frozen=True)
class Utterance:
    index: int
    start: float  # seconds from the start of the stream
    end: float
    audio: np.ndarray  # 16 kHz mono float32, samples [start, end)
    cut: bool = False  # ended because it reached max_utterance_s

    @property
    def duration(self) -> float:
        return self.end - self.start


SegmenterEvent = SpeechStarted | Utterance


class _Normalizer:
    """Causal gain for detection: the loud parts of the recent past at target_dbfs."""

    def __init__(self, options: UtteranceOptions) -> None:
        self.options = options
        per_s = MODEL_RATE / WINDOW
        self._levels: collections.deque[float] = collections.deque(
            maxlen=max(1, round(options.level_history_s * per_s))
        )
        self._min_loud = max(1, round(options.min_loud_s * per_s))
        self._gain = 1.0
        self._count = 0

    def gain(self, window: np.ndarray) -> float:
        self._levels.append(float(window_levels_db(window)[0]))
        self._count += 1
        if self._count % 8 == 1 or self._gain == 1.0:
            loud = _loud_level(np.fromiter(self._levels, float), self._min_loud)
            if loud is not None:
                o = self.options
                db = float(np.clip(o.target_dbfs - loud, -o.max_cut_db, o.max_gain_db))
                self._gain = 10.0 ** (db / 20.0)
        return self._gain


class UtteranceSegmenter:
    """Streaming utterance detection on 16 kHz mono audio. Not thread-safe; one stream."""

    def __init__(self, options: UtteranceOptions = UtteranceOptions(), model: Any = None) -> None:
        self.options = options
        self._model = model
        self._own_model = model is None
        self._normalizer = _Normalizer(options)
        self._pending = np.zeros(0, np.float32)  # samples not yet a whole window
        self._buf = np.zeros(0, np.float32)  # kept audio
        self._buf_start = 0  # absolute sample index of _buf[0]
        self._pos = 0  # absolute index of the next window's first sample
        self._index = 0
        self._in_speech = False
        self._started_event = False
        self._utt_start = 0
        self._speech_samples = 0
        self._last_speech_end = 0
        self._silence_from: int | None = None
        self._probs: list[tuple[int, float]] = []  # (window start, prob) in this utterance
        r = MODEL_RATE
        self._preroll = round(options.preroll_s * r)
        self._tail = round(options.tail_s * r)
        self._end_silence = round(options.end_silence_s * r)
        self._min_speech = round(options.min_speech_s * r)
        self._max_len = max(WINDOW * 8, round(options.max_utterance_s * r))

    # ------------------------------------------------------------------ model

    def _prob(self, window: np.ndarray) -> float:
        import torch

        if self._model is None:
            from app.core.audio.vad import _acquire_model

            self._model = _acquire_model()
            self._model.reset_states()
        with torch.inference_mode():
            return float(self._model(torch.from_numpy(window), MODEL_RATE).item())

    def close(self) -> None:
        """Give the detector's model back to the pool."""
        if self._model is not None and self._own_model:
            from app.core.audio.vad import _release_model

            self._model.reset_states()
            _release_model(self._model)
        self._model = None

    # ------------------------------------------------------------------ feeding

    @property
    def position(self) -> float:
        """Seconds of audio seen so far."""
        return (self._pos + len(self._pending)) / MODEL_RATE

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def push(self, samples: np.ndarray) -> list[SegmenterEvent]:
        """Feed the next block; returns what it completed."""
        block = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._buf = np.concatenate([self._buf, block]) if self._buf.size else block.copy()
        data = np.concatenate([self._pending, block]) if self._pending.size else block
        events: list[SegmenterEvent] = []
        full = len(data) // WINDOW
        if full:
            import torch

            # One model call per 32 ms window: on one thread it costs ~1 ms; with the
            # intra-op pool it is 10-30x slower on a busy machine (measured).
            threads = torch.get_num_threads()
            if threads != 1:
                torch.set_num_threads(1)
            try:
                for k in range(full):
                    self._step(data[k * WINDOW : (k + 1) * WINDOW], events)
            finally:
                if threads != 1:
                    torch.set_num_threads(threads)
        self._pending = data[full * WINDOW :].copy()
        self._trim()
        return events

    def flush(self) -> list[SegmenterEvent]:
        """The stream has ended: finish the utterance in progress (if it holds speech)."""
        events: list[SegmenterEvent] = []
        if self._in_speech:
            end = min(self._last_speech_end + self._tail, self._buf_start + len(self._buf))
            self._emit(end, events)
        return events

    # ------------------------------------------------------------------ state machine

    def _step(self, window: np.ndarray, events: list[SegmenterEvent]) -> None:
        o = self.options
        x = window
        if o.normalize:
            x = np.clip(window * self._normalizer.gain(window), -1.0, 1.0).astype(np.float32)
        prob = self._prob(np.ascontiguousarray(x))
        p = self._pos
        self._pos += WINDOW
        if not self._in_speech:
            if prob >= o.threshold:
                self._in_speech = True
                self._started_event = False
                self._utt_start = max(self._buf_start, p - self._preroll)
                self._speech_samples = WINDOW
                self._last_speech_end = p + WINDOW
                self._silence_from = None
                self._probs = [(p, prob)]
                self._maybe_started(events)
            return
        self._probs.append((p, prob))
        if prob >= o.threshold:
            self._speech_samples += WINDOW
            self._last_speech_end = p + WINDOW
            self._silence_from = None
            self._maybe_started(events)
        elif prob < o.neg_threshold:
            if self._silence_from is None:
                self._silence_from = p
            if self._pos - self._silence_from >= self._end_silence:
                self._emit(min(self._last_speech_end + self._tail, self._pos), events)
                return
        else:
            self._last_speech_end = p + WINDOW  # in between: still speech, not yet silence
        if self._pos - self._utt_start >= self._max_len:
            self._cut(events)

    def _maybe_started(self, events: list[SegmenterEvent]) -> None:
        if not self._started_event and self._speech_samples >= self._min_speech:
            self._started_event = True
            events.append(SpeechStarted(self._index, self._utt_start / MODEL_RATE))

    def _emit(self, end: int, events: list[SegmenterEvent], cut: bool = False) -> None:
        start = self._utt_start
        if self._speech_samples >= self._min_speech and end > start:
            self._maybe_started(events)
            audio = self._buf[start - self._buf_start : end - self._buf_start].copy()
            events.append(
                Utterance(self._index, start / MODEL_RATE, end / MODEL_RATE, audio, cut=cut)
            )
            self._index += 1
        self._in_speech = False
        self._started_event = False
        self._probs = []

    def _cut(self, events: list[SegmenterEvent]) -> None:
        """The utterance is as long as allowed: end it at its quietest window late in it."""
        half = self._utt_start + self._max_len // 2
        candidates = [(prob, p) for p, prob in self._probs if p >= half] or [
            (prob, p) for p, prob in self._probs[-1:]
        ]
        _, at = min(candidates)
        rest = [(p, prob) for p, prob in self._probs if p >= at + WINDOW]
        self._emit(at + WINDOW // 2, events, cut=True)
        # The rest goes on as the next utterance, from the cut (no pre-roll: it would repeat).
        self._in_speech = True
        self._utt_start = at + WINDOW // 2
        self._probs = rest
        speech = [p for p, prob in rest if prob >= self.options.threshold]
        self._speech_samples = WINDOW * len(speech)
        self._last_speech_end = (speech[-1] + WINDOW) if speech else self._utt_start
        self._maybe_started(events)

    def _trim(self) -> None:
        """Drop audio no longer needed: before the utterance, or older than the pre-roll."""
        keep_from = self._utt_start if self._in_speech else self._pos - self._preroll - WINDOW
        drop = keep_from - self._buf_start
        if drop > MODEL_RATE:  # trim in steps of at least 1 s
            self._buf = self._buf[drop:].copy()
            self._buf_start += drop
