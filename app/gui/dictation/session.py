"""One live dictation: the microphone, utterance by utterance, to text.

The recorder (:class:`app.core.audio.capture.Recorder`) is started on the GUI
thread; its PortAudio callback only enqueues, its writer thread writes the file
and feeds a 16 kHz tap. The tap is read by :func:`app.core.dictation.dictate`
on the long-lived worker's thread, with the worker's engine (never a second
copy of the model), as an :class:`~app.gui.worker.EngineTask`. Every event
reaches the GUI thread through a queued signal.

States: ``idle`` → ``starting`` (the model may still be loading) → ``listening``
↔ ``transcribing`` (an utterance is being turned into text) → ``finishing``
(stopped; the last utterance is transcribed) → ``idle``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from app.core.audio.capture import (
    CaptureError,
    InputDevice,
    LevelChanged,
    Recorder,
    RecordingStopped,
    SilenceWarning,
    StopReason,
    StreamFactory,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.asr.engine import Engine
    from app.core.settings import Settings
    from app.gui.worker import TranscriptionService

IDLE, STARTING, LISTENING, TRANSCRIBING, FINISHING = (
    "idle",
    "starting",
    "listening",
    "transcribing",
    "finishing",
)


def amplitude(db: float) -> float:
    """dBFS to a linear amplitude (0..1) for the level meters."""
    return 0.0 if db <= -120 else min(1.0, math.pow(10.0, db / 20.0))


@dataclass(frozen=True)
class SessionResult:
    """What a finished dictation leaves: its utterances and the recording."""

    utterances: tuple[Any, ...]  # app.core.dictation.UtteranceTranscribed
    path: Path | None
    duration_s: float
    message: str | None  # one line when the recording stopped by itself

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances if u.text)


class DictationSession(QObject):
    """Start and stop dictation; text arrives as ``utterance`` events on the GUI thread."""

    stateChanged = Signal(str)
    level = Signal(float, float, float)  # rms, peak (0..1), elapsed s
    utteranceStarted = Signal(object)  # UtteranceStarted
    utterance = Signal(object)  # UtteranceTranscribed
    finished = Signal(object)  # SessionResult
    failed = Signal(str)  # one line
    notice = Signal(str)  # one line (no sound from the device, device lost)

    _event = Signal(object)  # from the worker and writer threads, queued

    def __init__(
        self,
        service: TranscriptionService,
        stream_factory: StreamFactory | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.stream_factory = stream_factory
        self.state = IDLE
        self.keep_file = True
        self.recorder: Recorder | None = None
        self._task_id: int | None = None
        self._cancel: threading.Event | None = None
        self._utterances: list[Any] = []
        self._pending = 0  # utterances ended but not yet transcribed
        self._stop_message: str | None = None
        self.path: Path | None = None
        self.duration_s = 0.0
        self.target = "window"
        # Why dictation can't start now ("" when it can): the window says the model is
        # not on this computer yet, rather than let the worker download it unasked.
        self.blocked: Callable[[], str] = lambda: ""
        self._event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)
        service.taskEnded.connect(self._on_task_ended)

    @property
    def active(self) -> bool:
        return self.state != IDLE

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    # -- start / stop --------------------------------------------------------------
    def start(
        self,
        settings: Settings,
        keep_file: bool = True,
        target: str = "window",
        device: InputDevice | str | None = None,
    ) -> bool:
        """Open the microphone and start transcribing. False (``failed`` emitted) if not.

        ``keep_file=False`` deletes the recording once its text is out (dictation into
        other applications keeps the text in Recent dictations instead). ``target`` says
        who shows the text ("window": the dictation view; "app": the focused application).
        ``device`` overrides ``settings.input_device``."""
        from app.core.audio.utterances import UtteranceOptions
        from app.core.dictation import DictationOptions, dictate
        from app.gui.worker import EngineTask

        if self.active:
            return True
        if reason := self.blocked():
            self.failed.emit(reason)
            return False
        self.target = target
        recorder = Recorder(
            device if device is not None else (settings.input_device or None),
            stream_factory=self.stream_factory,
            on_event=self._on_capture_event,
        )
        tap = recorder.open_tap()
        try:
            recorder.start()
        except CaptureError as exc:
            self.failed.emit(str(exc))
            return False
        self.recorder = recorder
        self.path = recorder.path
        self.keep_file = keep_file
        self.duration_s = 0.0
        self._utterances = []
        self._pending = 0
        self._stop_message = None
        options = DictationOptions(
            utterances=UtteranceOptions(
                end_silence_s=settings.dictation_pause_s,
                max_utterance_s=settings.dictation_max_utterance_s,
            )
        )
        emit = self._event.emit

        def run(engine: Engine, cancel: threading.Event) -> None:
            emit(_READY)  # the worker has loaded the engine before calling this
            try:
                for ev in dictate(engine, tap, options, cancel=cancel):
                    emit(ev)
            finally:
                tap.close()

        self._cancel = threading.Event()
        task = EngineTask(settings=settings, run=run, cancel=self._cancel)
        self._task_id = task.id
        self._set_state(STARTING)
        self.service.run_task(task)
        return True

    def stop(self) -> None:
        """Stop listening; the utterance in progress is still transcribed."""
        if self.recorder is None:
            return
        recorder, self.recorder = self.recorder, None
        self._set_state(FINISHING)
        recording = recorder.stop()
        self.duration_s = recording.duration_s
        if recording.message:
            self._stop_message = recording.message

    def cancel(self) -> None:
        """Stop at once without finishing the last utterance."""
        if self._cancel is not None:
            self._cancel.set()
        self.stop()

    # -- events ----------------------------------------------------------------------
    def _on_capture_event(self, event: object) -> None:
        # The recorder's writer thread: post only.
        if isinstance(event, (LevelChanged, SilenceWarning, RecordingStopped)):
            self._event.emit(event)

    @Slot(object)
    def _on_event(self, ev: object) -> None:
        from app.core.dictation import UtteranceEnded, UtteranceStarted, UtteranceTranscribed

        if ev is _READY:
            if self.state == STARTING:
                self._set_state(TRANSCRIBING if self._pending else LISTENING)
        elif isinstance(ev, LevelChanged):
            self.level.emit(amplitude(ev.rms_dbfs), amplitude(ev.peak_dbfs), ev.elapsed_s)
        elif isinstance(ev, SilenceWarning):
            self.notice.emit(ev.message)
        elif isinstance(ev, RecordingStopped):
            self.duration_s = ev.duration_s
            if ev.reason is not StopReason.REQUESTED and ev.message:
                self._stop_message = ev.message
                self.notice.emit(ev.message)
                if self.recorder is not None:  # a fault ended it: finish what was heard
                    self.recorder = None
                    self._set_state(FINISHING)
        elif isinstance(ev, UtteranceStarted):
            self.utteranceStarted.emit(ev)
        elif isinstance(ev, UtteranceEnded):
            self._pending += 1
            if self.state == LISTENING:
                self._set_state(TRANSCRIBING)
        elif isinstance(ev, UtteranceTranscribed):
            self._pending = max(0, self._pending - 1)
            self._utterances.append(ev)
            self.utterance.emit(ev)
            if self._pending == 0 and self.state == TRANSCRIBING:
                self._set_state(LISTENING)

    @Slot(int, object)
    def _on_task_ended(self, task_id: int, failure: object) -> None:
        if task_id != self._task_id:
            return
        self._task_id = None
        if self.recorder is not None:  # the engine failed while the microphone was open
            self.stop()
        if failure is not None:
            self.failed.emit(str(getattr(failure, "message", failure)))
        path = self.path
        if path is not None and not self.keep_file:
            path.unlink(missing_ok=True)
            path = None
        self._set_state(IDLE)
        self.finished.emit(
            SessionResult(tuple(self._utterances), path, self.duration_s, self._stop_message)
        )


_READY = object()
"""Posted by the task once the engine is loaded and the first block is awaited."""
