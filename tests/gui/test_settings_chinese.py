"""The settings dialog's Chinese options (issue #17), driven with keys and clicks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.core.settings import Settings
from app.gui.settings_dialog import SettingsDialog

pytestmark = pytest.mark.gui


def test_choose_traditional_taiwan_and_a_slower_reading_speed(qtbot: object) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    combo = dialog.chinese_combo
    assert combo.currentData() == "original"
    assert [combo.itemData(i) for i in range(combo.count())] == [
        "original",
        "simplified",
        "traditional",
        "hk",
        "tw",
    ]
    combo.setFocus()
    for _ in range(4):
        qtbot.keyClick(combo, Qt.Key.Key_Down)  # type: ignore[attr-defined]
    assert combo.currentData() == "tw"
    assert "Taiwan" in combo.currentText()
    assert dialog.max_cps_cjk.value() == 9.0 and dialog.max_cps_latin.value() == 17.0
    dialog.max_cps_cjk.selectAll()
    qtbot.keyClicks(dialog.max_cps_cjk, "7")  # type: ignore[attr-defined]
    dialog.max_cps_latin.selectAll()
    qtbot.keyClicks(dialog.max_cps_latin, "0")  # type: ignore[attr-defined]
    assert dialog.max_cps_latin.value() == 0.0  # shown as "No limit"
    assert dialog.max_cps_latin.specialValueText() == "No limit"
    qtbot.mouseClick(  # type: ignore[attr-defined]
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    result = dialog.result_settings()
    assert result is not None
    assert (result.chinese_script, result.max_cps_cjk, result.max_cps_latin) == ("tw", 7.0, 0.0)
    assert result.pipeline_options().chinese == "tw"


def test_restore_defaults_brings_back_the_original_script(qtbot: object) -> None:
    dialog = SettingsDialog(Settings(chinese_script="hk", max_cps_cjk=6.0))
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    assert dialog.chinese_combo.currentData() == "hk"
    qtbot.mouseClick(  # type: ignore[attr-defined]
        dialog.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults),
        Qt.MouseButton.LeftButton,
    )
    assert dialog.chinese_combo.currentData() == "original"
    assert dialog.max_cps_cjk.value() == 9.0


def test_a_reading_speed_below_the_range_is_refused(qtbot: object) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    dialog.max_cps_cjk.selectAll()
    qtbot.keyClicks(dialog.max_cps_cjk, "1")  # type: ignore[attr-defined]
    qtbot.mouseClick(  # type: ignore[attr-defined]
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    assert dialog.result_settings() is None
    assert "Reading speed (CJK)" in dialog.error_label.text()
