"""Helpers that drive the main window the way a user does (drops, waits, reads the table)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.core.settings import Settings
from app.gui.main_window import MainWindow
from app.gui.prompts import DISCARD


def wait_all_finished(qtbot: object, win: MainWindow, timeout: int = 120_000) -> None:
    qtbot.waitUntil(  # type: ignore[attr-defined]
        lambda: win.queue.rowCount() > 0 and all(i.state.finished for i in win.queue.items),
        timeout=timeout,
    )


def drop_on(widget: object, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    center = widget.rect().center()  # type: ignore[attr-defined]
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    try:  # PySide6 6.11 takes a QPoint here, 6.12 a QPointF
        enter = QDragEnterEvent(center, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    except TypeError:
        center = QPointF(center)
        enter = QDragEnterEvent(center, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)  # type: ignore[arg-type]
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(center), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(widget, drop)  # type: ignore[arg-type]
    assert drop.isAccepted()


def table_times(win: MainWindow) -> list[tuple[float, float, str]]:
    from app.gui.editor.segment_table import COL_END, COL_START, COL_TEXT, SegmentTableView
    from app.gui.editor.timecode import parse_time

    view = win.editor.findChild(SegmentTableView)
    assert view is not None and view.isVisible()
    model = view.model()
    rows = []
    for row in range(model.rowCount()):
        start = parse_time(str(model.index(row, COL_START).data()))
        end = parse_time(str(model.index(row, COL_END).data()))
        rows.append((start, end, str(model.index(row, COL_TEXT).data())))
    return rows


@contextmanager
def shown_window(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    """A shown main window with its own config folder; closed (thread joined) afterwards."""
    monkeypatch.setenv("MURMUR_CONFIG_DIR", str(tmp_path / "config"))
    win = MainWindow(settings=settings)
    win.show()
    yield win
    monkeypatch.setattr(win, "confirm_stop_work", lambda running: True)
    monkeypatch.setattr(win, "ask_unexported", lambda items: DISCARD)
    win.close()
    assert not win.service.thread.isRunning()


def export_from_button(
    win: MainWindow, fmt: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Click the window's export button for ``fmt``; the save dialog answers ``folder``.

    Returns the folder, where the file keeps the name the dialog proposed.
    """
    from PySide6.QtWidgets import QFileDialog

    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda parent, caption, start, flt: (str(folder / Path(start).name), flt)),
    )
    win.export_buttons[fmt].click()
    return folder


def list_texts(win: MainWindow) -> list[str]:
    """The texts of the History's list, top to bottom."""
    widget = win.history.list
    return [widget.item(i).text() for i in range(widget.count())]


def click_item(qtbot: object, win: MainWindow, row: int) -> None:
    """Click row ``row`` of the History's list."""
    widget = win.history.list
    rect = widget.visualItemRect(widget.item(row))
    qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # type: ignore[attr-defined]


def type_in_cell(qtbot: object, win: MainWindow, row: int, text: str) -> None:
    """Edit the text cell of ``row`` in the editor's table: type ``text`` over it, Return."""
    from PySide6.QtWidgets import QLineEdit

    from app.gui.editor.segment_table import COL_TEXT

    table = win.editor.table
    index = win.editor.model.index(row, COL_TEXT)
    table.setCurrentIndex(index)
    table.edit(index)
    line = table.indexWidget(index) or table.viewport().findChild(QLineEdit)
    assert isinstance(line, QLineEdit)
    line.selectAll()
    qtbot.keyClicks(line, text)  # type: ignore[attr-defined]
    qtbot.keyClick(line, Qt.Key.Key_Return)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: not table.is_editing())  # type: ignore[attr-defined]
