"""Views that grow or change per event update only what changed (issue #16).

A chunk's rows are inserted (never a rebuild), one edit or one playback step touches only
its rows, and a progress event repaints only its queue row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QAbstractItemModel, QModelIndex

from app.core.events import ChunkTranscribed, Progress
from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.edits import SetText
from app.gui.document import TranscriptDocument
from app.gui.editor import TranscriptEditor
from app.gui.editor.segment_table import COL_TEXT
from app.gui.live_view import COL_TEXT as LIVE_COL_TEXT
from app.gui.live_view import LiveSegmentsView
from app.gui.main_window import MainWindow
from app.gui.queue_model import JobState

pytestmark = pytest.mark.gui


def segments(n: int, start: float = 0.0) -> list[Segment]:
    return [Segment(start + 2.0 * i, start + 2.0 * i + 1.5, f"line {i}") for i in range(n)]


class Signals:
    """Every change signal of a model, as ("kind", first, last)."""

    def __init__(self, model: QAbstractItemModel) -> None:
        self.seen: list[tuple[str, int, int]] = []
        model.rowsInserted.connect(lambda _p, a, b: self.seen.append(("inserted", a, b)))
        model.rowsRemoved.connect(lambda _p, a, b: self.seen.append(("removed", a, b)))
        model.modelReset.connect(lambda: self.seen.append(("reset", -1, -1)))
        model.layoutChanged.connect(lambda *_a: self.seen.append(("layout", -1, -1)))
        model.dataChanged.connect(self._changed)

    def _changed(self, top: QModelIndex, bottom: QModelIndex, *_roles: Any) -> None:
        self.seen.append(("changed", top.row(), bottom.row()))


def test_live_view_inserts_each_chunk_at_its_place_in_time(qtbot: Any) -> None:
    view = LiveSegmentsView()
    qtbot.addWidget(view)
    view.show()
    chunks = [segments(3, 0.0), segments(2, 100.0), segments(4, 50.0), segments(1, 10.0)]
    signals = Signals(view.live_model)
    for chunk in chunks:
        view.add_segments(list(reversed(chunk)))  # in any order inside a chunk too
    rows = view.live_model.segments()
    assert rows == sorted((s for c in chunks for s in c), key=lambda s: (s.start, s.end))
    # One insert per chunk, where it belongs: after 3 rows, at the end, between, between.
    assert signals.seen == [
        ("inserted", 0, 2),
        ("inserted", 3, 4),
        ("inserted", 3, 6),
        ("inserted", 3, 3),
    ]
    assert view.live_model.index(3, LIVE_COL_TEXT).data() == "line 0"  # the chunk at 10 s
    assert view.live_model.index(3, 0).data() == "0:10.0"


def test_editor_updates_only_the_edited_and_the_played_rows(qtbot: Any) -> None:
    many = segments(3000)
    doc = TranscriptDocument(Transcript(many, TranscriptMeta(duration=many[-1].end + 1)), "")
    editor = TranscriptEditor()
    qtbot.addWidget(editor)
    editor.resize(900, 600)
    editor.show()
    editor.set_document(doc)
    signals = Signals(editor.model)

    doc.push(SetText(1234, "edited"))
    assert signals.seen == [("changed", 1234, 1234)]
    assert editor.model.index(1234, COL_TEXT).data() == "edited"

    signals.seen.clear()
    editor._on_position(many[10].start + 0.1)  # the player's position signal
    editor._on_position(many[11].start + 0.1)
    assert signals.seen == [("changed", 10, 10), ("changed", 10, 10), ("changed", 11, 11)]
    assert editor.model.current_row == 11

    # Rows get their wrapped height when on screen; far-away rows are not measured.
    qtbot.waitUntil(lambda: editor.table.rowAt(0) == editor.table.verticalScrollBar().value())
    table = editor.table
    header = table.verticalHeader()
    table.horizontalHeader().setStretchLastSection(False)
    table.setColumnWidth(2, 30)  # "line 11" wraps onto two lines now
    table.fit_visible_rows()
    visible = table.rowAt(0)

    def fitted(row: int) -> int:
        return max(table.sizeHintForRow(row), header.sectionSizeHint(row))

    assert table.rowHeight(visible) == fitted(visible) != header.defaultSectionSize()
    assert table.rowHeight(2999) == header.defaultSectionSize() != fitted(2999)


def test_a_progress_event_repaints_one_queue_row(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MURMUR_CONFIG_DIR", str(tmp_path))
    win = MainWindow(preload=False)
    qtbot.addWidget(win)
    monkeypatch.setattr(win, "confirm_stop_work", lambda running: True)
    items = win.queue.add([str(tmp_path / f"{n}.wav") for n in range(5)])
    for job, item in enumerate(items, start=1):
        win._job_items[job] = item.id
        item.state = JobState.RUNNING
    win.queue_view.select_item(items[2].id)
    signals = Signals(win.queue)
    live = Signals(win.live_view.live_model)

    win._on_event(3, Progress(0.5, 1, 2, 1.0, 1.0))
    win._on_event(3, ChunkTranscribed(0, 0.0, 2.0, "a b", tuple(segments(2)), False))
    assert signals.seen == [("changed", 2, 2), ("changed", 2, 2)]
    assert live.seen == [("inserted", 0, 1)]
    assert items[2].fraction == 0.5
    assert win.queue_view.card(items[2].id).progress.value() == 500  # type: ignore[union-attr]
    for item in items:
        item.cancel_event.set()
    win.service.shutdown()
