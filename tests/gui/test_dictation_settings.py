"""The settings dialog's dictation group: shortcut, mode, output, ending, microphone."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.core.audio.capture import InputDevice, PortAudioMissing
from app.core.settings import Settings
from app.gui.settings_dialog import SettingsDialog

pytestmark = [pytest.mark.gui]

MICS = [
    InputDevice(0, "Built-in Microphone", 2, 48000, True, "ALSA"),
    InputDevice(3, "USB Headset", 1, 44100, False, "ALSA"),
]


def test_the_dictation_choices_are_saved(qtbot) -> None:
    dialog = SettingsDialog(Settings(), list_devices=lambda: MICS)
    qtbot.addWidget(dialog)
    assert dialog.input_device.currentText() == "System default"
    dialog.input_device.setCurrentIndex(dialog.input_device.findData("USB Headset"))
    dialog.dictation_enabled.setChecked(True)
    dialog.dictation_shortcut.setText("<ctrl>+<shift>+<space>")
    dialog.dictation_mode.setCurrentIndex(dialog.dictation_mode.findData("hold"))
    dialog.dictation_output.setCurrentIndex(dialog.dictation_output.findData("type"))
    dialog.dictation_ending.setCurrentIndex(dialog.dictation_ending.findData("newline"))
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    result = dialog.result_settings()
    assert result is not None, dialog.error_label.text()
    assert result.input_device == "USB Headset" and result.dictation_enabled
    assert (result.dictation_shortcut, result.dictation_mode) == ("<ctrl>+<shift>+<space>", "hold")
    assert (result.dictation_output, result.dictation_ending) == ("type", "newline")


def test_a_bad_shortcut_is_refused_with_one_line(qtbot) -> None:
    dialog = SettingsDialog(Settings(), list_devices=lambda: MICS)
    qtbot.addWidget(dialog)
    dialog.dictation_shortcut.setText("d")
    dialog.accept()
    assert dialog.result_settings() is None
    assert "Dictation shortcut" in dialog.error_label.text()


def test_a_saved_microphone_that_has_gone_is_shown_not_replaced(qtbot) -> None:
    dialog = SettingsDialog(Settings(input_device="Blue Yeti"), list_devices=lambda: MICS)
    qtbot.addWidget(dialog)
    assert dialog.input_device.currentText() == "Blue Yeti (not connected)"
    assert dialog.current_settings().input_device == "Blue Yeti"

    def missing() -> list[InputDevice]:
        raise PortAudioMissing("PortAudio is missing")

    dialog = SettingsDialog(Settings(), list_devices=missing)
    qtbot.addWidget(dialog)
    assert dialog.input_device.count() == 1  # the system default only


def test_wayland_says_to_bind_the_toggle_command(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    dialog = SettingsDialog(Settings(), list_devices=lambda: MICS)
    qtbot.addWidget(dialog)
    assert not dialog.shortcut_note.isHidden()
    assert "murmur dictate --toggle" in dialog.shortcut_note.text()
