"""The library: every transcript kept in one SQLite file, searchable.

One :class:`Library` object may be shared by threads: each thread gets its own
connection (``sqlite3`` connections are not shared), WAL mode lets readers run
while one writer commits, and writers queue on SQLite's lock (``busy_timeout``).

Opening is forgiving: a file that is not a database or is damaged is moved
aside with a timestamp (never deleted) and a fresh library is started; a
folder that can't be written gives a read-only library (or
:class:`LibraryUnavailable` when there is nothing to read), with one line that
says why, so that the app still transcribes and exports.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.audio.chunking import Chunk
from app.core.audio.vad import SpeechRegion
from app.core.errors import MurmurError
from app.core.processes import pid_alive
from app.core.store.schema import (
    SCHEMA_VERSION,
    has_fts,
    has_short_index,
    migrate,
    register_functions,
    schema_version,
    spaced,
)
from app.core.transcript import Segment, Transcript, TranscriptMeta

log = logging.getLogger(__name__)

LIBRARY_FILE = "library.sqlite3"
KINDS = ("file", "recording", "dictation")
STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
UNFINISHED = ("queued", "running")
SHARE_FORMAT = "murmur-transcript"
SHARE_VERSION = 1
SHARE_SUFFIX = ".murmur.json"
MIN_TRIGRAM = 3  # the trigram index can't answer shorter terms: LIKE does
_BUSY_TIMEOUT_MS = 15000


class LibraryError(MurmurError):
    """Something about the library the user should know (one line)."""


class LibraryUnavailable(LibraryError):
    """The library can't be opened or written (read-only folder, disk trouble)."""


class NotFound(LibraryError):
    """No transcript with that id."""


class MediaChanged(LibraryError):
    """The media of a job is gone or is not the file that was transcribed."""


def library_path() -> Path:
    from app.core.settings import data_dir

    return data_dir() / LIBRARY_FILE


