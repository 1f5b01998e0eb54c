"""The global dictation shortcut: the key tracking, where it can't work, and real X11 keys."""

from __future__ import annotations

import subprocess

import pytest

from app.gui.dictation.hotkey import WAYLAND_HINT, ComboTracker, GlobalHotkey, availability
from tests.xvfb import require, virtual_display


def test_combo_fires_once_when_complete_and_once_when_broken() -> None:
    log: list[str] = []
    tracker = ComboTracker(
        {"ctrl", "alt", "d"}, lambda: log.append("down"), lambda: log.append("up")
    )
    for key in ("ctrl", "x", "alt"):
        tracker.press(key)
    assert log == []
    tracker.press("d")
    tracker.press("d")  # auto-repeat while held
    assert log == ["down"]
    tracker.release("x")
    assert log == ["down"]
    tracker.release("d")
    tracker.release("alt")
    assert log == ["down", "up"]
    tracker.press("d")  # alt is up: not the combination
    assert log == ["down", "up"]
    tracker.press("alt")
    assert log == ["down", "up", "down"]


def test_wayland_and_no_display_point_at_the_toggle_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    ok, why = availability({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"})
    assert not ok and why == WAYLAND_HINT and "murmur dictate --toggle" in why
    ok, why = availability({})
    assert not ok and "murmur dictate --toggle" in why
    assert availability({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}) == (True, "")


def test_without_a_display_the_shortcut_reports_instead_of_crashing(
    qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    hotkey = GlobalHotkey()
    with qtbot.waitSignal(hotkey.failed, timeout=2000) as failed:
        assert hotkey.start("<ctrl>+<alt>+d") is False
    assert "murmur dictate --toggle" in failed.args[0]
    assert not hotkey.active


def test_real_x11_keys_toggle_and_hold(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    require("xdotool")
    with virtual_display() as display:
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
        env = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
        hotkey = GlobalHotkey()
        try:
            assert hotkey.start("<ctrl>+<alt>+d", mode="toggle"), "listener not installed"
            with qtbot.waitSignal(hotkey.toggled, timeout=5000):
                subprocess.run(["xdotool", "key", "ctrl+alt+d"], env=env, check=True)
            assert hotkey.start("<ctrl>+<alt>+d", mode="hold")
            with qtbot.waitSignal(hotkey.pressed, timeout=5000):
                subprocess.run(["xdotool", "keydown", "ctrl+alt+d"], env=env, check=True)
            with qtbot.assertNotEmitted(hotkey.released, wait=300):
                pass  # still held: nothing
            with qtbot.waitSignal(hotkey.released, timeout=5000):
                subprocess.run(["xdotool", "keyup", "d"], env=env, check=True)
            subprocess.run(["xdotool", "keyup", "ctrl+alt"], env=env, check=True)
        finally:
            hotkey.stop()
