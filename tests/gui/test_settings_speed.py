"""The settings dialog's speed choice (issue #14): packing speech across long pauses,
chosen with the keyboard and carried to the pipeline."""

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


def test_packing_is_automatic_by_default_and_can_be_turned_off(qtbot: object) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    dialog.show()
    qtbot.waitExposed(dialog)  # type: ignore[attr-defined]
    combo = dialog.packing_combo
    assert combo.currentData() == "auto" and "Automatic" in combo.currentText()
    assert "one by one" in combo.toolTip()  # says what happens where it is unsure
    assert "on a CPU and on a GPU" in combo.toolTip()  # where automatic packs
    assert Settings().pipeline_options().chunks.pack is None  # auto: decided per device
    combo.setFocus()
    for _ in range(2):  # Automatic -> Always -> Never
        qtbot.keyClick(combo, Qt.Key.Key_Down)  # type: ignore[attr-defined]
    assert combo.currentData() == "off"
    result = _ok(qtbot, dialog)
    assert result.packing == "off"
    assert result.pipeline_options().chunks.pack is False


def test_restore_defaults_makes_packing_automatic_again(qtbot: object) -> None:
    dialog = SettingsDialog(Settings(packing="on"))
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    assert dialog.packing_combo.currentData() == "on"
    assert Settings(packing="on").pipeline_options().chunks.pack is True
    qtbot.mouseClick(  # type: ignore[attr-defined]
        dialog.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults),
        Qt.MouseButton.LeftButton,
    )
    assert dialog.packing_combo.currentData() == "auto"
    assert _ok(qtbot, dialog).pipeline_options().chunks.pack is None
