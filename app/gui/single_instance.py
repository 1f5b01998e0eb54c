"""The single-instance channel, server side: a QLocalServer on the per-user name.

The protocol (one JSON line each way) and the Qt-free client live in
:mod:`app.core.instance`. A stale socket left by a crashed Murmur is removed
when nothing answers on it; a live one means another window already listens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.core import instance

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _alive(name: str) -> bool:
    probe = QLocalSocket()
    probe.connectToServer(name)
    ok = probe.waitForConnected(500)
    probe.abort()
    return ok


class InstanceServer(QObject):
    """Listens for other ``murmur`` processes and answers their messages.

    ``filesReceived(list)`` and ``toggleRequested()`` are emitted on the GUI
    thread; ``toggle_state`` (set by the owner) gives the state sent back."""

    filesReceived = Signal(list)
    toggleRequested = Signal()

    def __init__(self, parent: QObject | None = None, name: str | None = None) -> None:
        super().__init__(parent)
        self.name = name or instance.server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)
        self.toggle_state: Callable[[], str] = lambda: "toggled"
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        """Start listening. False when another live Murmur already owns the name.

        (With socket options set, Qt binds in a private folder and renames the socket
        into place, which would silently take the name from a live Murmur: ask first.)"""
        if _alive(self.name):
            return False
        QLocalServer.removeServer(self.name)  # stale: left behind by a crash
        return self.server.listen(self.name)

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def close(self) -> None:
        self.server.close()

    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._on_ready(s))
            sock.disconnected.connect(lambda s=sock: self._forget(s))

    def _forget(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def _on_ready(self, sock: QLocalSocket) -> None:
        data = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        if b"\n" not in data:
            self._buffers[sock] = data
            return
        line = data.split(b"\n", 1)[0]
        self._buffers[sock] = b""
        sock.write(instance.encode(self.handle_line(line)))
        sock.flush()
        sock.disconnectFromServer()

    def handle_line(self, line: bytes) -> dict[str, Any]:
        try:
            message = instance.decode(line)
        except ValueError as exc:
            return {"ok": False, "error": f"bad message: {exc}"}
        cmd = message.get("cmd")
        if cmd == "open":
            files = message.get("files", [])
            if not isinstance(files, list):
                return {"ok": False, "error": "files must be a list"}
            self.filesReceived.emit([str(f) for f in files])
            return {"ok": True}
        if cmd == "toggle":
            self.toggleRequested.emit()
            return {"ok": True, "state": self.toggle_state()}
        return {"ok": False, "error": f"unknown command {cmd!r}"}
