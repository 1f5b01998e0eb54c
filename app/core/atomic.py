"""Atomic file writing: the target holds either its old content or the new one.

The data goes to a temporary file in the same folder, is flushed to disk, and
then replaces the target with :func:`os.replace`. If anything fails, the
temporary file is removed and the target is left as it was. Errors are the
original :class:`OSError`; :func:`describe_write_error` turns one into a line
for the user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

_TEMP_PREFIX = ".murmur-"
_TEMP_SUFFIX = ".tmp"


def _open_temp(folder: Path) -> tuple[int, Path]:
    """Create a new temporary file in ``folder`` (mode 0666 less the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = folder / f"{_TEMP_PREFIX}{secrets.token_hex(6)}{_TEMP_SUFFIX}"
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not create a temporary file", str(folder))


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders can't be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically and return the path.

    An existing target keeps its permission bits. Raises :class:`OSError`
    (the folder is missing, permission denied, disk full, ...), in which case
    no temporary file is left behind and the target is untouched.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(target))
    folder = target.parent
    fd, temp = _open_temp(folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(os.stat(target).st_mode)
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if fsync:
        _fsync_folder(folder)
    return target


def write_text_atomic(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", fsync: bool = True
) -> Path:
    """Write ``text`` atomically (UTF-8 by default, ``\\n`` line ends kept as they are)."""
    return write_bytes_atomic(path, text.encode(encoding), fsync=fsync)


_REASONS: dict[int | None, str] = {
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk quota is exceeded",
    errno.ENOSPC: "the disk is full",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EISDIR: "a folder has that name",
    errno.ENOTDIR: "part of the path is not a folder",
    errno.EINVAL: "the file name is not valid here",
    errno.EIO: "the disk reported an input/output error",
}


def describe_write_error(exc: OSError, path: str | os.PathLike[str]) -> str:
    """One line for the user about why ``path`` could not be written."""
    target = Path(path)
    code = exc.errno
    if code == errno.ENOENT or isinstance(exc, FileNotFoundError):
        reason = f"the folder {target.parent} does not exist"
    elif isinstance(exc, PermissionError) and os.name == "nt":
        reason = "permission denied (is the file open in another program?)"
    elif code in _REASONS:
        reason = _REASONS[code]
    else:
        reason = (exc.strerror or str(exc) or type(exc).__name__).strip()
    line = f"Could not write {target}: {reason}"
    return " ".join(line.split())


# Names used elsewhere in the code base.
atomic_write_bytes = write_bytes_atomic
atomic_write_text = write_text_atomic
