"""The library's schema, as a list of forward migrations.

``PRAGMA user_version`` holds the schema version. ``MIGRATIONS[k]`` takes a
database from version ``k`` to ``k + 1``; a new database runs them all, an old
one runs the ones it lacks, each in its own transaction. Never edit a released
step: add a new one.

History:

1. transcriptions, their segments and the chunk cut of each job.
2. full-text search: an FTS5 index with the trigram tokenizer over segment text
   (any script, Chinese included), kept in step by triggers. Where this SQLite
   has no FTS5 or no trigram tokenizer the step only records that, and search
   falls back to ``LIKE``.
3. ``transcriptions.pid``: the process that runs a job, so that a job left
   "running" by a process that died is told apart from one still running in
   another process.
4. a second FTS5 index for terms shorter than a trigram (one or two Chinese
   characters are whole words): ``unicode61`` tokens over the text with every
   CJK character spaced out (:func:`spaced`), so that "预算" is the phrase
   "预 算". Its triggers call ``murmur_spaced``, which every connection that
   writes registers (:func:`register_functions`).
5. ``segments.speaker``: the segment's speaker (NULL: none), so that speakers
   from diarization or from imported subtitles are kept with the transcript.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 6

# Scripts written without spaces: Han (with extensions and compatibility forms), kana.
_CJK = re.compile("([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f])")


def spaced(text: str) -> str:
    """Text with every CJK character made a word of its own (for the short-term index)."""
    return _CJK.sub(r" \1 ", text)


def register_functions(conn: sqlite3.Connection) -> None:
    """SQL functions the schema's triggers call; every writing connection needs them."""
    conn.create_function("murmur_spaced", 1, spaced, deterministic=True)