def now_iso() -> str:
    """UTC, ISO 8601 with microseconds: sorts as text in time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def to_ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass(frozen=True)
class Entry:
    """One transcript in the history (no segments)."""

    id: int
    title: str
    media_path: str
    media_size: int | None
    media_mtime: float | None
    duration: float
    kind: str
    model: str
    device: str
    precision: str
    settings: dict[str, Any]
    status: str
    error: str
    created: str
    updated: str
    segments: int = 0
    chunks_total: int = 0
    chunks_done: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["media"] = data.pop("media_path")
        return data


@dataclass(frozen=True)
class StoredChunk:
    index: int
    start: float
    end: float
    regions: tuple[SpeechRegion, ...]
    done: bool
    text: str | None
    pieces: tuple[tuple[float, float], ...] = ()  # a packed chunk's pieces (Chunk.pieces)
    gap_s: float = 0.0

    def to_chunk(self) -> Chunk:
        return Chunk(
            index=self.index,
            start=self.start,
            end=self.end,
            regions=self.regions,
            pieces=self.pieces,
            gap_s=self.gap_s,
        )


@dataclass(frozen=True)
class Match:
    """A segment that holds the searched text."""

    transcription_id: int
    title: str
    row: int  # the segment's position in its transcript
    segment_id: int
    start: float
    end: float
    text: str
    context: str  # the segment with a little of its neighbours

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NewJob:
    """What is known when a job is created."""

    title: str
    media_path: str = ""
    kind: str = "file"
    model: str = ""
    device: str = ""
    precision: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    status: str = "queued"
    duration: float = 0.0


def media_stat(path: str | os.PathLike[str]) -> tuple[int, float] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


_ENTRY_COLUMNS = (
    "t.id, t.title, t.media_path, t.media_size, t.media_mtime, t.duration, t.kind, t.model,"
    " t.device, t.precision, t.settings, t.status, t.error, t.created, t.updated"
)


def _entry(row: Sequence[Any], counts: tuple[int, int, int] = (0, 0, 0)) -> Entry:
    try:
        settings = json.loads(row[10] or "{}")
    except ValueError:
        settings = {}
    return Entry(
        *row[:10],
        settings if isinstance(settings, dict) else {},
        *row[11:15],
        *counts,
    )


class Library:
    """The transcript library in one SQLite file. Use :meth:`open`."""

    def __init__(self, path: Path, *, read_only: bool = False, notice: str | None = None) -> None:
        self.path = path
        self.read_only = read_only
        self.notice = notice  # one line for the user about how the library was opened
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._fts: bool | None = None
        self._short: bool | None = None

    # -- opening ------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Library:
        """Open (or create) the library, migrating it to the current schema.

        A damaged file is moved aside and a fresh library started (``notice`` says
        so). Raises :class:`LibraryUnavailable` when it can be neither written
        nor read.
        """
        target = Path(path) if path is not None else library_path()
        notice: str | None = None
        for attempt in range(2):
            library = cls(target)
            try:
                library._prepare()
            except sqlite3.DatabaseError as exc:
                library.close()
                if _corrupt(exc) and attempt == 0:
                    moved = set_aside(target)
                    notice = (
                        f"The library file was damaged ({_first_line(exc)}); it was moved to "
                        f"{moved.name} and a new library was started."
                    )
                    log.warning("%s", notice)
                    continue
                return cls._read_only(target, exc)
            except OSError as exc:
                library.close()
                return cls._read_only(target, exc)
            library.notice = notice
            return library
        raise AssertionError("unreachable")

    @classmethod
    def _read_only(cls, target: Path, exc: BaseException) -> Library:
        reason = _why_not_writable(target, exc)
        if not target.is_file():
            raise LibraryUnavailable(reason) from exc
        library = cls(target, read_only=True, notice=f"{reason}; the library is read-only.")
        try:
            version = schema_version(library.conn)
            library.conn.execute("SELECT count(*) FROM transcriptions").fetchone()
        except sqlite3.DatabaseError as again:
            library.close()
            raise LibraryUnavailable(reason) from again
        if version < SCHEMA_VERSION:
            library.close()
            raise LibraryUnavailable(f"{reason}; the library needs an update it can't get")
        return library

    def _prepare(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self.conn
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("the library is not in WAL mode (%s)", mode)
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            log.warning("library from a newer Murmur (schema %d); using what fits", version)
        else:
            migrate(conn)
        # touch the tables, so a damaged file shows now rather than later
        conn.execute("SELECT count(*) FROM transcriptions").fetchone()
        conn.execute("SELECT max(id) FROM segments").fetchone()
        if not self.read_only:
            self.mark_interrupted()

    # -- connections --------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (made on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.read_only:
                uri = self.path.resolve().as_uri() + "?mode=ro&immutable=1"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=15)
            else:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=15)
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            register_functions(conn)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (call when no thread uses the library)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (taken at once, so writers queue instead of deadlocking)."""
        if self.read_only:
            raise LibraryUnavailable(self.notice or "The library is read-only")
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LibraryUnavailable(f"The library can't be written: {_first_line(exc)}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            conn.execute("ROLLBACK")
            raise LibraryUnavailable(f"The library can't be written: {_first_line(exc)}") from exc

    @property
    def full_text(self) -> bool:
        """Whether search uses the FTS5 trigram index (else LIKE)."""
        if self._fts is None:
            self._fts = has_fts(self.conn)
        return self._fts

    # -- jobs ---------------------------------------------------------------
    def create(self, job: NewJob) -> int:
        if job.kind not in KINDS:
            raise ValueError(f"unknown kind {job.kind!r}")
        if job.status not in STATUSES:
            raise ValueError(f"unknown status {job.status!r}")
        stat = media_stat(job.media_path) if job.media_path else None
        with self.transaction() as conn:
            return _insert_transcription(
                conn,
                title=job.title,
                media_path=job.media_path,
                media_size=stat[0] if stat else None,
                media_mtime=stat[1] if stat else None,
                duration=job.duration,
                kind=job.kind,
                model=job.model,
                device=job.device,
                precision=job.precision,
                settings=job.settings,
                status=job.status,
                pid=os.getpid() if job.status in UNFINISHED else None,
            )

    def update(self, transcription_id: int, **values: Any) -> None:
        """Set columns of a transcript (title, duration, model, device, status, error,
        settings as a dict...)."""
        if "settings" in values:
            values["settings"] = json.dumps(
                dict(values["settings"]), ensure_ascii=False, sort_keys=True
            )
        allowed = {
            "settings",
            "title",
            "media_path",
            "media_size",
            "media_mtime",
            "duration",
            "kind",
            "model",
            "device",
            "precision",
            "status",
            "error",
            "pid",
        }
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"can't set {', '.join(sorted(bad))}")
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"unknown status {values['status']!r}")
        names = sorted(values)
        assignments = ", ".join(f"{name} = ?" for name in names)
        with self.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE transcriptions SET {assignments}, updated = ? WHERE id = ?",
                (*(values[n] for n in names), now_iso(), transcription_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"No transcript {transcription_id} in the library")

    def rename(self, transcription_id: int, title: str) -> None:
        self.update(transcription_id, title=title.strip())

    def delete(self, transcription_id: int) -> None:
        """Remove a transcript with its segments and chunks (the media file is kept)."""
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM transcriptions WHERE id = ?", (transcription_id,))
            if cursor.rowcount == 0:
                raise NotFound(f"No transcript {transcription_id} in the library")

    def start(self, transcription_id: int) -> None:
        """Mark a job as running in this process."""
        self.update(transcription_id, status="running", error="", pid=os.getpid())

    def end(self, transcription_id: int, status: str, error: str = "") -> None:
        self.update(transcription_id, status=status, error=error, pid=None)

    def mark_interrupted(self) -> list[int]:
        """Jobs left running or queued by a process that is gone become "interrupted"."""
        rows = self.conn.execute(
            "SELECT id, pid FROM transcriptions WHERE status IN ('queued', 'running')"
        ).fetchall()
        dead = [tid for tid, pid in rows if not pid_alive(pid)]
        if dead:
            with self.transaction() as conn:
                conn.executemany(
                    "UPDATE transcriptions SET status = 'interrupted', pid = NULL, updated = ?"
                    " WHERE id = ? AND status IN ('queued', 'running')",
                    [(now_iso(), tid) for tid in dead],
                )
        return dead

    # -- reading ------------------------------------------------------------
    def get(self, transcription_id: int) -> Entry:
        row = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM transcriptions t WHERE t.id = ?", (transcription_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"No transcript {transcription_id} in the library")
        counts = self.conn.execute(
            "SELECT (SELECT count(*) FROM segments WHERE transcription_id = :id),"
            " (SELECT count(*) FROM chunks WHERE transcription_id = :id),"
            " (SELECT count(*) FROM chunks WHERE transcription_id = :id AND done)",
            {"id": transcription_id},
        ).fetchone()
        return _entry(row, tuple(counts))  # type: ignore[arg-type]

    def entries(self, limit: int | None = None, offset: int = 0) -> list[Entry]:
        """The history, newest first."""
        rows = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM transcriptions t"
            " ORDER BY t.created DESC, t.id DESC LIMIT ? OFFSET ?",
            (-1 if limit is None else limit, offset),
        ).fetchall()
        return [_entry(row) for row in rows]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM transcriptions").fetchone()[0])

    def segments(self, transcription_id: int) -> list[Segment]:
        rows = self.conn.execute(
            "SELECT start_ms, end_ms, text, speaker FROM segments WHERE transcription_id = ?"
            " ORDER BY ord, id",
            (transcription_id,),
        ).fetchall()
        return [Segment(start / 1000, end / 1000, text, who) for start, end, text, who in rows]

    def transcript(self, transcription_id: int) -> Transcript:
        entry = self.get(transcription_id)
        meta = TranscriptMeta(
            source=entry.media_path,
            duration=entry.duration,
            model=entry.model,
            device=entry.device,
            created=entry.created,
        )
        speech = [(r.start, r.end) for c in self.chunks(transcription_id) for r in c.regions]
        return Transcript(self.segments(transcription_id), meta, speech=speech)

    # -- the chunk cut and write-as-you-go ------------------------------------
    def set_chunks(self, transcription_id: int, chunks: Sequence[Chunk]) -> None:
        """Store the chunk cut of a job (replacing one stored before, with its results)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM segments WHERE transcription_id = ?", (transcription_id,))
            conn.execute("DELETE FROM chunks WHERE transcription_id = ?", (transcription_id,))
            conn.executemany(
                "INSERT INTO chunks (transcription_id, idx, start, end, regions, pieces, gap)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                _chunk_rows(transcription_id, chunks),
            )

    def add_planned_chunks(self, transcription_id: int, chunks: Sequence[Chunk]) -> None:
        """Store more of a job's chunk cut (it grows while earlier chunks are transcribed)."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO chunks (transcription_id, idx, start, end, regions, pieces, gap)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                _chunk_rows(transcription_id, chunks),
            )

    def chunks(self, transcription_id: int) -> list[StoredChunk]:
        rows = self.conn.execute(
            "SELECT idx, start, end, regions, done, text, pieces, gap FROM chunks"
            " WHERE transcription_id = ? ORDER BY idx",
            (transcription_id,),
        ).fetchall()
        return [
            StoredChunk(
                index=idx,
                start=start,
                end=end,
                regions=tuple(SpeechRegion(a, b) for a, b in json.loads(regions)),
                done=bool(done),
                text=text,
                pieces=tuple((a, b) for a, b in json.loads(pieces)),
                gap_s=gap,
            )
            for idx, start, end, regions, done, text, pieces, gap in rows
        ]

    def add_chunk(
        self, transcription_id: int, index: int, text: str, segments: Sequence[Segment]
    ) -> None:
        """Commit one transcribed chunk: its segments and its "done" mark, together.

        Rows are ordered by ``index * 100000 + position`` until the job finishes
        (:meth:`finish` numbers them 0..n-1), so chunks may arrive in any order.
        """
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM segments WHERE transcription_id = ? AND chunk = ?",
                (transcription_id, index),
            )
            conn.executemany(
                "INSERT INTO segments"
                " (transcription_id, ord, start_ms, end_ms, text, speaker, chunk)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        transcription_id,
                        index * 100000 + i,
                        to_ms(s.start),
                        to_ms(s.end),
                        s.text,
                        s.speaker,
                        index,
                    )
                    for i, s in enumerate(segments)
                ],
            )
            cursor = conn.execute(
                "UPDATE chunks SET done = 1, text = ? WHERE transcription_id = ? AND idx = ?",
                (text, transcription_id, index),
            )
            if cursor.rowcount == 0:
                raise LibraryError(f"Transcript {transcription_id} has no chunk {index}")
            _touch(conn, transcription_id)

    def finish(self, transcription_id: int, meta: TranscriptMeta | None = None) -> None:
        """Mark a job done and number its segments 0..n-1."""
        with self.transaction() as conn:
            ids = conn.execute(
                "SELECT id FROM segments WHERE transcription_id = ? ORDER BY ord, id",
                (transcription_id,),
            ).fetchall()
            conn.executemany(
                "UPDATE segments SET ord = ? WHERE id = ?",
                [(i, sid) for i, (sid,) in enumerate(ids)],
            )
            values: dict[str, Any] = {"status": "done", "error": "", "pid": None}
            if meta is not None:
                values.update(duration=meta.duration)
                if meta.model:
                    values["model"] = meta.model
                if meta.device:
                    values["device"] = meta.device
            names = sorted(values)
            conn.execute(
                f"UPDATE transcriptions SET {', '.join(f'{n} = ?' for n in names)}, updated = ?"
                " WHERE id = ?",
                (*(values[n] for n in names), now_iso(), transcription_id),
            )

    # -- edits --------------------------------------------------------------
    def set_segment_text(self, transcription_id: int, row: int, text: str) -> None:
        """The common edit: one segment's text (one UPDATE; the index follows)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE segments SET text = ? WHERE id = (SELECT id FROM segments"
                " WHERE transcription_id = ? ORDER BY ord, id LIMIT 1 OFFSET ?)",
                (text, transcription_id, row),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"Transcript {transcription_id} has no segment {row}")
            _touch(conn, transcription_id)

    def save_segments(self, transcription_id: int, segments: Sequence[Segment]) -> int:
        """Make the stored segments equal ``segments``, writing only what differs.

        Rows equal at the start and the end are kept; the rows in between are
        updated in place where they pair up, and inserted or deleted for the
        rest. Returns the number of rows written.
        """
        new = [(to_ms(s.start), to_ms(s.end), s.text, s.speaker) for s in segments]
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT id, start_ms, end_ms, text, speaker FROM segments"
                " WHERE transcription_id = ?"
                " ORDER BY ord, id",
                (transcription_id,),
            ).fetchall()
            old = [tuple(r[1:]) for r in rows]
            head = 0
            while head < min(len(old), len(new)) and old[head] == new[head]:
                head += 1
            tail = 0
            while (
                tail < min(len(old), len(new)) - head
                and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]
            ):
                tail += 1
            old_mid = rows[head : len(rows) - tail]
            new_mid = new[head : len(new) - tail]
            written = 0
            for (sid, *was), now in zip(old_mid, new_mid, strict=False):
                if tuple(was) != now:
                    if was[2] == now[2]:  # times or speaker: the text index is left alone
                        conn.execute(
                            "UPDATE segments SET start_ms = ?, end_ms = ?, speaker = ?"
                            " WHERE id = ?",
                            (now[0], now[1], now[3], sid),
                        )
                    else:
                        conn.execute(
                            "UPDATE segments SET start_ms = ?, end_ms = ?, text = ?, speaker = ?"
                            " WHERE id = ?",
                            (*now, sid),
                        )
                    written += 1
            paired = min(len(old_mid), len(new_mid))
            if len(old_mid) > paired:
                conn.executemany(
                    "DELETE FROM segments WHERE id = ?", [(r[0],) for r in old_mid[paired:]]
                )
                written += len(old_mid) - paired
            if len(rows) != len(new) or len(new_mid) > paired:
                # renumber from the first changed row; inserted rows take their places
                keep_ids = [r[0] for r in rows[head : head + paired]]
                keep_ids += [r[0] for r in rows[len(rows) - tail :]]
                extra = new_mid[paired:]
                order = keep_ids[:paired] + [None] * len(extra) + keep_ids[paired:]
                for offset, sid in enumerate(order):
                    position = head + offset
                    if sid is None:
                        conn.execute(
                            "INSERT INTO segments"
                            " (transcription_id, ord, start_ms, end_ms, text, speaker)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            (transcription_id, position, *extra[offset - paired]),
                        )
                        written += 1
                    else:
                        conn.execute("UPDATE segments SET ord = ? WHERE id = ?", (position, sid))
            _touch(conn, transcription_id)
        return written

    # -- search -------------------------------------------------------------
    @property
    def short_index(self) -> bool:
        """Whether 1-2 character terms have their own index (else LIKE)."""
        if self._short is None:
            self._short = self.full_text and has_short_index(self.conn)
        return self._short

    def search(self, text: str, limit: int = 100) -> list[Match]:
        """Segments that hold every word of ``text`` (case-insensitive), newest first.

        Words of 3 characters or more are found anywhere in a segment through the
        trigram index. Shorter ones go through the short-term index: CJK characters
        as written ("预算" anywhere), other scripts as the start of a word ("ok"
        finds "okay"). Without FTS5, and for terms of punctuation only, LIKE.
        """
        terms = list(dict.fromkeys(text.split()))
        if not terms:
            return []
        trigram = [t for t in terms if self.full_text and len(t) >= MIN_TRIGRAM]
        short = [
            t
            for t in terms
            if t not in trigram and self.short_index and any(c.isalnum() for c in t)
        ]
        likes = [t for t in terms if t not in trigram and t not in short]
        filters: list[str] = []
        params: list[Any] = []
        if trigram:
            source = "segments_fts"
            match = " AND ".join(_phrase(t) for t in trigram)
            if short:
                filters.append(
                    "s.id IN (SELECT rowid FROM segments_short WHERE segments_short MATCH ?)"
                )
                params.append(" AND ".join(_short_phrase(t) for t in short))
        elif short:
            source = "segments_short"
            match = " AND ".join(_short_phrase(t) for t in short)
        else:
            source = ""
        for term in likes:
            filters.append("s.text LIKE ? ESCAPE '\\'")
            params.append("%" + _like_escape(term) + "%")
        if source:
            hits = (
                f"SELECT s.* FROM {source} f JOIN segments s ON s.id = f.rowid"
                f" WHERE {source} MATCH ?"
                + "".join(" AND " + f for f in filters)
                + " ORDER BY f.rowid DESC LIMIT ?"
            )
            params = [match, *params, limit]
        else:
            hits = f"SELECT s.* FROM segments s WHERE {' AND '.join(filters)}"
            hits += " ORDER BY s.id DESC LIMIT ?"
            params.append(limit)
        # Rows are numbered 0..n-1 by ``ord`` once a job is finished; while it runs,
        # ``ord`` is chunk * 100000 + position, and the row is counted.
        sql = (
            f"WITH hits AS ({hits})"
            " SELECT h.id, h.transcription_id, h.start_ms, h.end_ms, h.text, t.title,"
            " CASE WHEN h.ord < 100000 THEN h.ord ELSE (SELECT count(*) FROM segments c"
            "  WHERE c.transcription_id = h.transcription_id AND c.ord < h.ord) END,"
            " (SELECT p.text FROM segments p WHERE p.transcription_id = h.transcription_id"
            "  AND p.ord < h.ord ORDER BY p.ord DESC LIMIT 1),"
            " (SELECT n.text FROM segments n WHERE n.transcription_id = h.transcription_id"
            "  AND n.ord > h.ord ORDER BY n.ord LIMIT 1)"
            " FROM hits h JOIN transcriptions t ON t.id = h.transcription_id"
            " ORDER BY h.id DESC"
        )
        return [
            Match(
                transcription_id=tid,
                title=title,
                row=int(row),
                segment_id=sid,
                start=start / 1000,
                end=end / 1000,
                text=seg_text,
                context=" ".join(
                    p for p in (_tail(before or ""), seg_text, _head(after or "")) if p
                ),
            )
            for sid, tid, start, end, seg_text, title, row, before, after in self.conn.execute(
                sql, params
            )
        ]

    # -- sharing: one transcript as a .murmur.json file -----------------------
    def share_dict(self, transcription_id: int) -> dict[str, Any]:
        entry = self.get(transcription_id)
        return {
            "format": SHARE_FORMAT,
            "version": SHARE_VERSION,
            "title": entry.title,
            "media": entry.media_path,
            "media_size": entry.media_size,
            "media_mtime": entry.media_mtime,
            "duration": entry.duration,
            "kind": entry.kind,
            "model": entry.model,
            "device": entry.device,
            "precision": entry.precision,
            "settings": entry.settings,
            "status": entry.status,
            "created": entry.created,
            "segments": [
                {"start": s.start, "end": s.end, "text": s.text}
                | ({"speaker": s.speaker} if s.speaker else {})
                for s in self.segments(transcription_id)
            ],
        }

    def import_dict(self, data: Mapping[str, Any]) -> int:
        """Add a transcript from :meth:`share_dict` data; returns its new id."""
        if not isinstance(data, Mapping) or data.get("format") != SHARE_FORMAT:
            raise LibraryError("Not a Murmur transcript file")
        version = data.get("version")
        if not isinstance(version, int) or version > SHARE_VERSION:
            raise LibraryError(f"Transcript file version {version!r} is newer than this Murmur")
        transcript = Transcript.from_dict({"segments": data.get("segments", [])})
        kind = data.get("kind") if data.get("kind") in KINDS else "file"
        status = data.get("status") if data.get("status") in ("done", "failed") else "done"

        def text(key: str) -> str:
            value = data.get(key, "")
            return value if isinstance(value, str) else ""

        number = data.get("duration", 0.0)
        settings = data.get("settings") if isinstance(data.get("settings"), dict) else {}
        size, mtime = data.get("media_size"), data.get("media_mtime")
        with self.transaction() as conn:
            tid = _insert_transcription(
                conn,
                title=text("title"),
                media_path=text("media"),
                media_size=size if isinstance(size, int) else None,
                media_mtime=mtime if isinstance(mtime, (int, float)) else None,
                duration=float(number) if isinstance(number, (int, float)) else 0.0,
                kind=kind,
                model=text("model"),
                device=text("device"),
                precision=text("precision"),
                settings=settings,
                status=status,
                created=text("created") or None,
            )
            conn.executemany(
                "INSERT INTO segments (transcription_id, ord, start_ms, end_ms, text, speaker)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (tid, i, to_ms(s.start), to_ms(s.end), s.text, s.speaker)
                    for i, s in enumerate(transcript.segments)
                ],
            )
        return tid

    # -- media --------------------------------------------------------------
    def media_problem(self, transcription_id: int) -> str | None:
        """One line when the job's media is gone or is not the file transcribed, else None."""
        entry = self.get(transcription_id)
        if not entry.media_path:
            return "This transcript has no media file"
        stat = media_stat(entry.media_path)
        if stat is None:
            return f"The media file is gone: {entry.media_path}"
        size, mtime = stat
        if entry.media_size is not None and size != entry.media_size:
            return (
                f"The media file has changed since it was transcribed (size {size} bytes,"
                f" was {entry.media_size}): {entry.media_path}"
            )
        if entry.media_mtime is not None and abs(mtime - entry.media_mtime) > 1e-6:
            return (
                f"The media file has changed since it was transcribed (modified"
                f" {datetime.fromtimestamp(mtime).isoformat(timespec='seconds')}):"
                f" {entry.media_path}"
            )
        return None


