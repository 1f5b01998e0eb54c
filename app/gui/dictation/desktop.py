"""Dictation into any application: the parts that live outside the main window.

Composes, around the window's :class:`~app.gui.dictation.session.DictationSession`:
the single-instance channel (``murmur dictate --toggle``, ``murmur FILE...``),
the global shortcut, the tray icon, the level indicator and the text output.
Each utterance dictated this way is delivered into the focused application
as soon as it is transcribed, and kept in Recent dictations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QApplication

from app.gui.dictation import session as states
from app.gui.dictation.hotkey import GlobalHotkey
from app.gui.dictation.output import TextOutput
from app.gui.dictation.tray import CloseToTray, DictationTray, LevelIndicator

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow
    from app.gui.single_instance import InstanceServer

APP_TARGET = "app"

_TRAY_STATE = {
    states.IDLE: "idle",
    states.STARTING: "listening",
    states.LISTENING: "listening",
    states.TRANSCRIBING: "transcribing",
    states.FINISHING: "transcribing",
}


class DesktopDictation(QObject):
    def __init__(self, window: MainWindow, server: InstanceServer | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.dictation_session
        self.output = TextOutput(parent=self)
        self.output.failed.connect(lambda line: window.statusBar().showMessage(line, 10000))
        self.tray = DictationTray(self)
        self.tray.toggleRequested.connect(self.toggle)
        self.tray.openRequested.connect(self.open_window)
        self.tray.recentRequested.connect(self.show_recent)
        self.tray.quitRequested.connect(self.quit)
        self.close_filter = CloseToTray(
            window, self.tray, lambda: window.settings.dictation_enabled
        )
        self.indicator = LevelIndicator()
        self.hotkey = GlobalHotkey(self)
        self.hotkey.toggled.connect(self.toggle)
        self.hotkey.pressed.connect(self.start_dictation)
        self.hotkey.released.connect(self.stop_dictation)
        self.hotkey.failed.connect(lambda line: window.statusBar().showMessage(line, 10000))
        self.session.stateChanged.connect(self._on_state)
        self.session.level.connect(self._on_level)
        self.session.utterance.connect(self._on_utterance)
        self.session.failed.connect(self._on_failed)
        self.server = server
        if server is not None:
            server.filesReceived.connect(self.receive_files)
            server.toggleRequested.connect(self.toggle)
            server.toggle_state = self.state_name
        window.settingsChanged.connect(self.apply_settings)
        window.recentDictationsRequested.connect(self.show_recent)

    # -- life --------------------------------------------------------------------
    def start(self) -> None:
        self.apply_settings()
        self.tray.show()

    def apply_settings(self) -> None:
        settings = self.window.settings
        if settings.dictation_enabled:
            self.hotkey.start(settings.dictation_shortcut, settings.dictation_mode)
        else:
            self.hotkey.stop()

    def quit(self) -> None:
        self.close_filter.quitting = True
        self.hotkey.stop()
        if self.window.close():
            self.tray.hide()
            self.indicator.close()
            QApplication.quit()
        else:
            self.close_filter.quitting = False

    # -- commands ----------------------------------------------------------------
    def state_name(self) -> str:
        return _TRAY_STATE.get(self.session.state, "idle")

    @property
    def dictating_here(self) -> bool:
        return self.session.active and self.session.target == APP_TARGET

    @Slot()
    def toggle(self) -> None:
        if self.session.active:
            self.stop_dictation()
        else:
            self.start_dictation()

    @Slot()
    def start_dictation(self) -> None:
        if not self.session.active:
            self.session.start(self.window.effective_settings(), keep_file=False, target=APP_TARGET)

    @Slot()
    def stop_dictation(self) -> None:
        if self.session.active:
            self.session.stop()

    @Slot(list)
    def receive_files(self, files: list[str]) -> None:
        self.open_window()
        if files:
            self.window.add_files(files)

    def open_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def show_recent(self) -> None:
        from app.gui.dictation.recent_view import RecentDictationsDialog

        RecentDictationsDialog(self.output.recent, self.window).exec()

    # -- session events --------------------------------------------------------------
    def _on_state(self, state: str) -> None:
        self.tray.set_state(self.state_name())
        if self.session.target != APP_TARGET:
            return
        if state == states.IDLE:
            self.indicator.hide()
            self.indicator.set_level(0.0, 0.0)
        else:
            self.indicator.set_state(self.state_name())
            if not self.indicator.isVisible():
                self.indicator.show_near_bottom()

    def _on_level(self, rms: float, peak: float, _elapsed: float) -> None:
        if self.indicator.isVisible():
            self.indicator.set_level(rms, peak)

    def _on_utterance(self, ev: Any) -> None:
        if self.session.target == APP_TARGET and ev.text:
            settings = self.window.settings
            self.output.deliver(ev.text, settings.dictation_output, settings.dictation_ending)

    def _on_failed(self, line: str) -> None:
        if self.session.target == APP_TARGET:
            self.window.statusBar().showMessage(line, 10000)
            if self.tray.visible:
                self.tray.icon.showMessage("Murmur", line)
