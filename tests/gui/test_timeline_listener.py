"""The timeline on real speech: the listener transcribes, the cues are re-timed by mouse.

The listener (tests/fixtures/listener) turns held-out speech into known words at the
times they are spoken; the detected speech is kept with the transcript and shown on the
timeline, where the cues' edges snap to it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit, QToolButton

from app.core.audio.peaks import cache_path
from app.core.transcript.retime import shift_command
from app.gui.editor.segment_table import COL_START
from app.gui.editor.timeline import TimelineWidget
from app.gui.editor.timeline.render import RULER_H
from app.gui.main_window import MainWindow
from app.gui.queue_model import JobState, QueueItem
from tests.gui.driving import drop_on, table_times, wait_all_finished
from tests.listener_speech import HELD_OUT_SEED, WER_BAR, Track, spaced_track, wer

pytestmark = [pytest.mark.gui, pytest.mark.slow]

LEFT, NO_KEYS = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """Three held-out sentences, 1.5-2.5 s apart."""
    out = tmp_path_factory.mktemp("listener-timeline")
    return spaced_track(out, HELD_OUT_SEED + 57, 3, (1.5, 2.5), (3, 6), max_chars=40)


def drag(timeline: TimelineWidget, x0: float, x1: float) -> None:
    y = RULER_H + 30
    QTest.mousePress(timeline, LEFT, NO_KEYS, QPoint(round(x0), y))
    for k in range(1, 5):
        QTest.mouseMove(timeline, QPoint(round(x0 + (x1 - x0) * k / 4), y))
    QTest.mouseRelease(timeline, LEFT, NO_KEYS, QPoint(round(x1), y))


def timeline_cues(timeline: TimelineWidget) -> list[tuple[float, float, str]]:
    return [(round(s.start, 3), round(s.end, 3), s.text) for s in timeline.scene().segments]


def table_cues(window: MainWindow) -> list[tuple[float, float, str]]:
    return [(round(a, 3), round(b, 3), text) for a, b, text in table_times(window)]


def transcribe_and_show(qtbot: object, window: MainWindow, track: Track) -> QueueItem:
    """Drop the track, let the listener transcribe it, show it with its waveform."""
    drop_on(window.drop_zone, [track.path])
    wait_all_finished(qtbot, window)
    item = window.queue.items[0]
    assert item.state == JobState.DONE, item.error
    window.queue_view.select_item(item.id)
    timeline = window.editor.timeline
    qtbot.waitUntil(lambda: timeline.peaks is not None, timeout=20_000)  # type: ignore[attr-defined]
    assert window.editor.document is item.document is not None
    return item


def test_retime_real_speech_on_the_timeline(
    qtbot: object, listener_window: MainWindow, track: Track
) -> None:
    window = listener_window
    transcribe_and_show(qtbot, window, track)
    editor = window.editor
    timeline = editor.timeline
    doc = editor.document
    assert doc is not None
    # the job kept the waveform of the audio it decoded: the editor read it, no decoding
    assert timeline.peaks is not None and timeline.peaks.from_cache

    # The words came back, and the timeline shows the table's cues and the speech.
    rows = table_times(window)
    assert len(rows) == len(track.sentences)
    assert wer(track.sentences, [text for _, _, text in rows]) <= WER_BAR
    assert timeline_cues(timeline) == table_cues(window)
    speech = doc.transcript.speech
    assert speech, "the detected speech is kept with the transcript"
    for onset, end in zip(track.onsets, track.ends, strict=True):  # each sentence is found
        assert any(a - 0.3 <= onset and end <= b + 0.3 for a, b in speech), (onset, speech)
    # the waveform is loud where the sentences are and quiet between them
    peaks = timeline.peaks
    assert peaks is not None and peaks.duration == pytest.approx(track.duration, abs=0.05)
    mid = (track.onsets[0] + track.ends[0]) / 2
    loud = peaks.columns(mid - 0.2, 0.01, 40)
    gap = (track.ends[0] + track.onsets[1]) / 2
    quiet = peaks.columns(gap - 0.1, 0.01, 20)
    assert float(loud[1].max()) > 10 * max(float(quiet[1].max()), 1e-4)

    # Drag the second cue's start 0.25 s later, with real mouse events.
    start, end, _ = rows[1]
    timeline.show_range(start - 1.0, end + 1.0)
    undo_steps = doc.undo_stack.index()
    QTest.keyPress(timeline, Qt.Key.Key_Shift)  # no snapping: exactly where the mouse is
    drag(timeline, timeline.x_of(start), timeline.x_of(start + 0.25))
    QTest.keyRelease(timeline, Qt.Key.Key_Shift)
    moved = table_times(window)[1]
    assert moved[0] == pytest.approx(start + 0.25, abs=timeline.view.seconds_per_px + 0.001)
    assert moved[1] == pytest.approx(end, abs=0.0005)
    assert doc.undo_stack.index() == undo_steps + 1
    assert timeline_cues(timeline) == table_cues(window)

    # Without Shift, an edge let go a few pixels from a detected speech edge lands on it.
    edge = min((e for pair in speech for e in pair), key=lambda e: abs(e - start))
    assert rows[0][1] <= edge < end - 0.1 and abs(edge - start) < 0.3
    drag(timeline, timeline.x_of(moved[0]), timeline.x_of(edge) + 4)
    assert table_times(window)[1][0] == pytest.approx(edge, abs=0.0005)
    assert doc.undo_stack.index() == undo_steps + 2
    assert timeline_cues(timeline) == table_cues(window)

    # The editor's Undo button takes back one drag at a time.
    undo = next(b for b in editor.findChildren(QToolButton) if b.accessibleName() == "Undo edit")
    qtbot.mouseClick(undo, LEFT)  # type: ignore[attr-defined]
    assert table_times(window)[1][0] == pytest.approx(moved[0], abs=0.0005)
    qtbot.mouseClick(undo, LEFT)  # type: ignore[attr-defined]
    assert table_times(window)[1][:2] == pytest.approx((start, end), abs=0.0005)
    assert doc.undo_stack.index() == undo_steps
    assert timeline_cues(timeline) == table_cues(window)

    # A click seeks the player.
    target = (rows[0][1] + rows[1][0]) / 2
    QTest.mouseClick(timeline, LEFT, NO_KEYS, QPoint(round(timeline.x_of(target)), RULER_H + 30))
    qtbot.waitUntil(lambda: abs(editor.player.position - target) < 0.05, timeout=5000)  # type: ignore[attr-defined]

    # An edit typed in the table shows on the timeline at once.
    index = editor.model.index(2, COL_START)
    editor.table.setCurrentIndex(index)
    editor.table.edit(index)
    line = editor.table.indexWidget(index) or editor.table.viewport().findChild(QLineEdit)
    assert isinstance(line, QLineEdit)
    new_start = round(rows[2][0] - 0.2, 3)
    line.selectAll()
    qtbot.keyClicks(line, f"{new_start:.3f}")  # type: ignore[attr-defined]
    qtbot.keyClick(line, Qt.Key.Key_Return)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: not editor.table.is_editing())  # type: ignore[attr-defined]
    assert table_times(window)[2][0] == pytest.approx(new_start)
    assert timeline_cues(timeline) == table_cues(window)
    assert 2 in timeline.scene().selected

    # Split, merge, delete and shift (the Subtitles menu's tool): the two views agree.
    count = len(table_cues(window))
    editor.table.select_row(0)
    editor.split()
    assert len(table_cues(window)) == count + 1
    assert timeline_cues(timeline) == table_cues(window)
    editor.table.select_row(0)
    editor.merge()
    assert timeline_cues(timeline) == table_cues(window)
    editor.table.select_row(1)
    editor.delete()
    assert len(table_cues(window)) == count - 1
    assert timeline_cues(timeline) == table_cues(window)
    before = table_times(window)
    command, _message = shift_command(
        doc.transcript.segments, None, 0.5, doc.transcript.meta.duration
    )
    doc.push(command)
    assert table_times(window)[0][0] == pytest.approx(before[0][0] + 0.5)
    assert timeline_cues(timeline) == table_cues(window)


def test_reopened_from_the_history_with_its_speech_and_waveform_at_once(
    qtbot: object, listener_window: MainWindow, track: Track
) -> None:
    """The library keeps the detected speech; the waveform is cached, so it shows at once."""
    window = listener_window
    item = transcribe_and_show(qtbot, window, track)
    first = window.editor.document
    assert first is not None and item.library_id is not None
    assert cache_path(track.path).is_file()
    speech, times = first.transcript.speech, [(s.start, s.end) for s in first.transcript]

    window.remove_item(item.id)  # closed; then opened again from the History panel
    assert window.editor.document is None
    history = window.history.list
    qtbot.waitUntil(lambda: history.count() > 0)  # type: ignore[attr-defined]
    rect = history.visualItemRect(history.item(0))
    qtbot.mouseClick(history.viewport(), LEFT, pos=rect.center())  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: window.editor.document is not None, timeout=3000)  # type: ignore[attr-defined]
    again = window.editor.document
    assert again is not None and again is not first
    timeline = window.editor.timeline
    assert timeline.peaks is not None and timeline.status == ""  # no "Preparing waveform…"
    assert len(again.transcript.speech) == len(speech) > 0
    np.testing.assert_allclose(again.transcript.speech, speech)
    assert [(s.start, s.end) for s in again.transcript] == times
    assert timeline_cues(timeline) == table_cues(window)
