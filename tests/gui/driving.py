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
    point = widget.rect().center()  # type: ignore[attr-defined]
    center = QPointF(point)
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    # QDragEnterEvent takes a QPoint (PySide6 6.11), QDropEvent a QPointF
    enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)  # type: ignore[arg-type]
    assert enter.isAccepted()
    drop = QDropEvent(center, Qt.DropAction.CopyAction, mime, buttons, modifiers)
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
