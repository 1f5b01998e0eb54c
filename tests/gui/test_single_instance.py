"""One Murmur per user: a second `murmur FILE...` hands its files over and exits 0;
the channel answers toggles; a stale socket is taken over; the tray follows dictation."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication

from app.core import instance
from app.core.settings import Settings
from app.gui.dictation.desktop import DesktopDictation
from app.gui.dictation.tray import KEPT_IN_TRAY
from app.gui.main_window import MainWindow
from app.gui.single_instance import InstanceServer
from tests.gui.driving import shown_window

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("does not support raise", "does not support activateWindow"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def running(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DesktopDictation]:
    """A window with its channel listening, as `murmur` starts it."""
    settings = Settings(model=str(tmp_path / "no-model"), device="cpu")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        server = InstanceServer(win)
        desktop = DesktopDictation(win, server)
        assert server.listen()
        yield desktop
        server.close()
        desktop.hotkey.stop()


def run_murmur(qtbot, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m app ARGS` while this process's event loop keeps answering."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=60_000)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_second_murmur_hands_its_files_to_the_running_window(
    qtbot, running: DesktopDictation, tmp_path: Path
) -> None:
    media = tmp_path / "talk.wav"
    media.write_bytes(b"RIFF")  # queued, not opened: the window reports its own errors
    done = run_murmur(qtbot, str(media))
    assert done.returncode == 0, done.stderr
    win = running.window
    qtbot.waitUntil(lambda: win.queue.rowCount() == 1, timeout=5000)
    assert Path(win.queue.items[0].path) == media
    assert len([w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]) >= 1


def test_the_channel_answers_a_toggle_with_the_new_state(qtbot, running: DesktopDictation) -> None:
    asked = []
    running.session.start = lambda *a, **k: asked.append(k) or True  # type: ignore[method-assign]
    result: list[tuple[int, str]] = []
    thread = threading.Thread(target=lambda: result.append(instance.toggle_dictation()))
    thread.start()
    qtbot.waitUntil(lambda: bool(result), timeout=5000)
    thread.join()
    assert result[0][0] == 0 and result[0][1].startswith("Dictation:")
    assert asked and asked[0]["target"] == "app" and asked[0]["keep_file"] is False


def test_a_live_instance_keeps_its_name_and_a_stale_socket_is_taken_over(
    qtbot, running: DesktopDictation, tmp_path: Path
) -> None:
    second = InstanceServer(name=running.server.name)  # type: ignore[union-attr]
    assert second.listen() is False  # the running window still answers
    stale = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(stale))
    leftover.close()  # what a crash leaves behind
    third = InstanceServer(name=str(stale))
    assert third.listen() is True
    third.close()


def test_bad_messages_get_one_line_errors(running: DesktopDictation) -> None:
    server = running.server
    assert server is not None
    assert server.handle_line(b"not json")["ok"] is False
    assert "unknown command" in server.handle_line(b'{"cmd": "dance"}')["error"]
    assert server.handle_line(b'{"cmd": "open", "files": "x"}')["ok"] is False


def test_the_tray_follows_the_dictation_state(qtbot, running: DesktopDictation) -> None:
    tray = running.tray
    assert tray.state == "idle" and tray.toggle_action.text() == "Start dictation"
    running.session.target = "app"
    for state, shown in (
        ("starting", "listening"),
        ("listening", "listening"),
        ("transcribing", "transcribing"),
        ("idle", "idle"),
    ):
        running.session._set_state(state)
        assert tray.state == shown
        assert shown in tray.icon.toolTip()
        assert tray.toggle_action.text() == (
            "Start dictation" if shown == "idle" else "Stop dictation"
        )
        assert running.indicator.isVisible() == (shown != "idle")
    assert running.state_name() == "idle"


def test_closing_with_dictation_enabled_keeps_murmur_in_the_tray_and_says_so_once(
    qtbot, running: DesktopDictation, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = running.window
    tray = running.tray
    messages: list[str] = []
    monkeypatch.setattr(tray.icon, "showMessage", lambda _t, text, *_a: messages.append(text))
    monkeypatch.setattr(type(tray), "visible", property(lambda _self: True))
    win.settings.dictation_enabled = True
    for _ in range(2):
        event = QCloseEvent()
        QApplication.sendEvent(win, event)
        assert not event.isAccepted() and not win.isVisible()
        assert win.service.running
        win.show()
    assert messages == [KEPT_IN_TRAY]
    win.settings.dictation_enabled = False  # closes normally again (the fixture closes it)
    assert QEvent.Type.Close


def test_hold_to_talk_starts_on_press_and_stops_on_release(
    qtbot, running: DesktopDictation, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    session = running.session

    def start(*_a: object, **k: object) -> bool:
        calls.append(f"start {k['target']}")
        session.state = "listening"
        return True

    def stop() -> None:
        calls.append("stop")
        session.state = "idle"

    monkeypatch.setattr(session, "start", start)
    monkeypatch.setattr(session, "stop", stop)
    running.hotkey.mode = "hold"
    running.hotkey._down.emit()  # what pynput's thread posts
    qtbot.waitUntil(lambda: calls == ["start app"], timeout=2000)
    running.hotkey._up.emit()
    qtbot.waitUntil(lambda: calls == ["start app", "stop"], timeout=2000)
    running.hotkey.mode = "toggle"
    running.hotkey._down.emit()
    running.hotkey._up.emit()  # a release means nothing in toggle mode
    qtbot.waitUntil(lambda: len(calls) == 3, timeout=2000)
    qtbot.wait(100)
    assert calls == ["start app", "stop", "start app"]
