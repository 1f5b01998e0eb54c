"""The global dictation shortcut, with pynput (X11, Windows, macOS).

pynput calls us on its own listener thread. That thread does nothing but keep
track of which keys are down and *emit a signal* that is connected with a
queued connection, so the work always happens on the GUI thread.

Two modes (``Settings.dictation_mode``):

- ``toggle``: each press of the combination emits ``toggled``;
- ``hold``: pressing it emits ``pressed``, letting go of any of its keys emits
  ``released`` (hold-to-talk).

Wayland gives no global key events to applications; :func:`availability` says
so, and points at ``murmur dictate --toggle`` for the desktop's own shortcuts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)

WAYLAND_HINT = (
    "Global shortcuts do not work under Wayland. Bind `murmur dictate --toggle` "
    "in your desktop's keyboard settings instead."
)


def availability(environ: dict[str, str] | None = None) -> tuple[bool, str]:
    """Whether a global shortcut can work here, and if not, one line saying why."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return True, ""
    if env.get("XDG_SESSION_TYPE", "").lower() == "wayland" or (
        env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY")
    ):
        return False, WAYLAND_HINT
    if not env.get("DISPLAY"):
        return False, (
            "Global shortcuts need an X11 display (none is set). "
            "Bind `murmur dictate --toggle` in your desktop's keyboard settings instead."
        )
    return True, ""


class ComboTracker:
    """Which keys are down, and when the combination starts and ends being held.

    Keys are any hashable values (pynput canonical keys in use, strings in
    tests). ``on_down`` fires once when the last key of the combination goes
    down; ``on_up`` fires once when any of its keys comes up after that."""

    def __init__(
        self, combo: Iterable[Hashable], on_down: Callable[[], None], on_up: Callable[[], None]
    ) -> None:
        self.combo = frozenset(combo)
        self._down: set[Hashable] = set()
        self._held = False
        self._on_down = on_down
        self._on_up = on_up

    def press(self, key: Hashable) -> None:
        if key not in self.combo:
            return
        self._down.add(key)
        if not self._held and self._down >= self.combo:
            self._held = True
            self._on_down()

    def release(self, key: Hashable) -> None:
        self._down.discard(key)
        if self._held and key in self.combo:
            self._held = False
            self._on_up()


class GlobalHotkey(QObject):
    """The shortcut, reported on the GUI thread as ``toggled``/``pressed``/``released``."""

    toggled = Signal()
    pressed = Signal()
    released = Signal()
    failed = Signal(str)  # one line: the shortcut could not be installed

    # Emitted from pynput's thread; connected queued to the GUI-thread slots.
    _down = Signal()
    _up = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.mode = "toggle"
        self._listener: Any = None
        self._down.connect(self._on_down, Qt.ConnectionType.QueuedConnection)
        self._up.connect(self._on_up, Qt.ConnectionType.QueuedConnection)

    @property
    def active(self) -> bool:
        return self._listener is not None

    def start(self, shortcut: str, mode: str = "toggle") -> bool:
        """(Re)install the shortcut. False, with ``failed`` emitted, when it can't be."""
        self.stop()
        self.mode = mode
        ok, why = availability()
        if not ok:
            self.failed.emit(why)
            return False
        try:
            from pynput import keyboard

            combo = keyboard.HotKey.parse(shortcut)
            listener: Any = None

            def canonical(key: Any) -> Any:
                return listener.canonical(key) if listener is not None else key

            tracker = ComboTracker(combo, self._down.emit, self._up.emit)
            listener = keyboard.Listener(
                on_press=lambda key: tracker.press(canonical(key)),
                on_release=lambda key: tracker.release(canonical(key)),
            )
            listener.daemon = True
            listener.start()
            listener.wait()
        except Exception as exc:  # no X server, bad syntax, no permission (macOS)
            log.warning("global shortcut %r not installed: %s", shortcut, exc)
            self.failed.emit(f"The shortcut {shortcut} could not be installed: {exc}")
            return False
        self._listener = listener
        return True

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
            # After it has seen keys, pynput's X11 listener (1.8) queues its "disable" on
            # the connection its own thread is blocked on, so the thread would end only at
            # the next key press. Send it on the other connection, as pynput itself does
            # when its thread ends.
            display = getattr(listener, "_display_stop", None)
            context = getattr(listener, "_context", None)
            if display is not None and context is not None:
                with contextlib.suppress(Exception):
                    display.record_disable_context(context)
                    display.flush()
            listener.join(2.0)

    @Slot()
    def _on_down(self) -> None:
        if self.mode == "hold":
            self.pressed.emit()
        else:
            self.toggled.emit()

    @Slot()
    def _on_up(self) -> None:
        if self.mode == "hold":
            self.released.emit()
