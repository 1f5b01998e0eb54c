"""Glue between the window's queue and the library (no widgets)."""

from __future__ import annotations

import logging
from pathlib import Path

from app.core.errors import MurmurError
from app.core.settings import Settings
from app.core.store import Library, NewJob
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
    try:
        tid = library.create(
            NewJob(
                title=f"Dictation {media.stem}" if media.stem else "Dictation",
                media_path=str(media.resolve()) if media.exists() else str(media),
                kind="dictation",
                model=settings.model,
                settings=settings_record(settings),
                status="running",
                duration=transcript.meta.duration,
            )
        )
        library.save_segments(tid, transcript.segments)
        library.finish(tid, transcript.meta)
    except MurmurError as exc:
        log.warning("dictation not kept in the library: %s", exc)
        return None
    return tid


def document_for(transcript: Transcript) -> TranscriptDocument:
    return TranscriptDocument(transcript, transcript.meta.source or None)
