"""The Record menu: record, dictate in the window, recent dictations (each with a shortcut)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

from app.gui.theme import DANGER, icon

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

RECORD_SHORTCUT = "Ctrl+Shift+R"
DICTATE_SHORTCUT = "Ctrl+Shift+D"


def add_record_menu(win: MainWindow) -> None:
    menu = win.menuBar().addMenu("&Record")
    help_menu = next(
        (a for a in win.menuBar().actions() if a.text().replace("&", "") == "Help"), None
    )
    if help_menu is not None:  # keep Help last
        win.menuBar().insertMenu(help_menu, menu)
    win.action_record = QAction(icon("record", DANGER), "&Record / stop", win)
    win.action_record.setShortcut(QKeySequence(RECORD_SHORTCUT))
    win.action_record.triggered.connect(win.recording_panel.toggle_recording)
    win.action_dictate = QAction(icon("mic"), "&Dictate in the window", win)
    win.action_dictate.setShortcut(QKeySequence(DICTATE_SHORTCUT))
    win.action_dictate.triggered.connect(win.show_dictation)
    win.action_recent_dictations = QAction("Recent &dictations…", win)
    win.action_recent_dictations.triggered.connect(win.recentDictationsRequested)
    for action in (win.action_record, win.action_dictate, win.action_recent_dictations):
        win.addAction(action)
        menu.addAction(action)
