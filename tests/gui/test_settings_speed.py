"""The settings dialog's speed choice (issue #14): packing speech across long pauses,
switched with a click and carried to the pipeline."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.core.settings import Settings
from app.gui.settings_dialog import SettingsDialog

pytestmark = pytest.mark.gui


def _ok(qtbot: object, dialog: SettingsDialog) -> Settings:
    qtbot.mouseClick(  # type: ignore[attr-defined]
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    result = dialog.result_settings()
    assert result is not None
    return result


def test_packing_is_off_by_default_and_a_click_turns_it_on(qtbot: object) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    dialog.show()
    qtbot.waitExposed(dialog)  # type: ignore[attr-defined]
    box = dialog.pack_windows
    assert not box.isChecked() and "CPU" in box.text()
    assert "one by one" in box.toolTip()  # says what happens where it is unsure
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    result = _ok(qtbot, dialog)
    assert result.pack_windows
    assert result.pipeline_options().chunks.pack


def test_restore_defaults_turns_packing_off(qtbot: object) -> None:
    dialog = SettingsDialog(Settings(pack_windows=True))
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    assert dialog.pack_windows.isChecked()
    qtbot.mouseClick(  # type: ignore[attr-defined]
        dialog.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults),
        Qt.MouseButton.LeftButton,
    )
    assert not dialog.pack_windows.isChecked()
    assert not _ok(qtbot, dialog).pipeline_options().chunks.pack
