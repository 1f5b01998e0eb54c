"""The main window's menus and their keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence

from app.core.settings import EXPORT_FORMATS
from app.gui import export_actions
from app.gui.crash import open_log_folder
from app.gui.editor.subtitle_import import import_subtitles_dialog
from app.gui.theme import icon

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow


def _action(
    win: MainWindow,
    text: str,
    slot: Callable[..., Any],
    shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
    icon_name: str = "",
) -> QAction:
    action = QAction(text, win)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    return action


def build_menus(win: MainWindow) -> None:
    """File, Edit, Subtitles, Queue, Playback and Help; every action has a shortcut."""
    bar = win.menuBar()
    file_menu = bar.addMenu("&File")
    win.action_add = _action(win, "&Add files…", win.add_files_dialog, "Ctrl+O", "add")
    win.action_add_folder = _action(
        win, "Add &folder…", win.add_folder_dialog, "Ctrl+Shift+O", "folder"
    )
    file_menu.addAction(win.action_add)
    file_menu.addAction(win.action_add_folder)
    win.action_import_subtitles = _action(
        win, "&Import subtitles…", lambda: import_subtitles_dialog(win), "Ctrl+I"
    )
    file_menu.addAction(win.action_import_subtitles)
    file_menu.addSeparator()
    win.export_menu = file_menu.addMenu(icon("export"), "&Export")
    win.export_actions: dict[str, QAction] = {}
    for fmt in EXPORT_FORMATS:
        action = _action(
            win,
            f"{fmt.upper()} – {export_actions.FORMAT_LABELS[fmt]}…",
            lambda _=False, f=fmt: win.export_current(f),
            export_actions.FORMAT_SHORTCUTS[fmt],
        )
        win.export_actions[fmt] = action
        win.export_menu.addAction(action)
    win.action_export_all = _action(
        win, "Export all &finished", win.export_all_finished, "Ctrl+Shift+E", "export"
    )
    file_menu.addAction(win.action_export_all)
    file_menu.addSeparator()
    win.action_settings = _action(win, "&Settings…", win.open_settings, "Ctrl+,", "settings")
    win.action_settings.setMenuRole(QAction.MenuRole.PreferencesRole)
    file_menu.addAction(win.action_settings)
    file_menu.addSeparator()
    win.action_quit = _action(win, "&Quit", win.close, QKeySequence.StandardKey.Quit)
    win.action_quit.setShortcut(QKeySequence("Ctrl+Q"))
    win.action_quit.setMenuRole(QAction.MenuRole.QuitRole)
    file_menu.addAction(win.action_quit)

    edit_menu = bar.addMenu("&Edit")
    win.action_undo = win.undo_group.createUndoAction(win, "&Undo")
    win.action_undo.setShortcut(QKeySequence("Ctrl+Z"))
    win.action_undo.setIcon(icon("undo"))
    win.action_redo = win.undo_group.createRedoAction(win, "&Redo")
    win.action_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    win.action_redo.setIcon(icon("redo"))
    edit_menu.addAction(win.action_undo)
    edit_menu.addAction(win.action_redo)
    edit_menu.addSeparator()
    ed = win.editor
    for action in (ed.action_find, ed.action_replace):
        edit_menu.addAction(action)
    edit_menu.addSeparator()
    for action in (ed.action_split, ed.action_merge, ed.action_insert, ed.action_delete):
        edit_menu.addAction(action)

    subtitles_menu = bar.addMenu("&Subtitles")
    for action in ed.subtitle_tools.menu_actions():
        if action is None:
            subtitles_menu.addSeparator()
        else:
            subtitles_menu.addAction(action)

    queue_menu = bar.addMenu("&Queue")
    win.action_cancel_item = _action(
        win, "&Cancel selected", win._cancel_current, "Ctrl+.", "cancel"
    )
    win.action_retry_item = _action(win, "&Retry selected", win._retry_current, "Ctrl+R", "retry")
    win.action_remove_item = _action(
        win, "Re&move selected", win._remove_current, "Ctrl+Backspace", "remove"
    )
    for action in (win.action_cancel_item, win.action_retry_item, win.action_remove_item):
        queue_menu.addAction(action)

    play_menu = bar.addMenu("&Playback")
    for action in (ed.action_play_pause, ed.action_back_5s, ed.action_forward_5s):
        play_menu.addAction(action)

    help_menu = bar.addMenu("&Help")
    win.action_help = _action(win, "Murmur &help", win.show_help, "F1", "help")
    win.action_about = _action(win, "&About Murmur", win.show_about, "Ctrl+Shift+A")
    win.action_about.setMenuRole(QAction.MenuRole.AboutRole)
    win.action_show_logs = _action(win, "Show &logs", open_log_folder)
    win.action_show_logs.setToolTip("Open the folder of Murmur's log files")
    help_menu.addAction(win.action_help)
    help_menu.addAction(win.action_show_logs)
    help_menu.addAction(win.action_about)
