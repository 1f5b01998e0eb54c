"""Glue between the window's queue and the library (no widgets)."""

from __future__ import annotations

import logging
from pathlib import Path

from app.core.errors import MurmurError
from app.core.settings import Settings
from app.core.store import Library, NewJob
from app.core.store.jobs import settings_record
from app.core.transcript import Transcript
from app.gui.document import TranscriptDocument

log = logging.getLogger(__name__)


def library_job(
    library: Library | None, path: str, settings: Settings, existing: int | None = None
) -> int | None:
    """The library transcript a queued file is stored in (a new one unless ``existing``)."""
    if library is None or library.read_only:
        return None
    if existing is not None:
        return existing  # a retry: the job starts again in the same place
    media = Path(path)
    try:
        return library.create(
            NewJob(
                title=media.stem,
                media_path=str(media.resolve()),
                model=settings.model,
                settings=settings_record(settings),
                status="queued",
            )
        )
    except MurmurError as exc:
        log.warning("not kept in the library: %s", exc)
        return None


def document_for(transcript: Transcript) -> TranscriptDocument:
    return TranscriptDocument(transcript, transcript.meta.source or None)