_V1 = """
CREATE TABLE transcriptions (
    id          INTEGER PRIMARY KEY,
    title       TEXT    NOT NULL DEFAULT '',
    media_path  TEXT    NOT NULL DEFAULT '',
    media_size  INTEGER,
    media_mtime REAL,
    duration    REAL    NOT NULL DEFAULT 0,
    kind        TEXT    NOT NULL DEFAULT 'file'
                CHECK (kind IN ('file', 'recording', 'dictation')),
    model       TEXT    NOT NULL DEFAULT '',
    device      TEXT    NOT NULL DEFAULT '',
    precision   TEXT    NOT NULL DEFAULT '',
    settings    TEXT    NOT NULL DEFAULT '{}',
    status      TEXT    NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled',
                                  'interrupted')),
    error       TEXT    NOT NULL DEFAULT '',
    created     TEXT    NOT NULL,
    updated     TEXT    NOT NULL
);
CREATE INDEX transcriptions_created ON transcriptions (created DESC, id DESC);
CREATE INDEX transcriptions_status ON transcriptions (status);

CREATE TABLE segments (
    id               INTEGER PRIMARY KEY,
    transcription_id INTEGER NOT NULL
                     REFERENCES transcriptions (id) ON DELETE CASCADE,
    ord              INTEGER NOT NULL,
    start_ms         INTEGER NOT NULL,
    end_ms           INTEGER NOT NULL,
    text             TEXT    NOT NULL DEFAULT '',
    chunk            INTEGER
);
CREATE INDEX segments_order ON segments (transcription_id, ord);

CREATE TABLE chunks (
    transcription_id INTEGER NOT NULL
                     REFERENCES transcriptions (id) ON DELETE CASCADE,
    idx              INTEGER NOT NULL,
    start            REAL    NOT NULL,
    end              REAL    NOT NULL,
    regions          TEXT    NOT NULL DEFAULT '[]',
    text             TEXT,
    done             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (transcription_id, idx)
) WITHOUT ROWID;

CREATE TABLE library_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""

_FTS = """
CREATE VIRTUAL TABLE segments_fts USING fts5 (
    text, content = 'segments', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments BEGIN
    INSERT INTO segments_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments BEGIN
    INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER segments_fts_update AFTER UPDATE OF text ON segments BEGIN
    INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO segments_fts (rowid, text) VALUES (new.id, new.text);
END;
INSERT INTO segments_fts (segments_fts) VALUES ('rebuild');
"""

_SHORT = """
CREATE VIRTUAL TABLE segments_short USING fts5 (
    text, content = '', tokenize = 'unicode61'
);
CREATE TRIGGER segments_short_insert AFTER INSERT ON segments BEGIN
    INSERT INTO segments_short (rowid, text) VALUES (new.id, murmur_spaced(new.text));
END;
CREATE TRIGGER segments_short_delete AFTER DELETE ON segments BEGIN
    INSERT INTO segments_short (segments_short, rowid, text)
    VALUES ('delete', old.id, murmur_spaced(old.text));
END;
CREATE TRIGGER segments_short_update AFTER UPDATE OF text ON segments BEGIN
    INSERT INTO segments_short (segments_short, rowid, text)
    VALUES ('delete', old.id, murmur_spaced(old.text));
    INSERT INTO segments_short (rowid, text) VALUES (new.id, murmur_spaced(new.text));
END;
INSERT INTO segments_short (rowid, text) SELECT id, murmur_spaced(text) FROM segments;
"""

_FTS_OBJECTS = (
    "DROP TRIGGER IF EXISTS segments_short_insert",
    "DROP TRIGGER IF EXISTS segments_short_delete",
    "DROP TRIGGER IF EXISTS segments_short_update",
    "DROP TABLE IF EXISTS segments_short",
    "DROP TRIGGER IF EXISTS segments_fts_insert",
    "DROP TRIGGER IF EXISTS segments_fts_delete",
    "DROP TRIGGER IF EXISTS segments_fts_update",
    "DROP TABLE IF EXISTS segments_fts",
)


def fts_available(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has FTS5 with the trigram tokenizer (3.34 and later)."""
    try:
        conn.execute("CREATE VIRTUAL TABLE temp._murmur_probe USING fts5(x, tokenize='trigram')")
    except sqlite3.OperationalError:
        return False
    conn.execute("DROP TABLE temp._murmur_probe")
    return True


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def has_fts(conn: sqlite3.Connection) -> bool:
    """Whether this library has its full-text (trigram) index."""
    return _has_table(conn, "segments_fts")


def create_fts(conn: sqlite3.Connection) -> bool:
    """Build the full-text index if this SQLite can; returns whether it exists now."""
    if has_fts(conn):
        return True
    if not fts_available(conn):
        conn.execute("INSERT OR REPLACE INTO library_meta (key, value) VALUES ('fts', 'none')")
        return False
    for statement in _split(_FTS):
        conn.execute(statement)
    conn.execute("INSERT OR REPLACE INTO library_meta (key, value) VALUES ('fts', 'trigram')")
    return True


def has_short_index(conn: sqlite3.Connection) -> bool:
    """Whether this library has its index for 1-2 character terms."""
    return _has_table(conn, "segments_short")


def create_short_index(conn: sqlite3.Connection) -> bool:
    """The index for 1-2 character terms, where FTS5 is there; returns whether it exists."""
    if has_short_index(conn):
        return True
    if not has_fts(conn):
        return False
    register_functions(conn)
    for statement in _split(_SHORT):
        conn.execute(statement)
    return True


def drop_fts(conn: sqlite3.Connection) -> None:
    for statement in _FTS_OBJECTS:
        conn.execute(statement)
    conn.execute("INSERT OR REPLACE INTO library_meta (key, value) VALUES ('fts', 'none')")


def _split(script: str) -> list[str]:
    """Statements of a script (``executescript`` would commit the open transaction)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _to_v1(conn: sqlite3.Connection) -> None:
    for statement in _split(_V1):
        conn.execute(statement)


def _to_v2(conn: sqlite3.Connection) -> None:
    create_fts(conn)


def _to_v3(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE transcriptions ADD COLUMN pid INTEGER")


def _to_v4(conn: sqlite3.Connection) -> None:
    create_short_index(conn)


def _to_v5(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE segments ADD COLUMN speaker TEXT")


def _to_v6(conn: sqlite3.Connection) -> None:
    # A packed chunk's pieces ([[start, end], ...], empty for a plain chunk) and the
    # silence between them, so that a resumed job hears its windows as before.
    conn.execute("ALTER TABLE chunks ADD COLUMN pieces TEXT NOT NULL DEFAULT '[]'")
    conn.execute("ALTER TABLE chunks ADD COLUMN gap REAL NOT NULL DEFAULT 0")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _to_v1,
    _to_v2,
    _to_v3,
    _to_v4,
    _to_v5,
    _to_v6,
)
assert len(MIGRATIONS) == SCHEMA_VERSION


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target``, one transaction per step; returns the old version.

    The connection must be in autocommit mode (``isolation_level=None``).
    """
    old = schema_version(conn)
    for version in range(old, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) != version:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                continue
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return old
