"""The recording panel: input device, Record/Stop, live level and elapsed time.

On stop (or when a fault ends the recording: device unplugged, disk full) it
emits ``recorded(path, message)``; the window queues the file like a dropped one.
With no input device, Record is disabled and the panel says why. Interrupted
recordings from a crash are offered here too (Recover / Discard).

The recorder's writer thread only posts its events through a queued signal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.audio.capture import (
    CaptureError,
    InputDevice,
    InterruptedRecording,
    LevelChanged,
    Recorder,
    RecordingStopped,
    SilenceWarning,
    StopReason,
    StreamFactory,
    discard_recording,
    find_interrupted_recordings,
    list_input_devices,
    repair_recording,
)
from app.gui.dictation.session import amplitude
from app.gui.recording.level_meter import LevelMeter
from app.gui.theme import DANGER, icon

NO_DEVICE = "No microphone found: connect one (or check the sound settings), then press Refresh."


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class _Bridge(QObject):
    """Carries recorder events from its writer thread to the GUI thread."""

    event = Signal(object)


class RecoveryBanner(QFrame):
    """'A recording was interrupted' with Recover and Discard."""

    recoverRequested = Signal(object)  # InterruptedRecording
    discardRequested = Signal(object)

    def __init__(self, recording: InterruptedRecording, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recording = recording
        self.setObjectName("recoveryBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        started = recording.started.replace("T", " ")[:16] or "an earlier session"
        size_mb = recording.size_bytes / 1e6
        self.label = QLabel(
            f"A recording from {started} was interrupted ({size_mb:.1f} MB kept). "
            "Recover it and transcribe?"
        )
        self.label.setWordWrap(True)
        self.recover_button = QPushButton("Recover")
        self.recover_button.setAccessibleName("Recover interrupted recording")
        self.recover_button.clicked.connect(lambda: self.recoverRequested.emit(self.recording))
        self.discard_button = QPushButton("Discard")
        self.discard_button.setAccessibleName("Discard interrupted recording")
        self.discard_button.clicked.connect(lambda: self.discardRequested.emit(self.recording))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.discard_button)
        row.addWidget(self.recover_button)
        layout.addLayout(row)


class RecordingPanel(QWidget):
    recorded = Signal(str, str)  # path, one-line message ("" when stopped by the user)
    recordingChanged = Signal(bool)
    deviceChanged = Signal(str)  # the chosen device's name ("" = system default)

    def __init__(
        self,
        list_devices: Callable[[], list[InputDevice]] = list_input_devices,
        stream_factory: StreamFactory | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.list_devices = list_devices
        self.stream_factory = stream_factory
        self.recorder: Recorder | None = None
        self.devices: list[InputDevice] = []
        self._bridge = _Bridge(self)
        self._bridge.event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)

        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Input device")
        self.device_combo.currentIndexChanged.connect(self._on_device_chosen)
        self.refresh_button = QPushButton(icon("retry"), "")
        self.refresh_button.setToolTip("Look for input devices again")
        self.refresh_button.setAccessibleName("Refresh input devices")
        self.refresh_button.clicked.connect(lambda: self.refresh_devices(refresh=True))
        self.record_button = QPushButton(icon("record", DANGER), "Record")
        self.record_button.setAccessibleName("Record")
        self.record_button.clicked.connect(self.toggle_recording)
        self.meter = LevelMeter()
        self.elapsed_label = QLabel(format_elapsed(0))
        self.elapsed_label.setAccessibleName("Elapsed time")
        self.elapsed_label.setObjectName("muted")
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setObjectName("muted")
        self.message_label.setAccessibleName("Recording message")
        self.message_label.hide()
        self.banners = QVBoxLayout()
        self.banners.setContentsMargins(0, 0, 0, 0)

        top = QHBoxLayout()
        top.addWidget(self.device_combo, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.record_button)
        levels = QHBoxLayout()
        levels.addWidget(self.meter, 1)
        levels.addWidget(self.elapsed_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(self.banners)
        layout.addLayout(top)
        layout.addLayout(levels)
        layout.addWidget(self.message_label)
        self._preferred = ""

    # -- devices ------------------------------------------------------------------
    def refresh_devices(self, refresh: bool = False, preferred: str | None = None) -> None:
        """List the input devices; with none, disable Record and say why."""
        if preferred is not None:
            self._preferred = preferred
        if self.recording:
            return
        try:
            self.devices = self.list_devices(refresh) if refresh else self.list_devices()
            problem = "" if self.devices else NO_DEVICE
        except CaptureError as exc:
            self.devices, problem = [], str(exc)
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for device in self.devices:
            label = device.label() + ("  (default)" if device.is_default else "")
            self.device_combo.addItem(label, device.name)
        if self._preferred and self.device_combo.findData(self._preferred) < 0 and self.devices:
            # The chosen device has gone: say so, never silently record from another.
            self.device_combo.insertItem(0, f"{self._preferred} (not connected)", self._preferred)
        index = self.device_combo.findData(self._preferred) if self._preferred else -1
        if index < 0:
            index = next((i for i, d in enumerate(self.devices) if d.is_default), 0)
        self.device_combo.setCurrentIndex(index)
        self.device_combo.blockSignals(False)
        self.device_combo.setEnabled(bool(self.devices))
        self.record_button.setEnabled(bool(self.devices))
        self.record_button.setToolTip(problem or "Record from the chosen input (Ctrl+Shift+R)")
        self.show_message(problem)

    def chosen_device(self) -> InputDevice | str | None:
        name = self.device_combo.currentData()
        if name is None:
            return None
        for device in self.devices:
            if device.name == name:
                return device
        return str(name)  # not connected: the recorder reports it

    def _on_device_chosen(self, _index: int) -> None:
        name = self.device_combo.currentData()
        chosen = next((d for d in self.devices if d.name == name), None)
        self._preferred = "" if chosen is None or chosen.is_default else str(name)
        self.deviceChanged.emit(self._preferred)

    def show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet(f"color: {DANGER};" if error else "")
        self.message_label.setVisible(bool(text))

    # -- recording ---------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def toggle_recording(self) -> None:
        if self.recording:
            self.stop()
        elif self.record_button.isEnabled():
            self.start()

    def start(self) -> bool:
        if self.recording:
            return True
        recorder = Recorder(
            self.chosen_device(),
            stream_factory=self.stream_factory,
            on_event=self._bridge.event.emit,
        )
        try:
            recorder.start()
        except CaptureError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.recorder = recorder
        self.show_message("")
        self._set_recording_ui(True)
        return True

    def stop(self) -> None:
        """Stop; the file is finished and ``recorded`` follows."""
        recorder = self.recorder
        if recorder is None:
            return
        recorder.stop()  # RecordingStopped arrives through the bridge

    def _set_recording_ui(self, on: bool) -> None:
        self.record_button.setText("Stop" if on else "Record")
        self.record_button.setIcon(icon("stop") if on else icon("record", DANGER))
        self.record_button.setAccessibleName("Stop recording" if on else "Record")
        self.device_combo.setEnabled(not on and bool(self.devices))
        self.refresh_button.setEnabled(not on)
        if not on:
            self.meter.reset()
        self.recordingChanged.emit(on)

    @Slot(object)
    def _on_event(self, ev: object) -> None:
        if isinstance(ev, LevelChanged):
            self.meter.set_level(amplitude(ev.rms_dbfs), amplitude(ev.peak_dbfs))
            self.elapsed_label.setText(format_elapsed(ev.elapsed_s))
        elif isinstance(ev, SilenceWarning):
            self.show_message(ev.message, error=True)
        elif isinstance(ev, RecordingStopped):
            self.recorder = None
            self._set_recording_ui(False)
            message = ev.message if ev.reason is not StopReason.REQUESTED else ""
            self.show_message(message or "", error=bool(message))
            self.elapsed_label.setText(format_elapsed(ev.duration_s))
            if ev.path.exists() and ev.duration_s > 0:
                self.recorded.emit(str(ev.path), message or "")

    # -- interrupted recordings ----------------------------------------------------------
    def offer_interrupted(self) -> list[InterruptedRecording]:
        """Show a banner for each recording a crash left behind."""
        found = find_interrupted_recordings()
        for recording in found:
            banner = RecoveryBanner(recording, self)
            banner.recoverRequested.connect(lambda r, b=banner: self._recover(r, b))
            banner.discardRequested.connect(lambda r, b=banner: self._discard(r, b))
            self.banners.addWidget(banner)
            banner.show()
        return found

    def recovery_banners(self) -> list[RecoveryBanner]:
        return self.findChildren(RecoveryBanner)

    def _recover(self, recording: InterruptedRecording, banner: RecoveryBanner) -> None:
        try:
            path = repair_recording(recording)
        except CaptureError as exc:
            self.show_message(str(exc), error=True)
            return
        banner.deleteLater()
        banner.hide()
        self.recorded.emit(str(path), f"Recovered {Path(path).name}")

    def _discard(self, recording: InterruptedRecording, banner: RecoveryBanner) -> None:
        discard_recording(recording)
        banner.deleteLater()
        banner.hide()
