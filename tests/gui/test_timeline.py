"""The waveform timeline in the editor, driven with real mouse, wheel and key events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.checks import CheckLimits
from app.core.transcript.cues import CueOptions
from app.core.transcript.edits import RenameSpeaker, SetSpeaker, SetTimes
from app.gui.document import TranscriptDocument
from app.gui.editor import TranscriptEditor
from app.gui.editor.segment_table import COL_END, COL_START
from app.gui.editor.timecode import parse_time
from app.gui.editor.timeline import TimelineWidget
from app.gui.editor.timeline.render import OVERVIEW_H, RULER_H
from app.gui.editor.timeline.widget import PREPARING

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

LEFT, NO_KEYS = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
DURATION = 12.0
SEGMENTS = (
    Segment(1.0, 2.5, "First words here."),
    Segment(3.0, 4.2, "Second part."),
    Segment(6.0, 7.5, "Third and last."),
)
SPEECH = ((0.9, 2.6), (2.95, 4.4), (5.93, 7.6))


@pytest.fixture(scope="module")
def wav_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Noise bursts where SPEECH says, silence elsewhere."""
    rng = np.random.default_rng(5)
    samples = np.zeros(int(16000 * DURATION), np.float32)
    for start, end in SPEECH:
        a, b = int(start * 16000), int(end * 16000)
        samples[a:b] = rng.uniform(-0.6, 0.6, b - a)
    path = tmp_path_factory.mktemp("timeline") / "bursts.wav"
    sf.write(path, samples, 16000)
    return path


@pytest.fixture
def editor(qtbot: QtBot, wav_path: Path) -> TranscriptEditor:
    transcript = Transcript(
        SEGMENTS, TranscriptMeta(source=str(wav_path), duration=DURATION), speech=SPEECH
    )
    widget = TranscriptEditor()
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    doc = TranscriptDocument(transcript, wav_path, parent=widget)
    widget.set_document(doc)
    timeline = widget.timeline
    if timeline.peaks is None:
        assert timeline.status == PREPARING
        qtbot.waitUntil(lambda: timeline.peaks is not None, timeout=10_000)
    timeline.show_range(0.0, 10.0)  # 1 px = 10 ms
    return widget


def cue_y(timeline: TimelineWidget) -> int:
    return RULER_H + 30


def press_move_release(
    timeline: TimelineWidget,
    x0: float,
    x1: float,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    y = cue_y(timeline)
    QTest.mousePress(timeline, Qt.MouseButton.LeftButton, modifiers, QPoint(round(x0), y))
    steps = 4
    for k in range(1, steps + 1):
        x = x0 + (x1 - x0) * k / steps
        QTest.mouseMove(timeline, QPoint(round(x), y))
    QTest.mouseRelease(timeline, Qt.MouseButton.LeftButton, modifiers, QPoint(round(x1), y))


def test_waveform_is_prepared_in_the_background_then_cached(qtbot: QtBot, wav_path: Path) -> None:
    transcript = Transcript(SEGMENTS, TranscriptMeta(source=str(wav_path), duration=DURATION))
    first = TimelineWidget()
    qtbot.addWidget(first)
    first.resize(800, 130)
    first.set_document(TranscriptDocument(transcript, wav_path, parent=first), str(wav_path))
    qtbot.waitUntil(lambda: first.peaks is not None, timeout=10_000)
    assert first.status == ""
    assert first.peaks is not None and first.peaks.duration == pytest.approx(DURATION)
    # a second widget (a reopened file) loads the cache: no decoding
    second = TimelineWidget()
    qtbot.addWidget(second)
    second.set_document(TranscriptDocument(transcript, wav_path, parent=second), str(wav_path))
    qtbot.waitUntil(lambda: second.peaks is not None, timeout=10_000)
    assert second.peaks is not None and second.peaks.from_cache
    np.testing.assert_array_equal(second.peaks.levels[0], first.peaks.levels[0])


def test_a_missing_media_file_says_so(qtbot: QtBot, tmp_path: Path) -> None:
    timeline = TimelineWidget()
    qtbot.addWidget(timeline)
    doc = TranscriptDocument(Transcript(SEGMENTS), parent=timeline)
    with qtbot.waitSignal(timeline.peaksChanged, timeout=10_000):
        timeline.set_document(doc, str(tmp_path / "gone.wav"))
    assert timeline.peaks is None and timeline.status.startswith("No waveform")


def test_dragging_an_edge_snaps_to_speech_and_is_one_undo_step(
    editor: TranscriptEditor,
) -> None:
    timeline, doc = editor.timeline, editor.document
    assert doc is not None
    # the third cue's start (6.0 s) dragged to 5.96 s: the speech starts at 5.93 s
    x = timeline.x_of(6.0)
    press_move_release(timeline, x, timeline.x_of(5.96))
    assert doc.transcript[2].start == pytest.approx(5.93)
    assert doc.undo_stack.count() == 1  # one drag, one step, whatever the moves
    assert "Change times of segment 3" in editor.status_label.text()
    editor.undo()
    assert doc.transcript[2].start == 6.0
    # with Shift held it lands where the mouse is, to the millisecond
    QTest.keyPress(timeline, Qt.Key.Key_Shift)
    press_move_release(
        timeline, timeline.x_of(6.0), timeline.x_of(5.96), Qt.KeyboardModifier.ShiftModifier
    )
    QTest.keyRelease(timeline, Qt.Key.Key_Shift)
    assert doc.transcript[2].start == pytest.approx(5.96, abs=0.006)
    assert doc.transcript[2].start != pytest.approx(5.93, abs=0.001)


def test_dragging_a_body_moves_the_cue_but_never_over_a_neighbour(
    editor: TranscriptEditor,
) -> None:
    timeline, doc = editor.timeline, editor.document
    assert doc is not None
    middle = timeline.x_of(3.6)
    press_move_release(timeline, middle, middle - 300)
    second = doc.transcript[1]
    assert second.start == pytest.approx(2.5)  # stopped at the first cue's end
    assert second.duration == pytest.approx(1.2)
    assert editor.table.current_row() == 1  # the clicked cue is the table's selection
    editor.undo()
    assert doc.transcript[1] == SEGMENTS[1]


def test_escape_cancels_a_drag(editor: TranscriptEditor) -> None:
    timeline, doc = editor.timeline, editor.document
    assert doc is not None
    y = cue_y(timeline)
    x = round(timeline.x_of(7.5))
    QTest.mousePress(
        timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y)
    )
    QTest.mouseMove(timeline, QPoint(x + 80, y))
    QTest.keyClick(timeline, Qt.Key.Key_Escape)
    QTest.mouseRelease(
        timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x + 80, y)
    )
    assert doc.transcript[2] == SEGMENTS[2] and doc.undo_stack.count() == 0


