"""The library store (app/core/store): schema, migrations, search, edits, bad states. No Qt."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.audio.chunking import Chunk
from app.core.audio.vad import SpeechRegion
from app.core.store import (
    SCHEMA_VERSION,
    Library,
    LibraryError,
    LibraryUnavailable,
    NewJob,
    NotFound,
    read_share_file,
    write_share_file,
)
from app.core.store.schema import drop_fts, migrate, schema_version
from app.core.transcript import Segment


@pytest.fixture()
def lib(tmp_path: Path):
    library = Library.open(tmp_path / "library.sqlite3")
    yield library
    library.close()


def add(lib: Library, title: str, texts: list[str], status: str = "done") -> int:
    tid = lib.create(NewJob(title=title, media_path=f"/media/{title}.wav", status=status))
    segments = [Segment(i * 2.0, i * 2.0 + 1.5, t) for i, t in enumerate(texts)]
    lib.save_segments(tid, segments)
    return tid


def schema_of(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    finally:
        conn.close()
    return [(n, " ".join((s or "").split())) for n, s in rows]


# ---------------------------------------------------------------------------- schema


def test_a_new_library_is_current_in_wal_mode_with_the_trigram_index(lib: Library) -> None:
    assert schema_version(lib.conn) == SCHEMA_VERSION
    assert lib.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert lib.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert lib.full_text
    columns = {r[1] for r in lib.conn.execute("PRAGMA table_info(transcriptions)")}
    assert {
        "id",
        "title",
        "media_path",
        "media_size",
        "media_mtime",
        "duration",
        "kind",
        "model",
        "device",
        "precision",
        "settings",
        "status",
        "error",
        "created",
        "updated",
    } <= columns
    seg_columns = {r[1] for r in lib.conn.execute("PRAGMA table_info(segments)")}
    assert {"start_ms", "end_ms", "text", "ord", "transcription_id"} <= seg_columns
    fks = lib.conn.execute("PRAGMA foreign_key_list(segments)").fetchall()
    assert [(fk[2], fk[6]) for fk in fks] == [("transcriptions", "CASCADE")]


SAMPLE = ["Hello there, red cat", "今天天气很好，我们去公园吧", "the blue dog says no"]


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_migrates_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    old = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, target=start)
    assert schema_version(conn) == start
    if start >= 1:  # data as that version stored it
        conn.execute(
            "INSERT INTO transcriptions (id, title, media_path, kind, status, created, updated)"
            " VALUES (7, 'Old talk', '/m/old.wav', 'recording', 'done', '2024-01-01', '2024-01-01')"
        )
        conn.executemany(
            "INSERT INTO segments (transcription_id, ord, start_ms, end_ms, text)"
            " VALUES (7, ?, ?, ?, ?)",
            [(i, i * 1000, i * 1000 + 900, t) for i, t in enumerate(SAMPLE)],
        )
    conn.close()

    with Library.open(old) as lib:
        assert schema_version(lib.conn) == SCHEMA_VERSION
        if start >= 1:
            entry = lib.get(7)
            assert (entry.title, entry.kind, entry.status) == ("Old talk", "recording", "done")
            assert [s.text for s in lib.segments(7)] == SAMPLE
            assert [s.speaker for s in lib.segments(7)] == [None, None, None]
            # a speaker is kept from now on (schema 5), the rest of the row as it was
            named = [Segment(1.0, 1.9, SAMPLE[1], "Speaker 2")]
            lib.save_segments(7, [*lib.segments(7)[:1], *named, *lib.segments(7)[2:]])
            assert [(s.text, s.speaker) for s in lib.segments(7)] == [
                (SAMPLE[0], None),
                (SAMPLE[1], "Speaker 2"),
                (SAMPLE[2], None),
            ]
            # rows stored before the index existed are found through it
            assert [m.row for m in lib.search("天气很好")] == [1]
            assert [m.row for m in lib.search("BLUE dog")] == [2]
        tid = add(lib, "new", ["a new red bird"])
        assert [m.transcription_id for m in lib.search("red bird")] == [tid]

    fresh = tmp_path / "fresh.sqlite3"
    Library.open(fresh).close()
    assert schema_of(old) == schema_of(fresh)


# ---------------------------------------------------------------------------- search


def test_search_english_and_chinese_with_context(lib: Library) -> None:
    a = add(lib, "talk", ["Good morning everyone", "Today we discuss Murmur", "Thanks, bye"])
    b = add(lib, "中文", ["今天天气很好", "我们去公园散步吧", "明天见"])
    found = lib.search("murmur")
    assert [(m.transcription_id, m.row, m.start) for m in found] == [(a, 1, 2.0)]
    assert found[0].title == "talk"
    assert found[0].context == "Good morning everyone Today we discuss Murmur Thanks, bye"
    assert [(m.transcription_id, m.row) for m in lib.search("公园散步")] == [(b, 1)]
    # one and two characters are below the trigram index: answered by LIKE
    assert [(m.transcription_id, m.row) for m in lib.search("公园")] == [(b, 1)]
    assert [(m.transcription_id, m.row) for m in lib.search("明")] == [(b, 2)]
    assert [(m.transcription_id, m.row) for m in lib.search("公园 散步")] == [(b, 1)]
    assert [(m.transcription_id, m.row) for m in lib.search("预算")] == []
    # short Latin terms are the start of a word: "by" finds "bye", not "maybe"
    assert [m.row for m in lib.search("BY")] == [2]
    assert [m.row for m in lib.search("we discuss")] == [1]
    # every word must be there, in any order; case does not matter
    assert [m.row for m in lib.search("everyone GOOD")] == [0]
    assert lib.search("everyone today") == []
    # characters that mean something to FTS or LIKE are taken literally
    assert lib.search('"') == lib.search("%") == lib.search("_") == []
    assert [m.row for m in lib.search("Thanks,")] == [2]
    assert lib.search("   ") == []


def test_newest_matches_come_first_and_limit_holds(lib: Library) -> None:
    ids = [add(lib, f"t{i}", [f"red cat number {i}"]) for i in range(5)]
    assert [m.transcription_id for m in lib.search("red cat")] == ids[::-1]
    assert len(lib.search("red cat", limit=2)) == 2


def test_search_falls_back_to_like_without_fts5(lib: Library) -> None:
    tid = add(lib, "t", ["今天天气很好", "the yellow fish"])
    with lib.transaction() as conn:
        drop_fts(conn)
    lib._fts = lib._short = None
    assert not lib.full_text and not lib.short_index
    assert [(m.transcription_id, m.row) for m in lib.search("天气很好")] == [(tid, 0)]
    assert [(m.transcription_id, m.row) for m in lib.search("天气")] == [(tid, 0)]
    assert [m.row for m in lib.search("YELLOW fish")] == [1]


def test_edits_and_deletes_keep_the_index_in_step(lib: Library) -> None:
    tid = add(lib, "t", ["one red cat", "two blue dogs", "three green birds"])
    lib.set_segment_text(tid, 1, "two purple dogs")
    assert lib.search("blue") == []
    assert [m.row for m in lib.search("purple")] == [1]
    other = add(lib, "u", ["green birds again"])
    lib.delete(tid)
    assert [m.transcription_id for m in lib.search("green birds")] == [other]
    assert (
        lib.conn.execute(
            "SELECT count(*) FROM segments WHERE transcription_id = ?", (tid,)
        ).fetchone()[0]
        == 0
    )
    with pytest.raises(NotFound):
        lib.get(tid)


# ---------------------------------------------------------------------------- edits


@pytest.mark.parametrize(
    "edit",
    [
        "text",
        "times",
        "speaker",
        "split",
        "merge",
        "delete_first",
        "insert_middle",
        "clear",
        "replace_all",
    ],
)
def test_save_segments_writes_only_what_changed(lib: Library, edit: str) -> None:
    old = [Segment(i * 2.0, i * 2.0 + 1.5, f"segment {i}") for i in range(8)]
    tid = lib.create(NewJob(title="t", status="done"))
    assert lib.save_segments(tid, old) == 8
    new = list(old)
    if edit == "text":
        new[3] = Segment(6.0, 7.5, "a corrected line")
    elif edit == "times":
        new[5] = Segment(10.25, 11.0, "segment 5")
    elif edit == "speaker":
        new[6] = Segment(12.0, 13.5, "segment 6", "Ann")
    elif edit == "split":
        new[2:3] = [Segment(4.0, 4.7, "segm"), Segment(4.7, 5.5, "ent 2")]
    elif edit == "merge":
        new[4:6] = [Segment(8.0, 11.5, "segment 4 segment 5")]
    elif edit == "delete_first":
        del new[0]
    elif edit == "insert_middle":
        new.insert(4, Segment(7.6, 7.9, "inserted"))
    elif edit == "clear":
        new = []
    elif edit == "replace_all":
        new = [Segment(s.start, s.end, s.text.upper()) for s in old]
    written = lib.save_segments(tid, new)
    assert lib.segments(tid) == new
    limits = {"text": 1, "times": 1, "speaker": 1, "split": 2, "merge": 2, "delete_first": 1}
    assert written <= limits.get(edit, len(old) + 1)
    # order survives another round of edits on top
    again = [Segment(s.start, s.end, s.text + "!") for s in new[:2]] + new[2:]
    lib.save_segments(tid, again)
    assert lib.segments(tid) == again
    for seg in again:
        assert any(m.transcription_id == tid for m in lib.search(seg.text))


def test_speakers_are_stored_edited_and_shared(lib: Library, tmp_path: Path) -> None:
    """Speakers come in with the chunks, follow edits (a rename writes only the speaker,
    the text index is untouched) and travel in share files."""
    tid = lib.create(NewJob(title="talk", status="running"))
    lib.set_chunks(tid, [Chunk(0, 0.0, 6.0, (SpeechRegion(0.0, 6.0),))])
    lib.add_chunk(
        tid,
        0,
        "hello there how are you",
        [Segment(0.0, 2.0, "hello there", "Speaker 1"), Segment(2.5, 6.0, "how are you", None)],
    )
    lib.finish(tid)
    assert [s.speaker for s in lib.segments(tid)] == ["Speaker 1", None]
    renamed = [Segment(0.0, 2.0, "hello there", "Ada"), Segment(2.5, 6.0, "how are you", "Ada")]
    assert lib.save_segments(tid, renamed) == 2
    assert lib.segments(tid) == renamed
    assert lib.transcript(tid).segments == tuple(renamed)
    assert [m.row for m in lib.search("how are")] == [1]
    path = write_share_file(lib, tid, tmp_path / "talk.murmur.json")
    assert json.loads(path.read_text())["segments"][0]["speaker"] == "Ada"
    assert lib.segments(read_share_file(lib, path)) == renamed
    lib.update(tid, settings={"speakers": "auto", "model": "m"})  # a retry with new choices
    assert lib.get(tid).settings == {"speakers": "auto", "model": "m"}


# ---------------------------------------------------------------------------- threads


def test_two_threads_write_at_once(lib: Library) -> None:
    errors: list[BaseException] = []
    ids: dict[str, int] = {}
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            tid = lib.create(NewJob(title=name, status="running"))
            ids[name] = tid
            lib.set_chunks(tid, [Chunk(i, i * 3.0, i * 3.0 + 2, ()) for i in range(40)])
            barrier.wait()
            for i in range(40):
                lib.add_chunk(
                    tid, i, f"{name} {i}", [Segment(i * 3.0, i * 3.0 + 2, f"{name} chunk {i}")]
                )
            lib.finish(tid)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("alpha", "omega")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name, tid in ids.items():
        assert [s.text for s in lib.segments(tid)] == [f"{name} chunk {i}" for i in range(40)]
        assert lib.get(tid).status == "done"
        assert all(c.done for c in lib.chunks(tid))
    assert len(lib.search("omega chunk")) == 40


# ---------------------------------------------------------------------------- jobs


def test_chunks_arrive_in_any_order_and_resume_knows_what_is_left(lib: Library) -> None:
    regions = (SpeechRegion(0.125, 1.0), SpeechRegion(1.5, 2.75))
    plan = [Chunk(0, 0.125, 2.75, regions), Chunk(1, 4.0, 6.0, (SpeechRegion(4.0, 6.0),))]
    plan.append(Chunk(2, 8.0, 9.0, (SpeechRegion(8.0, 9.0),)))
    tid = lib.create(NewJob(title="t", status="running"))
    lib.set_chunks(tid, plan)
    # a packed chunk keeps its pieces and gap: resumed, it is heard as the same window
    packed = Chunk(3, 20.0, 62.5, (SpeechRegion(20.0, 21.0), SpeechRegion(60.0, 62.5)),
                   pieces=((20.0, 21.0), (60.0, 62.5)), gap_s=0.5)  # fmt: skip
    lib.add_planned_chunks(tid, [packed])
    assert lib.chunks(tid)[3].to_chunk() == packed and packed.audio_seconds == 4.0
    lib.set_chunks(tid, plan)
    lib.add_chunk(tid, 2, "c", [Segment(8.0, 9.0, "c")])
    lib.add_chunk(tid, 0, "a b", [Segment(0.125, 1.0, "a"), Segment(1.5, 2.75, "b")])
    stored = lib.chunks(tid)
    assert [c.to_chunk() for c in stored] == plan  # the cut comes back exactly
    assert [c.done for c in stored] == [True, False, True]
    assert [s.text for s in lib.segments(tid)] == ["a", "b", "c"]
    lib.add_chunk(tid, 1, "middle", [Segment(4.0, 6.0, "middle")])
    lib.finish(tid)
    assert [s.text for s in lib.segments(tid)] == ["a", "b", "middle", "c"]
    # the detected speech comes back with the transcript (the timeline shows it)
    assert lib.transcript(tid).speech == ((0.125, 1.0), (1.5, 2.75), (4.0, 6.0), (8.0, 9.0))
    ords = [r[0] for r in lib.conn.execute("SELECT ord FROM segments ORDER BY ord")]
    assert ords == [0, 1, 2, 3]


def test_jobs_of_a_dead_process_come_back_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with Library.open(path) as lib:
        mine = lib.create(NewJob(title="mine", status="running"))
        theirs = lib.create(NewJob(title="theirs", status="running"))
        lib.update(theirs, pid=int(dead.stdout))
        finished = lib.create(NewJob(title="done", status="done"))
    with Library.open(path) as lib:
        assert lib.get(theirs).status == "interrupted"
        assert lib.get(mine).status == "running"  # this process is alive
        assert lib.get(finished).status == "done"


def test_media_gone_or_changed_is_said_plainly(lib: Library, tmp_path: Path) -> None:
    media = tmp_path / "talk.wav"
    media.write_bytes(b"x" * 100)
    tid = lib.create(NewJob(title="talk", media_path=str(media), status="interrupted"))
    assert lib.media_problem(tid) is None
    media.write_bytes(b"y" * 120)
    assert "changed" in (lib.media_problem(tid) or "") and "120" in (lib.media_problem(tid) or "")
    media.write_bytes(b"x" * 100)
    os.utime(media, (1_000_000, 1_000_000))
    assert "changed" in (lib.media_problem(tid) or "")
    media.unlink()
    assert lib.media_problem(tid) == f"The media file is gone: {media}"


# ---------------------------------------------------------------------------- sharing


def test_share_file_round_trip(lib: Library, tmp_path: Path) -> None:
    tid = add(lib, "Interview 张三", ["Hello", "你好，世界"])
    hello, world = lib.segments(tid)
    lib.save_segments(tid, [replace(hello, speaker="Ann"), world])
    lib.update(tid, model="zai-org/GLM-ASR-Nano-2512", device="CPU, bf16", duration=12.5)
    out = write_share_file(lib, tid, tmp_path / "x.murmur.json")
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == "murmur-transcript" and data["title"] == "Interview 张三"
    with Library.open(tmp_path / "other.sqlite3") as other:
        new = read_share_file(other, out)
        entry = other.get(new)
        assert (entry.title, entry.model, entry.duration) == ("Interview 张三", data["model"], 12.5)
        assert other.segments(new) == lib.segments(tid)
        assert [s.speaker for s in other.segments(new)] == ["Ann", None]
        assert [m.transcription_id for m in other.search("你好")] == [new]
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(LibraryError, match="Not a Murmur transcript"):
        read_share_file(lib, tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(LibraryError, match="not valid JSON"):
        read_share_file(lib, tmp_path / "broken.json")


# ---------------------------------------------------------------------------- bad states


def test_a_file_that_is_not_a_database_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    garbage = os.urandom(8192)
    path.write_bytes(garbage)
    with Library.open(path) as lib:
        assert lib.notice and "moved to library.sqlite3.damaged-" in lib.notice
        assert lib.count() == 0
        add(lib, "fresh", ["works again"])
    aside = list(tmp_path.glob("library.sqlite3.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage  # kept, never deleted


def test_a_damaged_database_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    with Library.open(path) as lib:
        for i in range(30):
            add(lib, f"t{i}", [f"words {j} " * 20 for j in range(50)])
        lib.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    for p in range(1, len(data) // page):  # scribble over every page but the header page
        data[p * page : p * page + 100] = b"\xa5" * 100
    path.write_bytes(bytes(data))
    with Library.open(path) as lib:
        assert lib.notice and "damaged" in lib.notice
        assert lib.count() == 0
    aside = sorted(p.name for p in tmp_path.glob("library.sqlite3.damaged-*"))
    assert len([n for n in aside if not n.endswith(("-wal", "-shm"))]) == 1, aside


def test_an_unwritable_data_folder_gives_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(LibraryUnavailable) as caught:
        Library.open(blocker / "library.sqlite3")
    message = str(caught.value)
    assert "\n" not in message and "can't create the data folder" in message


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable, also for root (immutable flag) where chmod can't."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: can't make a folder read-only")
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("running as root on a file system without the immutable flag")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_data_folder_still_lets_the_library_be_read(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    with Library.open(folder / "library.sqlite3") as lib:
        add(lib, "kept", ["red fish", "blue fish"])
    with read_only_folder(folder):
        with pytest.raises(OSError):
            (folder / "probe").write_text("x")
        with Library.open(folder / "library.sqlite3") as lib:
            assert lib.read_only
            assert lib.notice == (
                f"The library can't be saved: the data folder {folder} is read-only;"
                " the library is read-only."
            )
            assert [e.title for e in lib.entries()] == ["kept"]
            assert [m.row for m in lib.search("blue")] == [1]
            with pytest.raises(LibraryUnavailable, match="read-only"):
                lib.create(NewJob(title="x"))
        empty = folder / "sub"
        with pytest.raises(LibraryUnavailable, match="can't create the data folder"):
            Library.open(empty / "library.sqlite3")


def test_a_recorder_keeps_the_outcome_when_its_consumer_stops(lib: Library) -> None:
    from app.core.errors import Cancelled
    from app.core.events import Finished, MediaOpened
    from app.core.store import JobRecorder
    from app.core.transcript import Transcript, TranscriptMeta

    def events(fail: BaseException | None = None):  # type: ignore[no-untyped-def]
        yield MediaOpened(path="/m/x.wav", duration=3.5, has_video=False)
        if fail is not None:
            raise fail
        yield Finished(Transcript([Segment(0.0, 1.0, "hi")], TranscriptMeta(duration=3.5)))

    done = lib.create(NewJob(title="done", status="running"))
    for event in JobRecorder(lib, done).record(events()):
        if isinstance(event, Finished):
            break  # the GUI worker returns as soon as it has the transcript
    stopped = lib.create(NewJob(title="stopped", status="running"))
    for _event in JobRecorder(lib, stopped).record(events()):
        break  # gone before the end: the job did not finish
    cancelled = lib.create(NewJob(title="cancelled", status="running"))
    with pytest.raises(Cancelled):
        list(JobRecorder(lib, cancelled).record(events(Cancelled())))
    failed = lib.create(NewJob(title="failed", status="running"))
    with pytest.raises(LibraryError):
        list(JobRecorder(lib, failed).record(events(LibraryError("disk on fire"))))
    import gc

    gc.collect()
    assert (lib.get(done).status, lib.get(done).duration) == ("done", 3.5)
    assert lib.get(stopped).status == "cancelled"
    assert lib.get(cancelled).status == "cancelled"
    assert (lib.get(failed).status, lib.get(failed).error) == ("failed", "disk on fire")
