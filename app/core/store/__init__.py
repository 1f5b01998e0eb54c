"""What Murmur keeps between sessions: the library (transcripts in SQLite, searchable,
written as they are made) and recent dictations (``dictations``)."""

from app.core.store.jobs import JobRecorder, resume, start_job, transcribe_into
from app.core.store.library import (
    KINDS,
    SHARE_SUFFIX,
    STATUSES,
    Entry,
    Library,
    LibraryError,
    LibraryUnavailable,
    Match,
    MediaChanged,
    NewJob,
    NotFound,
    StoredChunk,
    library_path,
    read_share_file,
    write_share_file,
)
from app.core.store.schema import SCHEMA_VERSION

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "SHARE_SUFFIX",
    "STATUSES",
    "Entry",
    "JobRecorder",
    "Library",
    "LibraryError",
    "LibraryUnavailable",
    "Match",
    "MediaChanged",
    "NewJob",
    "NotFound",
    "StoredChunk",
    "library_path",
    "read_share_file",
    "resume",
    "start_job",
    "transcribe_into",
    "write_share_file",
]
