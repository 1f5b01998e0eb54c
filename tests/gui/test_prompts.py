"""The window's confirm dialogs themselves, answered by clicking their buttons.

Window tests replace these prompts (a modal dialog would block them); here each one
runs for real once: what it says, and what each button (and Escape) answers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.gui.prompts import CANCEL, DISCARD, EXPORT, ask_unexported, confirm_stop_work

pytestmark = pytest.mark.gui


def answer(qtbot: QtBot, act: Callable[[QMessageBox], None]) -> list[tuple[str, str, str]]:
    """When the message box is up, note what it says and let ``act`` answer it."""
    seen: list[tuple[str, str, str]] = []

    def when_shown() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isVisible():
            QTimer.singleShot(10, when_shown)
            return
        seen.append((box.windowTitle(), box.text(), box.informativeText()))
        act(box)

    QTimer.singleShot(0, when_shown)
    return seen


def click(label: str) -> Callable[[QMessageBox], None]:
    def act(box: QMessageBox) -> None:
        [button] = [b for b in box.buttons() if b.text().replace("&", "") == label]
        button.click()

    return act


def press(key: Qt.Key) -> Callable[[QMessageBox], None]:
    def act(box: QMessageBox) -> None:
        QtBot.keyClick(box, key)

    return act


@pytest.fixture
def parent(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    return widget


@pytest.mark.parametrize(
    ("act", "expected"),
    [
        (click("Export"), EXPORT),
        (click("Discard edits"), DISCARD),
        (click("Cancel"), CANCEL),
        (press(Qt.Key.Key_Escape), CANCEL),
        (press(Qt.Key.Key_Return), EXPORT),  # the default button
    ],
    ids=["export", "discard", "cancel", "escape", "enter"],
)
def test_unexported_edits_prompt(
    qtbot: QtBot, parent: QWidget, act: Callable[[QMessageBox], None], expected: str
) -> None:
    names = [f"take {i}.wav" for i in range(1, 8)]
    seen = answer(qtbot, act)
    assert ask_unexported(parent, names) == expected
    assert seen == [
        (
            "Unexported edits",
            "Edits to take 1.wav, take 2.wav, take 3.wav, take 4.wav, take 5.wav… "
            "have not been exported.",
            "Export them in your default formats before going on?",
        )
    ]


@pytest.mark.parametrize(
    ("running", "act", "expected"),
    [
        (1, click("Yes"), True),
        (1, click("No"), False),
        (3, press(Qt.Key.Key_Return), False),  # No is the default
        (3, press(Qt.Key.Key_Escape), False),
    ],
    ids=["yes", "no", "enter", "escape"],
)
def test_stop_work_prompt(
    qtbot: QtBot,
    parent: QWidget,
    running: int,
    act: Callable[[QMessageBox], None],
    expected: bool,
) -> None:
    seen = answer(qtbot, act)
    assert confirm_stop_work(parent, running) is expected
    waiting = "1 file is" if running == 1 else "3 files are"
    assert seen == [
        (
            "Transcription in progress",
            f"{waiting} still being transcribed or waiting. Stop and quit?",
            "",
        )
    ]
