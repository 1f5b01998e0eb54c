"""The main window with a model that really listens: drop a video, read, correct, export.

The listener (tests/fixtures/listener) turns held-out speech into known words, so the
table, the playback position and the exported subtitles can be checked word for word.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from app.gui.editor.segment_table import COL_START, COL_TEXT
from app.gui.main_window import MainWindow
from app.gui.queue_model import JobState
from tests import speech
from tests.gui.driving import drop_on, export_from_button, table_times, wait_all_finished
from tests.listener_speech import HELD_OUT_SEED, WER_BAR, Track, spaced_track, wer

pytestmark = [
    pytest.mark.gui,
    pytest.mark.slow,
    # Playing a video headless: the offscreen platform has no GPU backend, so Qt says it
    # converts video frames on the CPU. Not our code, and the right fallback.
    pytest.mark.qt_log_ignore("No RHI backend"),
]


@pytest.fixture
def window(listener_window: MainWindow) -> MainWindow:
    return listener_window


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """Five held-out sentences, 1.5-2.5 s apart, so each is its own segment."""
    out = tmp_path_factory.mktemp("listener-window")
    return spaced_track(out, HELD_OUT_SEED + 31, 5, (1.5, 2.5), (2, 6), max_chars=36)


def test_drop_a_video_correct_a_line_and_export_subtitles(
    qtbot: object,
    window: MainWindow,
    track: Track,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import srt

    video = speech.convert(track.path, tmp_path / "lecture.mp4", "mp4", video=True)
    drop_on(window.drop_zone, [video])
    wait_all_finished(qtbot, window)
    item = window.queue.items[0]
    assert item.state == JobState.DONE, item.error
    window.queue_view.select_item(item.id)

    # The table shows each sentence, in order, where it is spoken.
    rows = table_times(window)
    texts = [text for _, _, text in rows]
    assert len(rows) == len(track.sentences), texts
    assert wer(track.sentences, texts) <= WER_BAR, list(zip(track.sentences, texts, strict=True))
    for (start, end, _), onset in zip(rows, track.onsets, strict=True):
        assert abs(start - onset) <= 0.3 and end <= track.duration + 0.05

    # Double-clicking a time plays that segment's audio.
    editor = window.editor
    rect = editor.table.visualRect(editor.model.index(2, COL_START))
    qtbot.mouseClick(editor.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # type: ignore[attr-defined]
    qtbot.mouseDClick(editor.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # type: ignore[attr-defined]
    qtbot.waitUntil(editor.player.is_playing, timeout=5000)  # type: ignore[attr-defined]
    assert abs(editor.player.position - rows[2][0]) < 0.5
    editor.player.pause()

    # Correct the second line by typing in its cell.
    index = editor.model.index(1, COL_TEXT)
    editor.table.setCurrentIndex(index)
    editor.table.edit(index)
    line = editor.table.indexWidget(index) or editor.table.viewport().findChild(QLineEdit)
    assert isinstance(line, QLineEdit)
    line.selectAll()
    qtbot.keyClicks(line, "Corrected by hand.")  # type: ignore[attr-defined]
    qtbot.keyClick(line, Qt.Key.Key_Return)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: not editor.table.is_editing())  # type: ignore[attr-defined]
    assert window.isWindowModified()

    # Export SRT: the correction and the recognised words, at the recognised times.
    out = export_from_button(window, "srt", tmp_path / "subtitles", monkeypatch)
    cues = list(srt.parse((out / "lecture.srt").read_text(encoding="utf-8")))
    expected = [texts[0], "Corrected by hand.", *texts[2:]]
    assert [" ".join(c.content.split()) for c in cues] == expected
    assert [round(c.start.total_seconds(), 3) for c in cues] == [round(r[0], 3) for r in rows]
    assert not window.isWindowModified()
