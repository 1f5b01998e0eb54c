"""The single-instance channel, client side (no Qt), and its protocol.

One running Murmur window listens on a per-user local socket (a
``QLocalServer`` in :mod:`app.gui.single_instance`). A second ``murmur FILE...``
or ``murmur dictate --toggle`` connects to it instead of opening a window.

Protocol: the client sends one JSON object on one line (UTF-8, ending in
``\\n``); the server answers with one JSON object on one line and closes.

- ``{"cmd": "open", "files": ["/abs/path", ...]}`` queues the files (an
  empty list just raises the window). Answer ``{"ok": true}``.
- ``{"cmd": "toggle"}`` starts or stops dictation into the focused
  application. Answer ``{"ok": true, "state": "listening" | "idle" | ...}``.
- Anything else: ``{"ok": false, "error": "one line"}``.

On Unix, ``QLocalServer.listen()`` with an absolute path makes an AF_UNIX
socket at exactly that path, so this module can compute it and talk to it with
the standard library. On Windows the name is a named pipe
``\\\\.\\pipe\\<name>``.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONNECT_TIMEOUT_S = 2.0
REPLY_TIMEOUT_S = 5.0


class NotRunning(Exception):
    """No Murmur window is listening on this user's channel."""


def _user_tag() -> str:
    try:
        return str(os.getuid())  # type: ignore[attr-defined,unused-ignore]
    except AttributeError:  # Windows
        return "".join(c for c in getpass.getuser() if c.isalnum()) or "user"


def server_name() -> str:
    """The per-user name the server listens on (a socket path on Unix).

    ``MURMUR_RUNTIME_DIR`` overrides the folder (tests point it at tmp_path)."""
    if sys.platform == "win32":
        override = os.environ.get("MURMUR_RUNTIME_DIR")
        suffix = f"-{zlib.crc32(override.encode()):08x}" if override else ""
        return f"murmur-{_user_tag()}{suffix}"
    folder = os.environ.get("MURMUR_RUNTIME_DIR") or os.environ.get("XDG_RUNTIME_DIR")
    if folder:
        return str(Path(folder) / "murmur.sock")
    return str(Path(tempfile.gettempdir()) / f"murmur-{_user_tag()}.sock")


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")


def decode(line: bytes) -> dict[str, Any]:
    """One protocol line as a dict; a malformed line raises ValueError."""
    data = json.loads(line.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("a message must be a JSON object")
    return data


def _read_line(read: Callable[[int], bytes]) -> bytes:
    """Read until a newline or the end of the stream."""
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = read(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def _exchange_unix(path: str, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NotRunning(str(exc)) from exc
        sock.settimeout(REPLY_TIMEOUT_S)
        sock.sendall(payload)
        return _read_line(sock.recv)


def _exchange_windows(name: str, payload: bytes) -> bytes:  # pragma: no cover - Windows only
    try:
        with open(rf"\\.\pipe\{name}", "r+b", buffering=0) as pipe:
            pipe.write(payload)
            return _read_line(pipe.read)
    except FileNotFoundError as exc:
        raise NotRunning(str(exc)) from exc


def send(message: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """Send one message to the running Murmur and return its answer.

    Raises :class:`NotRunning` when nothing listens (or only a stale socket is
    left), and ``OSError``/``ValueError`` when the answer never comes or is bad."""
    name = name or server_name()
    payload = encode(message)
    if sys.platform == "win32":  # pragma: no cover
        reply = _exchange_windows(name, payload)
    else:
        reply = _exchange_unix(name, payload)
    if not reply.strip():
        raise OSError("the running Murmur closed the channel without answering")
    return decode(reply)


def hand_over_files(files: list[str]) -> bool:
    """Give ``files`` to a running window. False when none runs."""
    try:
        reply = send({"cmd": "open", "files": [str(Path(f).absolute()) for f in files]})
    except NotRunning:
        return False
    except (OSError, ValueError):
        return False  # a hung or broken peer: open our own window
    return bool(reply.get("ok"))


def toggle_dictation() -> tuple[int, str]:
    """Ask the running Murmur to start/stop dictating: (exit code, one line)."""
    try:
        reply = send({"cmd": "toggle"})
    except NotRunning:
        return 1, "murmur: Murmur is not running; start it first (run `murmur`)."
    except (OSError, ValueError) as exc:
        return 1, f"murmur: the running Murmur did not answer: {exc}"
    if not reply.get("ok"):
        return 1, f"murmur: {reply.get('error', 'the running Murmur refused the toggle')}"
    return 0, f"Dictation: {reply.get('state', 'toggled')}"
