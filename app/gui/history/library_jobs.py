"""Glue between the window's queue and the library (no widgets)."""

from __future__ import annotations

import logging
from pathlib import Path

from app.core.errors import MurmurError
from app.core.settings import Settings
from app.core.store import Entry, Library, NewJob
from app.core.store.jobs import media_kind, settings_record
from app.core.transcript import Transcript
from app.gui.document import TranscriptDocument

log = logging.getLogger(__name__)


def library_job(
    library: Library | None, path: str, settings: Settings, existing: int | None = None
) -> int | None:
    """The library transcript a queued file is stored in (a new one unless ``existing``)."""
    if library is None or library.read_only:
        return None
    if existing is not None:  # a retry: the job starts again in the same place,
        try:  # with the settings (track, speakers) it runs with now
            library.update(existing, settings=settings_record(settings))
        except MurmurError as exc:
            log.warning("settings of a retried job not kept: %s", exc)
        return existing
    media = Path(path)
    try:
        return library.create(
            NewJob(
                title=media.stem,
                media_path=str(media.resolve()),
                kind=media_kind(media),
                model=settings.model,
                settings=settings_record(settings),
                status="queued",
            )
        )
    except MurmurError as exc:
        log.warning("not kept in the library: %s", exc)
        return None


def store_dictation(
    library: Library | None, path: str, transcript: Transcript, settings: Settings
) -> int | None:
    """Keep a dictation saved as a transcript in the library (kind "dictation")."""
    if library is None or library.read_only:
        return None
    media = Path(path)
    job = NewJob(
        title=f"Dictation {media.stem}" if media.stem else "Dictation",
        media_path=str(media.resolve()) if media.exists() else str(media),
        kind="dictation",
        model=settings.model,
        settings=settings_record(settings),
    )
    return _store_finished(library, job, transcript, "dictation")


IMPORTED = "imported"  # the ``source`` kept in the settings of an imported transcript


def store_imported(
    library: Library | None, subtitles: str | Path, media: str | Path | None, transcript: Transcript
) -> int | None:
    """Keep imported subtitles as a finished transcript in the library, so that edits are
    autosaved and it shows in the history: titled after the subtitle file, with its media
    (if any) and ``{"source": "imported", "subtitles": path}`` as its settings."""
    if library is None or library.read_only:
        return None
    sub = Path(subtitles)
    job = NewJob(
        title=sub.stem,
        media_path=str(Path(media).resolve()) if media else "",
        kind=media_kind(media) if media else "file",
        model=transcript.meta.model,
        settings={"source": IMPORTED, "subtitles": str(sub.resolve())},
    )
    return _store_finished(library, job, transcript, "imported subtitles")


def is_imported(entry: Entry) -> bool:
    return entry.settings.get("source") == IMPORTED


def _store_finished(library: Library, job: NewJob, transcript: Transcript, what: str) -> int | None:
    """Create ``job`` with ``transcript``'s segments, done at once; None if it can't be kept."""
    job.status = "running"
    job.duration = transcript.meta.duration
    try:
        tid = library.create(job)
        library.save_segments(tid, transcript.segments)
        library.finish(tid, transcript.meta)
    except MurmurError as exc:
        log.warning("%s not kept in the library: %s", what, exc)
        return None
    return tid


def document_for(transcript: Transcript) -> TranscriptDocument:
    return TranscriptDocument(transcript, transcript.meta.source or None)