def _insert_transcription(conn: sqlite3.Connection, **values: Any) -> int:
    """Insert a transcript row; ``created`` defaults to now, ``settings`` becomes JSON."""
    stamp = now_iso()
    values["created"] = values.get("created") or stamp
    values["updated"] = stamp
    values["settings"] = json.dumps(
        dict(values.get("settings") or {}), ensure_ascii=False, sort_keys=True
    )
    names = sorted(values)
    cursor = conn.execute(
        f"INSERT INTO transcriptions ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        [values[n] for n in names],
    )
    return int(cursor.lastrowid or 0)


def _touch(conn: sqlite3.Connection, transcription_id: int) -> None:
    conn.execute(
        "UPDATE transcriptions SET updated = ? WHERE id = ?", (now_iso(), transcription_id)
    )


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _short_phrase(term: str) -> str:
    """A 1-2 character term for the short-term index: CJK as a phrase, else a word prefix."""
    words = spaced(term).split()
    phrase = _phrase(" ".join(words))
    return phrase if any(spaced(c) != c for c in term) else phrase + "*"


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _tail(text: str, size: int = 40) -> str:
    return text if len(text) <= size else "…" + text[-size:]


def _head(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[:size] + "…"


def set_aside(path: Path) -> Path:
    """Move a damaged library (and its -wal/-shm files) aside; returns the new name."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return target


def _why_not_writable(target: Path, exc: BaseException) -> str:
    folder = target.parent
    if isinstance(exc, OSError) and not folder.is_dir():
        return f"The library can't be saved: can't create the data folder {folder}"
    if folder.exists() and not os.access(folder, os.W_OK):
        return f"The library can't be saved: the data folder {folder} is read-only"
    if target.exists() and not os.access(target, os.W_OK):
        return f"The library can't be saved: {target} is read-only"
    return f"The library can't be saved ({_first_line(exc)}): {target}"


def write_share_file(library: Library, transcription_id: int, path: Path) -> Path:
    from app.core.atomic import describe_write_error, write_text_atomic

    data = library.share_dict(transcription_id)
    try:
        return write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    except OSError as exc:
        raise LibraryError(describe_write_error(exc, path)) from exc


def read_share_file(library: Library, path: Path) -> int:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LibraryError(f"Can't read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise LibraryError(f"{Path(path).name}: not valid JSON ({exc})") from exc
    return library.import_dict(data)


def _chunk_rows(transcription_id: int, chunks: Sequence[Chunk]) -> list[tuple[object, ...]]:
    return [
        (
            transcription_id,
            c.index,
            c.start,
            c.end,
            json.dumps([[r.start, r.end] for r in c.regions]),
            json.dumps([[a, b] for a, b in c.pieces]),
            c.gap_s,
        )
        for c in chunks
    ]
