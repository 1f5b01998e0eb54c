"""The single-instance client (no Qt): protocol lines, and no window running."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest

from app.core import instance


def test_protocol_is_one_json_object_per_line() -> None:
    line = instance.encode({"cmd": "open", "files": ["/tmp/ä b.wav"]})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert instance.decode(line) == {"cmd": "open", "files": ["/tmp/ä b.wav"]}
    with pytest.raises(ValueError):
        instance.decode(b"[1, 2]\n")


def test_server_name_is_per_user_and_follows_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MURMUR_RUNTIME_DIR", str(tmp_path))
    assert instance.server_name() == str(tmp_path / "murmur.sock")
    monkeypatch.delenv("MURMUR_RUNTIME_DIR")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert instance.server_name().endswith(f"murmur-{instance._user_tag()}.sock")


@pytest.mark.skipif(sys.platform == "win32", reason="AF_UNIX socket files")
def test_a_stale_socket_counts_as_not_running(tmp_path: Path) -> None:
    path = tmp_path / "murmur.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what a crash leaves
    assert path.exists()
    with pytest.raises(instance.NotRunning):
        instance.send({"cmd": "toggle"}, name=str(path))
    assert instance.hand_over_files(["x.wav"]) is False


def test_dictate_toggle_without_a_running_murmur_says_so_and_fails(tmp_path: Path) -> None:
    code, line = instance.toggle_dictation()
    assert code != 0
    assert "not running" in line and "\n" not in line


def test_a_peer_that_hangs_up_without_answering_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    # A listener that closes at once: the client gets no answer.
    def serve_once() -> None:
        c, _ = server.accept()
        c.recv(100)
        c.close()

    t = threading.Thread(target=serve_once)
    t.start()
    with pytest.raises(OSError):
        instance.send({"cmd": "toggle"}, name=str(path))
    t.join(5)
    server.close()