def test_click_seeks_and_double_click_plays_the_cue(qtbot: QtBot, editor: TranscriptEditor) -> None:
    timeline = editor.timeline
    y = cue_y(timeline)
    seeks: list[float] = []
    timeline.seekRequested.connect(seeks.append)
    QTest.mouseClick(
        timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
        QPoint(round(timeline.x_of(5.0)), y),
    )  # fmt: skip
    assert seeks == [pytest.approx(5.0, abs=0.011)]
    qtbot.waitUntil(lambda: abs(editor.player.position - 5.0) < 0.05, timeout=5000)
    with qtbot.waitSignal(timeline.playRequested, timeout=2000) as played:
        QTest.mouseDClick(
            timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
            QPoint(round(timeline.x_of(3.5)), y),
        )  # fmt: skip
    assert played.args == [1]
    qtbot.waitUntil(editor.player.is_playing, timeout=5000)
    timeline.setFocus()
    QTest.keyClick(timeline, Qt.Key.Key_Space)  # Space plays and pauses there too
    qtbot.waitUntil(lambda: not editor.player.is_playing(), timeout=5000)


def test_zoom_with_keys_and_ctrl_wheel_and_scroll_with_the_wheel(
    editor: TranscriptEditor,
) -> None:
    timeline = editor.timeline
    timeline.setFocus()
    timeline.show_range(0.0, 5.0)
    spp = timeline.view.seconds_per_px
    QTest.keyClick(timeline, Qt.Key.Key_Plus)
    assert timeline.view.seconds_per_px == pytest.approx(spp / 1.25)
    QTest.keyClick(timeline, Qt.Key.Key_Minus)
    QTest.keyClick(timeline, Qt.Key.Key_Minus)
    assert timeline.view.seconds_per_px == pytest.approx(spp * 1.25)

    def wheel(notches: int, modifiers: Qt.KeyboardModifier, x: float = 200.0) -> None:
        pos = QPointF(x, cue_y(timeline))
        event = QWheelEvent(
            pos, timeline.mapToGlobal(pos), QPoint(), QPoint(0, 120 * notches),
            Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        QApplication.sendEvent(timeline, event)

    timeline.show_range(0.0, 10.0)
    anchor = timeline.view.time_at(200.0)
    for _ in range(30):  # zoomed in as far as it goes: 2 s across
        wheel(1, Qt.KeyboardModifier.ControlModifier)
    assert timeline.view.span == pytest.approx(2.0)
    assert timeline.view.time_at(200.0) == pytest.approx(anchor, abs=0.01)
    for _ in range(30):  # and out: the whole file
        wheel(-1, Qt.KeyboardModifier.ControlModifier)
    assert timeline.view.span == pytest.approx(DURATION) and timeline.view.start == 0.0
    timeline.show_range(0.0, 4.0)
    wheel(-2, Qt.KeyboardModifier.NoModifier)  # wheel down: later
    assert timeline.view.start == pytest.approx(2 * 0.1 * 4.0)
    wheel(5, Qt.KeyboardModifier.NoModifier)
    assert timeline.view.start == 0.0


def test_dragging_the_overview_scrolls(editor: TranscriptEditor) -> None:
    timeline = editor.timeline
    timeline.show_range(0.0, 2.0)
    y = timeline.height() - OVERVIEW_H // 2
    x = round(timeline.width() * 0.5)
    QTest.mousePress(
        timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y)
    )
    assert timeline.view.start + timeline.view.span / 2 == pytest.approx(DURATION / 2, abs=0.05)
    QTest.mouseMove(timeline, QPoint(round(timeline.width() * 0.75), y))
    QTest.mouseRelease(
        timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
        QPoint(round(timeline.width() * 0.75), y),
    )  # fmt: skip
    assert timeline.view.start + timeline.view.span / 2 == pytest.approx(9.0, abs=0.05)
    assert timeline.view.span == pytest.approx(2.0)


