"""A private X server for tests that need real X11 (global keys, focus, the clipboard).

``Xvfb -displayfd`` picks a free display number itself, so parallel test runs and
other users of the machine never clash. There is no window manager: focus a
window with ``xdotool windowfocus --sync``.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def missing_tools(*tools: str) -> list[str]:
    return [t for t in ("Xvfb", *tools) if shutil.which(t) is None]


@contextmanager
def virtual_display(size: str = "1280x800x24") -> Iterator[str]:
    """Start Xvfb on a free display; yields ``":N"``; stops it afterwards."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 15)
        number = os.read(read_fd, 16).decode().strip() if ready else ""
        if not number:
            raise RuntimeError("Xvfb did not report a display")
        yield f":{number}"
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def require(*tools: str) -> None:
    """Skip the test, naming what is missing, when Xvfb or ``tools`` are absent."""
    missing = missing_tools(*tools)
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (packaging/setup.sh --test installs them)")
