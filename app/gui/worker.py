"""The long-lived background worker: owns the Engine, runs the queue in order.

One :class:`Worker` lives on one :class:`WorkerThread` for the whole session.
The GUI talks to it only through queued signals (:class:`TranscriptionService`)
and stops a job by setting the job's ``threading.Event`` directly. Everything
that crosses the thread boundary is a frozen dataclass or an exception.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from app.core.errors import Cancelled, MurmurError
from app.core.events import Event, Notice

if TYPE_CHECKING:
    from collections.abc import Iterable

    from app.core.asr.engine import Engine
    from app.core.settings import Settings
    from app.core.store import Library

_job_ids = iter(range(1, sys.maxsize))

MODEL_JOB = 0
"""The job id on events that concern the model only (the background preload)."""


@dataclass(frozen=True)
class Job:
    """One file to transcribe with the settings current when it was queued."""

    path: str
    settings: Settings
    cancel: threading.Event = field(default_factory=threading.Event)
    id: int = field(default_factory=lambda: next(_job_ids))
    track: int | None = None  # 1-based audio track; None: the file's default track
    library: Library | None = None  # where to keep the result as it comes
    library_id: int | None = None  # the job's transcript in the library
    resume: bool = False  # finish the stored job: only the chunks not stored yet


@dataclass(frozen=True)
class EngineTask:
    """Work other than a file that needs the engine, run on the worker thread with the
    same loaded model (live dictation). ``run(engine, cancel)`` reports through its own
    callbacks; it must return soon after ``cancel`` is set."""

    settings: Settings
    run: Callable[[Engine, threading.Event], None]
    cancel: threading.Event = field(default_factory=threading.Event)
    id: int = field(default_factory=lambda: next(_job_ids))


@dataclass(frozen=True)
class JobFailure:
    """Why a job (or the model load) failed: one line, plus details."""

    message: str
    details: str
    error: BaseException


def describe_failure(exc: BaseException) -> JobFailure:
    """A user-facing line for a MurmurError; "Unexpected error" for bugs."""
    if isinstance(exc, MurmurError):
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JobFailure(message=message, details=str(exc), error=exc)
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    message = f"Unexpected error: {type(exc).__name__}" + (f": {first}" if first else "")
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return JobFailure(message=message, details=details, error=exc)


def _engine_key(settings: Settings) -> tuple[str, str, str]:
    """The settings that need a reload of the weights when they change."""
    return (settings.model, settings.device, settings.precision)


class Worker(QObject):
    """Runs in the worker thread. Slots are called through queued signals."""

    event = Signal(int, object)  # job id (MODEL_JOB for the preload), event dataclass
    jobStarted = Signal(int)
    jobFinished = Signal(int, object)  # job id, Transcript
    jobFailed = Signal(int, object)  # job id, JobFailure
    jobCancelled = Signal(int)
    modelFailed = Signal(object)  # JobFailure
    taskEnded = Signal(int, object)  # task id, JobFailure or None (done or cancelled)

    def __init__(self, shutdown: threading.Event) -> None:
        super().__init__()
        self._shutdown = shutdown
        self._engine: Engine | None = None
        self._engine_key: tuple[str, str, str] | None = None

    # -- engine ----------------------------------------------------------------
    def _engine_for(self, settings: Settings) -> Engine:
        """The engine for these settings; a new one only when model/device/precision change."""
        from app.core.asr.engine import Engine

        options = settings.engine_options()
        key = _engine_key(settings)
        if self._engine is None or self._engine_key != key:
            self.release()
            self._engine = Engine(options)
            self._engine_key = key
        elif self._engine.options != options:
            # Only the prompt context changed: keep the loaded weights.
            self._engine.options = replace(self._engine.options, context=options.context)
        return self._engine

    def release(self) -> None:
        """Drop the engine and give its memory back."""
        if self._engine is None:
            return
        self._engine = None
        self._engine_key = None
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- slots -----------------------------------------------------------------
    @Slot(object)
    def preload(self, settings: Settings) -> None:
        """Load the model ahead of the first file, reporting its stage."""
        from app.core.pipeline import load_engine

        if self._shutdown.is_set():
            return
        try:
            engine = self._engine_for(settings)
            for ev in load_engine(engine, cancel=self._shutdown):
                self.event.emit(MODEL_JOB, ev)
        except Cancelled:
            return
        except Exception as exc:
            self.modelFailed.emit(describe_failure(exc))

    @Slot(object)
    def run_job(self, job: Job) -> None:
        """Transcribe one file; every outcome is reported, nothing escapes."""
        from app.core.pipeline import transcribe_file

        if job.cancel.is_set() or self._shutdown.is_set():
            if job.library is not None and job.library_id is not None:
                with contextlib.suppress(MurmurError):
                    job.library.end(job.library_id, "cancelled", "Cancelled")
            self.jobCancelled.emit(job.id)
            return
        self.jobStarted.emit(job.id)
        try:
            engine = self._engine_for(job.settings)
            options = replace(job.settings.pipeline_options(), track=job.track, waveform=True)
            events: Iterable[Event] = transcribe_file(job.path, engine, options, cancel=job.cancel)
            if job.resume and job.library is not None and job.library_id is not None:
                from app.core.store import resume

                events = resume(job.library, job.library_id, engine, options, job.cancel)
            elif job.library is not None and job.library_id is not None:
                from app.core.store import JobRecorder

                try:
                    job.library.start(job.library_id)
                except MurmurError as exc:
                    self.event.emit(job.id, Notice(f"Not kept in the library: {exc}"))
                else:
                    events = JobRecorder(job.library, job.library_id).record(events)
            for ev in events:
                if job.cancel.is_set():
                    raise Cancelled()
                self.event.emit(job.id, ev)
                transcript = getattr(ev, "transcript", None)
                if transcript is not None:
                    self.jobFinished.emit(job.id, transcript)
                    return
            raise RuntimeError("the pipeline ended without a result")
        except Cancelled:
            self.jobCancelled.emit(job.id)
        except Exception as exc:
            if job.cancel.is_set():
                self.jobCancelled.emit(job.id)
            else:
                self.jobFailed.emit(job.id, describe_failure(exc))

    @Slot(object)
    def run_task(self, task: EngineTask) -> None:
        """Load the engine if needed (progress as MODEL_JOB events), then run the task."""
        from app.core.pipeline import load_engine

        failure: JobFailure | None = None
        try:
            if not (task.cancel.is_set() or self._shutdown.is_set()):
                engine = self._engine_for(task.settings)
                for ev in load_engine(engine, cancel=task.cancel):
                    self.event.emit(MODEL_JOB, ev)
                task.run(engine, task.cancel)
        except Cancelled:
            pass
        except Exception as exc:
            failure = describe_failure(exc)
        self.taskEnded.emit(task.id, failure)


def _forget_dummy_thread() -> None:
    """Python < 3.13 keeps a ``_DummyThread`` for every foreign thread that ever
    asked for ``threading.current_thread()`` (logging does) and never drops it.
    Forget ours when the thread ends so ``threading.active_count()`` is honest."""
    ident = threading.get_ident()
    current = threading._active.get(ident)  # type: ignore[attr-defined]
    if isinstance(current, threading._DummyThread):  # type: ignore[attr-defined]
        with threading._active_limbo_lock:  # type: ignore[attr-defined]
            threading._active.pop(ident, None)  # type: ignore[attr-defined]


class WorkerThread(QThread):
    """Runs the event loop for the worker, then frees the engine in this thread."""

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self.setObjectName("murmur-worker")

    def run(self) -> None:
        try:
            self.exec()
        finally:
            self._worker.release()
            app = QCoreApplication.instance()
            if app is not None:  # hand the worker back so the GUI thread may delete it
                self._worker.moveToThread(app.thread())
            _forget_dummy_thread()


class TranscriptionService(QObject):
    """GUI-thread handle on the worker: start, submit, preload, shut down."""

    _submit = Signal(object)
    _preload = Signal(object)
    _task = Signal(object)

    event = Signal(int, object)
    jobStarted = Signal(int)
    jobFinished = Signal(int, object)
    jobFailed = Signal(int, object)
    jobCancelled = Signal(int)
    modelFailed = Signal(object)
    taskEnded = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._shutdown = threading.Event()
        self._worker = Worker(self._shutdown)
        self.thread = WorkerThread(self._worker)
        self._worker.moveToThread(self.thread)
        self._submit.connect(self._worker.run_job)
        self._preload.connect(self._worker.preload)
        self._task.connect(self._worker.run_task)
        for name in (
            "event",
            "jobStarted",
            "jobFinished",
            "jobFailed",
            "jobCancelled",
            "modelFailed",
            "taskEnded",
        ):
            getattr(self._worker, name).connect(getattr(self, name))
        self._jobs: dict[int, Job] = {}
        self._tasks: dict[int, EngineTask] = {}
        self.taskEnded.connect(lambda task_id, _f: self._tasks.pop(task_id, None))
        self.thread.start()
        _LIVE.add(self)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def submit(
        self,
        path: str,
        settings: Settings,
        cancel: threading.Event | None = None,
        track: int | None = None,
        library: Library | None = None,
        library_id: int | None = None,
        resume: bool = False,
    ) -> Job:
        """Queue a file; ``cancel`` (set from any thread) stops it.

        With ``library`` and ``library_id`` the result is stored as it comes.
        """
        job = Job(
            path=path,
            settings=settings,
            cancel=cancel or threading.Event(),
            track=track,
            library=library,
            library_id=library_id,
            resume=resume,
        )
        self._jobs[job.id] = job
        self._submit.emit(job)
        return job

    def preload(self, settings: Settings) -> None:
        self._preload.emit(settings)

    def run_task(self, task: EngineTask) -> EngineTask:
        """Queue work that needs the engine (after the files queued before it)."""
        self._tasks[task.id] = task
        self._task.emit(task)
        return task

    def forget(self, job_id: int) -> None:
        self._jobs.pop(job_id, None)

    @property
    def running(self) -> bool:
        return self.thread.isRunning()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel everything, stop the thread and wait for it. True when it ended."""
        self._shutdown.set()
        for job in self._jobs.values():
            job.cancel.set()
        for task in self._tasks.values():
            task.cancel.set()
        self.thread.quit()
        if not self.thread.isRunning():
            return True
        return bool(self.thread.wait(timeout_ms))


_LIVE: weakref.WeakSet[TranscriptionService] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    """Safety net: never let Python exit with a worker thread still running."""
    for service in list(_LIVE):
        with contextlib.suppress(RuntimeError):  # the C++ side may be gone already
            service.shutdown()