def test_the_view_follows_playback_and_table_selection(editor: TranscriptEditor) -> None:
    timeline = editor.timeline
    timeline.show_range(0.0, 2.0)
    timeline.set_playing(True)
    timeline.set_position(1.0)
    assert timeline.view.start == 0.0
    timeline.set_position(2.05)  # past the right edge: the view pages on
    assert timeline.view.start < 2.05 < timeline.view.end
    timeline.set_playing(False)
    editor.table.select_row(2)  # out of view: brought into it
    assert timeline.view.start <= 6.75 <= timeline.view.end


def table_rows(editor: TranscriptEditor) -> list[tuple[float, float]]:
    model = editor.model
    return [
        (
            parse_time(model.index(r, COL_START).data()),
            parse_time(model.index(r, COL_END).data()),
        )
        for r in range(model.rowCount())
    ]


def timeline_rows(timeline: TimelineWidget) -> list[tuple[float, float]]:
    scene = timeline.scene()
    return [(round(s.start, 3), round(s.end, 3)) for s in scene.segments]


def test_table_and_timeline_agree_after_table_edits(qtbot: QtBot, editor: TranscriptEditor) -> None:
    timeline = editor.timeline
    editor.table.select_row(0)
    editor.split()
    assert timeline_rows(timeline) == table_rows(editor) and len(table_rows(editor)) == 4
    editor.table.select_row(0)
    editor.merge()
    assert timeline_rows(timeline) == table_rows(editor) and len(table_rows(editor)) == 3
    editor.table.select_row(1)
    editor.delete()
    assert timeline_rows(timeline) == table_rows(editor) == [(1.0, 2.5), (6.0, 7.5)]
    editor.model.setData(editor.model.index(1, COL_END), "0:00:08.250")
    assert timeline_rows(timeline) == table_rows(editor) == [(1.0, 2.5), (6.0, 8.25)]
    editor.undo()
    editor.undo()
    assert timeline_rows(timeline) == table_rows(editor) == [(s.start, s.end) for s in SEGMENTS]


def flag_one(row: int, asked: list[int]) -> Callable[[int, Segment], str | None]:
    """A flag hook that marks cue ``row`` red and notes every row it is asked about."""

    def flag(index: int, segment: Segment) -> str | None:
        asked.append(index)
        return "#ff0000" if index == row else None

    return flag


def flag_is_red_at(timeline: TimelineWidget, seconds: float) -> bool:
    """Whether the flag bar along the top of the cues is red at ``seconds``."""
    image = timeline.grab().toImage()
    ratio = image.devicePixelRatio()
    color = image.pixelColor(round(timeline.x_of(seconds) * ratio), round((RULER_H + 1) * ratio))
    return color.red() > 200 and color.green() < 80 and color.blue() < 80


def test_colour_hooks_mark_cues(qtbot: QtBot, editor: TranscriptEditor) -> None:
    timeline = editor.timeline
    asked: list[int] = []
    timeline.set_cue_flag(flag_one(1, asked))
    assert flag_is_red_at(timeline, 3.6)
    assert set(asked) == {0, 1, 2}
    assert not flag_is_red_at(timeline, 1.7)


def flag_is_orange_at(timeline: TimelineWidget, seconds: float) -> bool:
    image = timeline.grab().toImage()
    ratio = image.devicePixelRatio()
    color = image.pixelColor(round(timeline.x_of(seconds) * ratio), round((RULER_H + 1) * ratio))
    return color.red() > 200 and 100 < color.green() < 200 and color.blue() < 80


