"""Write as you go: store a transcription in the library while it runs, and resume it.

:class:`JobRecorder` consumes the pipeline's events and commits each chunk's
segments as soon as the chunk is transcribed, so a crash loses at most the
chunks in flight. :func:`resume` transcribes only the chunks not stored yet, on
the chunk cut stored with the job, and ends with the whole transcript.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.errors import Cancelled, MurmurError
from app.core.events import (
    ChunksPlanned,
    ChunkTranscribed,
    Event,
    Finished,
    MediaOpened,
    ModelReady,
    Notice,
    SpeechFound,
)
from app.core.store.library import Library, LibraryError, MediaChanged, NewJob

if TYPE_CHECKING:
    from app.core.asr.engine import Engine
    from app.core.pipeline import PipelineOptions
    from app.core.settings import Settings

RESUMABLE = ("interrupted", "failed", "cancelled")


def settings_record(settings: Settings | None) -> dict[str, Any]:
    """The settings a job used, as kept with it in the library (no window layout)."""
    if settings is None:
        return {}
    data = asdict(settings)
    for key in ("window_geometry", "window_state", "last_export_dir"):
        data.pop(key, None)
    return data


class JobRecorder:
    """Stores the events of one job as they come (see :meth:`record`)."""

    def __init__(self, library: Library, transcription_id: int) -> None:
        self.library = library
        self.id = transcription_id
        self.resuming = False  # the chunk cut is already stored: keep it
        self.store_error: str | None = None  # set when the library stopped taking writes
        self.finished = False  # the Finished event was stored
        self.planned = False  # chunks were stored from ChunksPlanned events

    def consume(self, event: Event) -> None:
        lib = self.library
        match event:
            case MediaOpened(duration=duration):
                lib.update(self.id, duration=duration)
            case ModelReady(model=model, device=device):
                lib.update(self.id, model=model, device=device.label(), precision=device.dtype)
            case ChunksPlanned(chunks=chunks, restart=restart):
                # the cut grows while earlier chunks are transcribed (pipelining)
                if restart or not (self.resuming or self.planned):
                    lib.set_chunks(self.id, chunks)
                else:
                    lib.add_planned_chunks(self.id, chunks)
                self.planned = True
            case SpeechFound(plan=plan):
                if not (self.resuming or self.planned):
                    lib.set_chunks(self.id, plan)
            case ChunkTranscribed(index=index, text=text, segments=segments):
                lib.add_chunk(self.id, index, text, segments)
            case Finished(transcript=transcript):
                lib.finish(self.id, transcript.meta)
                self.finished = True
            case _:
                pass

    def record(self, events: Iterable[Event]) -> Iterator[Event]:
        """Pass ``events`` through, storing each first; the job's status follows the outcome.

        When the library stops taking writes (disk full, folder made read-only)
        the transcription goes on: ``store_error`` says why, and a ``Notice``
        tells the user once.
        """
        try:
            for event in events:
                if self.store_error is None:
                    try:
                        self.consume(event)
                    except (LibraryError, sqlite3.Error, OSError) as exc:
                        self.store_error = str(exc).splitlines()[0] if str(exc) else repr(exc)
                        yield Notice(f"The library stopped saving this job: {self.store_error}")
                yield event
        except Cancelled:
            self._end("cancelled", "Cancelled")
            raise
        except MurmurError as exc:
            self._end("failed", str(exc))
            raise
        except GeneratorExit:  # the consumer stopped listening
            if not self.finished:
                self._end("cancelled", "Stopped")
            raise
        except BaseException as exc:
            self._end("failed", f"{type(exc).__name__}: {exc}")
            raise

    def _end(self, status: str, error: str) -> None:
        try:
            self.library.end(self.id, status, error)
        except (LibraryError, sqlite3.Error, OSError) as exc:  # the job's own error matters more
            logging.getLogger(__name__).warning("could not store the job's status: %s", exc)


def media_kind(path: str | Path) -> str:
    """``"recording"`` for a file in Murmur's recordings folder, else ``"file"``."""
    from app.core.audio.capture import recordings_dir

    try:
        Path(path).resolve().relative_to(recordings_dir().resolve())
    except (ValueError, OSError):
        return "file"
    return "recording"


def start_job(
    library: Library,
    path: str | Path,
    *,
    kind: str | None = None,
    settings: Mapping[str, Any] | None = None,
    model: str = "",
    title: str | None = None,
) -> JobRecorder:
    """Create a running job for ``path`` and return its recorder."""
    path = Path(path)
    tid = library.create(
        NewJob(
            title=title if title is not None else path.stem,
            media_path=str(path.resolve()) if path.exists() else str(path),
            kind=kind or media_kind(path),
            model=model,
            settings=dict(settings or {}),
            status="running",
        )
    )
    return JobRecorder(library, tid)


def transcribe_into(
    library: Library,
    path: str | Path,
    engine: Engine,
    options: PipelineOptions | None = None,
    cancel: threading.Event | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    kind: str = "file",
) -> tuple[int, Iterator[Event]]:
    """Start a job and return (its id, the pipeline's events, stored as they pass)."""
    from app.core.pipeline import transcribe_file

    recorder = start_job(library, path, kind=kind, settings=settings, model=engine.options.model)
    events = transcribe_file(path, engine, options, cancel)
    return recorder.id, recorder.record(events)


def resume(
    library: Library,
    transcription_id: int,
    engine: Engine,
    options: PipelineOptions | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[Event]:
    """Finish a job: only the chunks not stored yet, on the stored chunk cut.

    Raises :class:`MediaChanged` when the media is gone or not the same file, and
    :class:`LibraryError` when the job has nothing to resume. The final
    ``Finished`` holds the whole transcript as stored.
    """
    from app.core.pipeline import transcribe_file

    entry = library.get(transcription_id)
    if entry.status == "done":
        raise LibraryError(f"Transcript {transcription_id} is finished; there is nothing to resume")
    if entry.status not in RESUMABLE:
        raise LibraryError(
            f"Transcript {transcription_id} is {entry.status} in another Murmur; it can't be"
            " resumed now"
        )
    problem = library.media_problem(transcription_id)
    if problem:
        raise MediaChanged(f"Can't resume: {problem}")
    stored = library.chunks(transcription_id)
    recorder = JobRecorder(library, transcription_id)
    library.start(transcription_id)
    if stored:
        recorder.resuming = True
        plan = [c.to_chunk() for c in stored]
        done = {c.index for c in stored if c.done}
        # extend: a job stopped while its cut was still growing gets the rest of it
        events = transcribe_file(
            entry.media_path, engine, options, cancel, chunks=plan, skip=done, extend=True
        )
    else:  # stopped before the chunk cut was stored: start again
        events = transcribe_file(entry.media_path, engine, options, cancel)
    for event in recorder.record(events):
        if isinstance(event, Finished):
            whole = library.transcript(transcription_id)
            whole.meta.processing_seconds = event.transcript.meta.processing_seconds
            whole.meta.speech_seconds = event.transcript.meta.speech_seconds
            yield Finished(whole)
        else:
            yield event
