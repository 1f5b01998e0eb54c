"""Atomic writes: all or nothing, no temporary files left behind."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

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
    ("exc", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only"),
        (FileNotFoundError(errno.ENOENT, "No such file"), "does not exist"),
        (OSError(errno.EBUSY, "Device or resource\nbusy"), "Device or resource busy"),
    ],
)
def test_error_descriptions_are_one_line(tmp_path: Path, exc: OSError, expected: str) -> None:
    target = tmp_path / "sub folder" / "film 字幕.srt"
    message = describe_write_error(exc, target)
    assert expected in message
    assert "film 字幕.srt" in message
    assert "\n" not in message