def test_cues_beyond_the_subtitle_limits_are_marked_on_the_timeline(
    qtbot: QtBot, editor: TranscriptEditor
) -> None:
    # Only the second cue (1.2 s) is shorter than 1.3 s.
    editor.subtitle_tools.set_limits(CheckLimits(CueOptions(min_duration_s=1.3), min_gap_s=0.0))
    assert flag_is_orange_at(editor.timeline, 3.6)
    assert not flag_is_orange_at(editor.timeline, 1.7)
    assert not flag_is_orange_at(editor.timeline, 6.7)
    # Lengthened in the table, it is within the limits, and its mark goes.
    assert editor.model.setData(editor.model.index(1, COL_END), "0:00:04.400")
    qtbot.waitUntil(lambda: not flag_is_orange_at(editor.timeline, 3.6), timeout=2000)
    editor.undo()
    qtbot.waitUntil(lambda: flag_is_orange_at(editor.timeline, 3.6), timeout=2000)


def test_cues_take_their_speakers_colours(qtbot: QtBot, editor: TranscriptEditor) -> None:
    timeline = editor.timeline

    def fill_at(seconds: float) -> tuple[int, int, int]:
        image = timeline.grab().toImage()
        ratio = image.devicePixelRatio()
        color = image.pixelColor(
            round(timeline.x_of(seconds) * ratio), round(cue_y(timeline) * ratio)
        )
        return color.red(), color.green(), color.blue()

    assert fill_at(3.05) == fill_at(6.05)  # no speakers: one cue colour
    doc = editor.document
    assert doc is not None
    doc.push(SetSpeaker((0, 1), "Ann"))
    doc.push(SetSpeaker((2,), "Bob"))
    qtbot.waitUntil(lambda: fill_at(3.05) != fill_at(6.05), timeout=2000)
    doc.push(RenameSpeaker("Bob", "Ann"))  # merged: one speaker, one colour again
    qtbot.waitUntil(lambda: fill_at(3.05) == fill_at(6.05), timeout=2000)


def test_a_drag_that_the_model_refuses_changes_nothing(editor: TranscriptEditor) -> None:
    doc = editor.document
    assert doc is not None
    doc.push(SetTimes(0, 1.0, 2.9))  # now the first cue ends at 2.9 (second starts at 3.0)
    timeline = editor.timeline
    press_move_release(timeline, timeline.x_of(2.9), timeline.x_of(3.5))
    assert doc.transcript[0].end == pytest.approx(3.0)  # stopped at its neighbour
    assert doc.transcript[1].start == 3.0


def test_a_drag_held_past_the_edge_scrolls_and_carries_the_cue(
    qtbot: QtBot, editor: TranscriptEditor
) -> None:
    timeline, doc = editor.timeline, editor.document
    assert doc is not None
    timeline.show_range(0.0, 5.0)
    y = cue_y(timeline)
    QTest.mousePress(timeline, LEFT, NO_KEYS, QPoint(round(timeline.x_of(4.2)), y))
    QTest.mouseMove(timeline, QPoint(timeline.width() - 100, y))
    QTest.mouseMove(timeline, QPoint(timeline.width() + 30, y))  # held past the right side
    qtbot.waitUntil(lambda: timeline.view.start > 1.0, timeout=3000)
    QTest.mouseRelease(timeline, LEFT, NO_KEYS, QPoint(timeline.width() + 30, y))
    # carried on to the next cue's start (6.0 s), which was out of view at the press
    assert doc.transcript[1].end == pytest.approx(6.0)
    start = timeline.view.start
    qtbot.wait(100)
    assert timeline.view.start == start  # the scrolling stopped with the release


def test_far_out_every_flagged_cue_is_still_marked(qtbot: QtBot) -> None:
    """With hundreds of cues in view they are drawn as runs, but flags still show."""
    segments = [Segment(i * 2.0, i * 2.0 + 1.5, f"cue {i}") for i in range(1000)]
    doc = TranscriptDocument(Transcript(segments, TranscriptMeta(duration=2000.0)))
    timeline = TimelineWidget()
    qtbot.addWidget(timeline)
    timeline.resize(1000, 130)
    timeline.set_document(doc, "")
    timeline.show_range(0.0, 2000.0)  # 1000 cues in view: merged runs
    asked: list[int] = []
    timeline.set_cue_flag(flag_one(700, asked))
    assert flag_is_red_at(timeline, 700 * 2.0 + 0.75)
    assert sorted(set(asked)) == list(range(1000))
    for other in (10, 698, 703):  # (a flag is at least 2 px wide: 701 shares a column)
        assert not flag_is_red_at(timeline, other * 2.0 + 0.75)
