"""The system-tray icon (idle / listening / transcribing) and the small level indicator.

The tray menu starts and stops dictation and opens the window. While dictation
into other applications is enabled, closing the window keeps Murmur in the
tray, and says so once. The indicator is a frameless always-on-top tool window
that shows the level while dictating and never takes the focus away from the
application being dictated into.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QSystemTrayIcon, QWidget

from app import APP_NAME
from app.gui.recording.level_meter import LevelMeter
from app.gui.theme import ACCENT, DANGER, icon

IDLE, LISTENING, TRANSCRIBING = "idle", "listening", "transcribing"
STATE_TEXT = {IDLE: "Idle", LISTENING: "Listening…", TRANSCRIBING: "Transcribing…"}
_STATE_COLOR = {IDLE: "#8A8F98", LISTENING: DANGER, TRANSCRIBING: ACCENT}

KEPT_IN_TRAY = (
    "Murmur keeps running in the tray so that the dictation shortcut works. "
    "Quit it from the tray menu."
)


def state_icon(state: str) -> QIcon:
    return icon("mic", _STATE_COLOR.get(state, _STATE_COLOR[IDLE]))


class DictationTray(QObject):
    """Tray icon and menu. Works (state, actions) even where no tray exists;
    it is only shown where ``QSystemTrayIcon.isSystemTrayAvailable()``."""

    toggleRequested = Signal()
    openRequested = Signal()
    recentRequested = Signal()
    quitRequested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = IDLE
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.toggle_action = QAction("Start dictation", self.menu)
        self.toggle_action.triggered.connect(self.toggleRequested)
        self.open_action = QAction("Open Murmur", self.menu)
        self.open_action.triggered.connect(self.openRequested)
        self.recent_action = QAction("Recent dictations…", self.menu)
        self.recent_action.triggered.connect(self.recentRequested)
        self.quit_action = QAction(f"Quit {APP_NAME}", self.menu)
        self.quit_action.triggered.connect(self.quitRequested)
        self.menu.addAction(self.toggle_action)
        self.menu.addAction(self.open_action)
        self.menu.addAction(self.recent_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self._told_kept = False
        self.set_state(IDLE)

    def set_state(self, state: str) -> None:
        self.state = state
        self.icon.setIcon(state_icon(state))
        self.icon.setToolTip(f"{APP_NAME} — dictation: {STATE_TEXT[state].rstrip('…').lower()}")
        self.toggle_action.setText("Start dictation" if state == IDLE else "Stop dictation")

    def show(self) -> bool:
        if self.available:
            self.icon.show()
        return self.available

    def hide(self) -> None:
        self.icon.hide()

    @property
    def visible(self) -> bool:
        return self.icon.isVisible()

    def tell_kept_in_tray(self) -> bool:
        """Say once per session that closing the window left Murmur in the tray."""
        if self._told_kept:
            return False
        self._told_kept = True
        self.icon.showMessage(APP_NAME, KEPT_IN_TRAY, state_icon(self.state), 6000)
        return True

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.openRequested.emit()


class CloseToTray(QObject):
    """Event filter on the main window: while ``enabled()`` and a tray is shown,
    closing hides the window instead (and the tray says so once)."""

    def __init__(self, window: QWidget, tray: DictationTray, enabled: object) -> None:
        super().__init__(window)
        self._window = window
        self._tray = tray
        self._enabled = enabled
        self.quitting = False
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self._window
            and event.type() == QEvent.Type.Close
            and not self.quitting
            and self._tray.visible
            and callable(self._enabled)
            and self._enabled()
        ):
            event.ignore()
            self._window.hide()
            self._tray.tell_kept_in_tray()
            return True
        return False


class LevelIndicator(QWidget):
    """Always on top, frameless, never focused: state and level while dictating."""

    def __init__(self) -> None:
        super().__init__(
            None,
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus,
        )
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setObjectName("levelIndicator")
        self.setAccessibleName("Dictation indicator")
        self.icon_label = QLabel()
        self.text_label = QLabel(STATE_TEXT[LISTENING])
        self.meter = LevelMeter()
        self.meter.setFixedWidth(120)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 12, 6)
        layout.setSpacing(8)
        layout.addWidget(self.icon_label)
        layout.addWidget(self.text_label)
        layout.addWidget(self.meter)
        self.set_state(LISTENING)

    def set_state(self, state: str) -> None:
        self.icon_label.setPixmap(state_icon(state).pixmap(16, 16))
        self.text_label.setText(STATE_TEXT[state])

    def set_level(self, rms: float, peak: float) -> None:
        self.meter.set_level(rms, peak)

    def show_near_bottom(self) -> None:
        """Show at the bottom centre of the primary screen, without taking focus."""
        self.adjustSize()
        screen = self.screen() or None
        if screen is not None:
            area = screen.availableGeometry()
            self.move(area.center().x() - self.width() // 2, area.bottom() - self.height() - 48)
        self.show()
