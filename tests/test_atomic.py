"""Atomic writes: all or nothing, no temporary files left behind."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.core import atomic
from app.core.atomic import describe_write_error, write_bytes_atomic, write_text_atomic


def test_writes_new_file_and_returns_path(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    assert write_text_atomic(target, "héllo 字幕\n") == target
    assert target.read_bytes() == "héllo 字幕\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_new_file_is_readable_by_others_per_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        target = write_bytes_atomic(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_replaces_existing_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_failure_leaves_old_content_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    target = tmp_path / "data.json"
    target.write_text("old content")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, where, fail)
    with pytest.raises(OSError) as info:
        write_text_atomic(target, "new content")
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_interrupt_during_write_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(tmp_path / "x.bin", b"data")
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_folder_target(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_bytes_atomic(tmp_path / "nope" / "x.txt", b"")
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        write_bytes_atomic(tmp_path / "dir", b"")
    assert [p.name for p in tmp_path.iterdir()] == ["dir"]
    assert list((tmp_path / "dir").iterdir()) == []


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "the disk quota is exceeded"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
        (PermissionError(errno.EPERM, "Operation not permitted"), "permission denied"),
        (OSError(errno.EROFS, "Read-only file system"), "the disk is read-only"),
        (OSError(errno.ENAMETOOLONG, "File name too long"), "the file name is too long"),
        (IsADirectoryError(errno.EISDIR, "Is a directory"), "a folder has that name"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory"), "part of the path is not a folder"),
        (OSError(errno.EINVAL, "Invalid argument"), "the file name is not valid here"),
        (OSError(errno.EIO, "Input/output error"), "the disk reported an input/output error"),
        (OSError(errno.ENOENT, "No such file"), "the folder {folder} does not exist"),
        (FileNotFoundError("gone"), "the folder {folder} does not exist"),
        (OSError(errno.EBUSY, "Device or resource\nbusy"), "Device or resource busy"),
        (OSError("no errno,  just words "), "no errno, just words"),
        (OSError(), "OSError"),
    ],
)
def test_error_descriptions_word_for_word(tmp_path: Path, exc: OSError, reason: str) -> None:
    target = tmp_path / "sub folder" / "film 字幕.srt"
    reason = reason.format(folder=target.parent)
    assert describe_write_error(exc, target) == f"Could not write {target}: {reason}"


def test_a_folder_as_target_says_so(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as info:
        write_bytes_atomic(tmp_path, b"")
    assert info.value.errno == errno.EISDIR
    assert describe_write_error(info.value, tmp_path).endswith(": a folder has that name")


def test_temporary_name_taken_tries_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = iter(["taken", "taken", "free"])
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: next(names))
    (tmp_path / ".murmur-taken.tmp").write_text("someone else's")
    assert write_text_atomic(tmp_path / "out.txt", "mine").read_text() == "mine"
    assert (tmp_path / ".murmur-taken.tmp").read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".murmur-taken.tmp", "out.txt"]

    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: "taken")
    with pytest.raises(FileExistsError):
        write_text_atomic(tmp_path / "other.txt", "x")
    assert not (tmp_path / "other.txt").exists()


def test_data_and_folder_are_flushed_to_disk_unless_asked_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    write_text_atomic(tmp_path / "a.txt", "a")
    assert synced == ["file", "folder"]
    synced.clear()
    write_bytes_atomic(tmp_path / "a.bin", b"a")
    assert synced == ["file", "folder"]
    synced.clear()
    write_text_atomic(tmp_path / "b.txt", "b", fsync=False)
    write_bytes_atomic(tmp_path / "c.bin", b"c", fsync=False)
    assert synced == []


def test_text_encoding_is_used(tmp_path: Path) -> None:
    assert write_text_atomic(tmp_path / "l1.txt", "é", encoding="latin-1").read_bytes() == b"\xe9"
    assert write_text_atomic(tmp_path / "u8.txt", "é").read_bytes() == b"\xc3\xa9"


def test_original_error_wins_when_the_clean_up_fails_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def unlink(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", full)
    monkeypatch.setattr(atomic.os, "unlink", unlink)
    with pytest.raises(OSError) as info:
        write_text_atomic(tmp_path / "x.txt", "x")
    assert info.value.errno == errno.ENOSPC


def test_no_free_temporary_name_is_described_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: "taken")
    (tmp_path / ".murmur-taken.tmp").write_text("someone else's")
    target = tmp_path / "out.srt"
    with pytest.raises(FileExistsError) as info:
        write_text_atomic(target, "x")
    assert info.value.errno == errno.EEXIST
    assert info.value.strerror == "could not create a temporary file"
    assert info.value.filename == str(tmp_path)
    assert describe_write_error(info.value, target) == (
        f"Could not write {target}: could not create a temporary file"
    )


def test_a_folder_as_target_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as info:
        write_bytes_atomic(tmp_path, b"")
    assert info.value.strerror == "is a folder"
    assert info.value.filename == str(tmp_path)
    assert str(info.value) == f"[Errno {errno.EISDIR}] is a folder: '{tmp_path}'"


def test_permission_denied_on_windows_suggests_a_program_holds_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "film.srt"
    error = PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(atomic, "os", SimpleNamespace(name="nt"))
    assert describe_write_error(error, target) == (
        f"Could not write {target}: permission denied (is the file open in another program?)"
    )
    monkeypatch.setattr(atomic, "os", SimpleNamespace(name="posix"))
    assert describe_write_error(error, target) == f"Could not write {target}: permission denied"
