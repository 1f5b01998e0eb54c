"""The transcript editor widget, driven through its real widgets (pytest-qt, offscreen)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLineEdit
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.edits import ReplaceAll
from app.gui.document import TranscriptDocument
from app.gui.editor import TranscriptEditor
from app.gui.editor.segment_table import COL_END, COL_START, COL_TEXT, HEADERS
from app.gui.editor.timecode import format_time, parse_time

pytestmark = [
    pytest.mark.gui,
    # The offscreen platform warns when a window with a layout is shown; not our code.
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

SEGMENTS = (
    Segment(0.0, 1.0, "Hello world."),
    Segment(1.2, 2.0, "The cat sat on the mat."),
    Segment(2.0, 2.8, "Concatenate the CAT."),
)


@pytest.fixture(scope="module")
def wav_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "tone.wav"
    t = np.arange(int(16000 * 3.0)) / 16000
    sf.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return path


@pytest.fixture(scope="module")
def mp4_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
         "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         str(path)],
        check=True,
    )  # fmt: skip
    return path


def make_doc(media: Path | None = None) -> TranscriptDocument:
    transcript = Transcript(list(SEGMENTS), TranscriptMeta(source="", duration=3.0))
    return TranscriptDocument(transcript, media)


@pytest.fixture
def editor(qtbot: QtBot) -> TranscriptEditor:
    widget = TranscriptEditor()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    return widget


def texts(doc: TranscriptDocument) -> list[str]:
    return [seg.text for seg in doc.transcript]


def test_timecode_round_trip() -> None:
    assert format_time(3723.5) == "1:02:03.500"
    assert parse_time("1:02:03.500") == pytest.approx(3723.5)
    assert parse_time("02:03,25") == pytest.approx(123.25)
    assert parse_time("7.5") == 7.5
    for bad in ("", "abc", "1:75.0", "1:2:3:4"):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_text_edit_through_model_undo_redo_and_dirty(
    editor: TranscriptEditor, qtbot: QtBot
) -> None:
    doc = make_doc()
    editor.set_document(doc)
    model = editor.model
    assert model.rowCount() == 3 and model.columnCount() == len(HEADERS)
    assert model.data(model.index(1, COL_START)) == "0:00:01.200"
    with qtbot.waitSignal(doc.dirtyChanged) as blocker:
        assert model.setData(model.index(0, COL_TEXT), "Hi there.")
    assert blocker.args == [True] and doc.is_dirty()
    assert texts(doc)[0] == "Hi there."
    assert model.data(model.index(0, COL_TEXT)) == "Hi there."
    doc.undo_stack.undo()
    assert texts(doc)[0] == "Hello world." and not doc.is_dirty()
    doc.undo_stack.redo()
    assert texts(doc)[0] == "Hi there." and doc.is_dirty()
    with qtbot.waitSignal(doc.dirtyChanged) as blocker:
        doc.mark_exported()
    assert blocker.args == [False] and not doc.is_dirty() and not doc.transcript.dirty
    editor.action_undo.trigger()  # undoing past the export is a change again
    assert doc.is_dirty() and texts(doc)[0] == "Hello world."


def test_text_edit_by_typing_in_the_cell(editor: TranscriptEditor, qtbot: QtBot) -> None:
    doc = make_doc()
    editor.set_document(doc)
    editor.show()
    qtbot.waitExposed(editor)
    index = editor.model.index(1, COL_TEXT)
    editor.table.setCurrentIndex(index)
    editor.table.edit(index)
    line = editor.table.indexWidget(index) or editor.table.viewport().findChild(QLineEdit)
    assert isinstance(line, QLineEdit) and line.accessibleName() == "Text of segment 2"
    line.selectAll()
    qtbot.keyClicks(line, "A dog barked.")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not editor.table.is_editing())  # the delegate commits queued
    assert texts(doc)[1] == "A dog barked."
    assert doc.undo_stack.count() == 1
    doc.undo()
    assert texts(doc)[1] == "The cat sat on the mat."


def test_invalid_times_are_refused_with_a_message(editor: TranscriptEditor) -> None:
    doc = make_doc()
    editor.set_document(doc)
    model = editor.model
    before = doc.transcript.segments
    assert not model.setData(model.index(1, COL_START), "0:00:00.500")  # overlaps row 0
    assert "overlaps the previous segment" in editor.status_label.text()
    assert not model.setData(model.index(1, COL_END), "0:00:02.500")  # overlaps row 2
    assert "overlaps the next segment" in editor.status_label.text()
    assert not model.setData(model.index(2, COL_END), "0:00:09.000")  # past the media
    assert "past the end of the media" in editor.status_label.text()
    assert not model.setData(model.index(0, COL_END), "soon")
    assert "Not a time" in editor.status_label.text()
    assert doc.transcript.segments == before and doc.undo_stack.count() == 0
    assert not doc.is_dirty()
    assert model.setData(model.index(1, COL_START), "0:00:01.100")
    assert doc.transcript[1].start == pytest.approx(1.1)
    doc.undo()
    assert doc.transcript.segments == before


def test_typed_time_equal_to_a_shown_boundary_snaps_to_it(editor: TranscriptEditor) -> None:
    transcript = Transcript(
        [Segment(0.0, 1.0004, "a"), Segment(1.5, 2.0, "b")], TranscriptMeta(duration=2.9996)
    )
    doc = TranscriptDocument(transcript)
    editor.set_document(doc)
    model = editor.model
    assert model.data(model.index(0, COL_END)) == "0:00:01.000"
    assert model.setData(model.index(1, COL_START), "0:00:01.000")  # no false overlap
    assert transcript[1].start == 1.0004
    assert model.setData(model.index(1, COL_END), "0:00:03.000")  # the shown duration
    assert transcript[1].end == 2.9996


def test_typing_an_overlapping_time_is_refused(editor: TranscriptEditor, qtbot: QtBot) -> None:
    doc = make_doc()
    editor.set_document(doc)
    editor.show()
    qtbot.waitExposed(editor)
    index = editor.model.index(2, COL_START)
    editor.table.setCurrentIndex(index)
    editor.table.edit(index)  # F2 / typing opens it; double-click plays instead
    line = editor.table.viewport().findChild(QLineEdit)
    assert isinstance(line, QLineEdit) and line.accessibleName() == "Start time of segment 3"
    line.selectAll()
    qtbot.keyClicks(line, "0:00:01.500")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not editor.table.is_editing())
    assert "overlaps the previous segment" in editor.status_label.text()
    assert doc.transcript.segments == SEGMENTS and not doc.is_dirty()
    assert editor.model.data(index) == "0:00:02.000"


def test_double_click_on_a_time_plays_from_the_segment(
    editor: TranscriptEditor, qtbot: QtBot, wav_path: Path
) -> None:
    editor.set_document(make_doc(wav_path))
    editor.show()
    qtbot.waitExposed(editor)
    rect = editor.table.visualRect(editor.model.index(1, COL_END))
    qtbot.mouseClick(editor.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(editor.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert not editor.table.is_editing()
    qtbot.waitUntil(editor.player.is_playing, timeout=5000)
    qtbot.waitUntil(lambda: editor.player.position >= 1.2, timeout=5000)
    assert editor.model.current_row == 1
    editor.player.pause()


def test_split_merge_delete_insert_and_undo_all(
    editor: TranscriptEditor, qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    doc = make_doc()
    editor.set_document(doc)
    qtmodeltester.check(editor.model)  # Qt's model tester watches every change below
    editor.show()
    qtbot.waitExposed(editor)
    original = doc.transcript.segments

    # Split at the text cursor while editing (after "Hello"), with an edit in the cell.
    index = editor.model.index(0, COL_TEXT)
    editor.table.setCurrentIndex(index)
    editor.table.edit(index)
    line = editor.table.viewport().findChild(QLineEdit)
    assert isinstance(line, QLineEdit)
    line.setText("Hello there world.")
    line.setCursorPosition(len("Hello there"))
    editor.action_split.trigger()
    assert texts(doc)[:2] == ["Hello there", "world."]
    first, second = doc.transcript[0], doc.transcript[1]
    assert first.start == 0.0 and second.end == 1.0 and first.end == second.start
    assert 0.5 < first.end < 0.7  # 11 of 17 characters
    assert doc.undo_stack.count() == 1  # text change + split: one step
    qtbot.waitUntil(lambda: not editor.table.is_editing())
    assert texts(doc)[:2] == ["Hello there", "world."]  # closing the editor wrote nothing

    # Split without an editor: near the middle of the selected row, at a space.
    editor.table.select_row(2)
    editor.action_split.trigger()
    assert texts(doc)[2:4] == ["The cat sat", "on the mat."]

    editor.table.select_row(0)
    editor.action_merge.trigger()
    assert texts(doc)[0] == "Hello there world."
    editor.table.select_row(3)
    editor.action_delete.trigger()
    assert texts(doc) == ["Hello there world.", "The cat sat", "on the mat."]
    editor.table.select_row(0)
    editor.action_insert.trigger()  # into the gap 1.0–1.2
    assert doc.transcript[1] == Segment(1.0, 1.2, "")
    qtbot.waitUntil(editor.table.is_editing)
    editor.table.segment_delegate.commit_and_close()

    # No room after the last-but-one row (2.0 is both end and next start): refused.
    editor.table.select_row(2)
    count = doc.undo_stack.count()
    editor.action_insert.trigger()
    assert "No room" in editor.status_label.text() and doc.undo_stack.count() == count

    final = doc.transcript.segments
    while doc.undo_stack.canUndo():
        editor.action_undo.trigger()
    assert doc.transcript.segments == original and not doc.is_dirty()
    while doc.undo_stack.canRedo():
        editor.action_redo.trigger()
    assert doc.transcript.segments == final


def test_split_shortcut_while_editing(editor: TranscriptEditor, qtbot: QtBot) -> None:
    doc = make_doc()
    editor.set_document(doc)
    editor.show()
    qtbot.waitExposed(editor)
    editor.activateWindow()
    qtbot.waitActive(editor)  # shortcuts need the active window
    index = editor.model.index(1, COL_TEXT)
    editor.table.setCurrentIndex(index)
    editor.table.edit(index)
    line = editor.table.viewport().findChild(QLineEdit)
    assert isinstance(line, QLineEdit)
    line.setFocus()
    qtbot.waitUntil(line.hasFocus)
    line.setCursorPosition(len("The cat"))
    qtbot.keyClick(line, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert texts(doc)[1:3] == ["The cat", "sat on the mat."]


def test_find_and_replace_with_case_and_whole_word(editor: TranscriptEditor) -> None:
    doc = make_doc()
    editor.set_document(doc)
    bar = editor.find_bar
    editor.action_replace.trigger()
    assert bar.isVisibleTo(editor) and bar.replace_edit.isVisibleTo(editor)
    bar.find_edit.setText("cat")
    assert bar.count_label.text() == "3 matches"
    bar.whole_word.setChecked(True)
    assert bar.count_label.text() == "2 matches"
    bar.match_case.setChecked(True)
    assert bar.count_label.text() == "1 match"
    bar.match_case.setChecked(False)

    assert bar.find_next() == (1, 4, 7)
    assert editor.table.current_row() == 1
    assert bar.find_next() == (2, 16, 19)
    assert bar.count_label.text() == "2 of 2"
    assert bar.find_next() == (1, 4, 7)  # wraps
    assert bar.find_previous() == (2, 16, 19)

    bar.replace_edit.setText("dog")
    bar.replace_current()  # replaces the CAT in row 2
    assert texts(doc)[2] == "Concatenate the dog."
    assert bar.current_match == (1, 4, 7)
    doc.undo()
    assert texts(doc)[2] == "Concatenate the CAT."

    editor.model.setData(editor.model.index(0, COL_TEXT), "Hello cat.")  # counts follow edits
    assert bar.count_label.text() == "2 of 3" and bar.current_match == (1, 4, 7)
    doc.undo()
    assert bar.count_label.text() == "1 of 2"

    bar.replace_all_button.click()
    assert texts(doc) == ["Hello world.", "The dog sat on the mat.", "Concatenate the dog."]
    assert "Replaced 2 matches" in editor.status_label.text()
    assert doc.undo_stack.count() == 1  # one step (the undone single replace is dropped)
    doc.undo()
    assert doc.transcript.segments == SEGMENTS

    bar.find_edit.setText("zebra")
    assert bar.replace_all() == 0 and "No matches" in editor.status_label.text()
    assert not doc.push(ReplaceAll("zebra", "x"))  # a no-op is not an undo step
    assert doc.undo_stack.count() == 1


def test_find_bar_keys_enter_shift_enter_and_escape(editor: TranscriptEditor, qtbot: QtBot) -> None:
    """Typed into the find field: Enter goes to the next match, Shift+Enter to the
    previous one, Escape closes the bar."""
    editor.set_document(make_doc())
    editor.show()
    bar = editor.find_bar
    editor.action_find.trigger()
    assert bar.isVisible()
    qtbot.keyClicks(bar.find_edit, "cat")
    assert bar.count_label.text() == "3 matches"
    qtbot.keyClick(bar.find_edit, Qt.Key.Key_Return)
    assert bar.current_match == (1, 4, 7) and editor.table.current_row() == 1
    qtbot.keyClick(bar.find_edit, Qt.Key.Key_Enter)  # the keypad's Enter too
    assert bar.current_match == (2, 3, 6)
    qtbot.keyClick(bar.find_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert bar.current_match == (1, 4, 7) and bar.count_label.text() == "1 of 3"
    qtbot.keyClick(bar.find_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert bar.current_match == (2, 16, 19)  # wraps backwards
    qtbot.keyClick(bar.find_edit, Qt.Key.Key_Escape)
    assert not bar.isVisible() and bar.current_match is None


def _marked_columns(editor: TranscriptEditor, row: int) -> list[int]:
    """x positions (viewport pixels) in ``row`` painted in the find bar's match colour."""
    from app.gui.editor.segment_table import MATCH_BACKGROUND

    editor.table.viewport().repaint()
    image = editor.table.viewport().grab().toImage()
    rect = editor.table.visualRect(editor.model.index(row, COL_TEXT))
    target = MATCH_BACKGROUND.rgb()
    return sorted(
        {
            x
            for y in range(rect.top(), rect.bottom())
            for x in range(rect.left(), rect.right())
            if image.pixel(x, y) == target
        }
    )


def test_find_highlights_the_match_inside_the_cell(editor: TranscriptEditor, qtbot: QtBot) -> None:
    doc = make_doc()
    editor.set_document(doc)
    editor.show()
    qtbot.waitExposed(editor)
    bar = editor.find_bar
    editor.action_find.trigger()
    bar.find_edit.setText("cat")
    assert not _marked_columns(editor, 1)  # counting alone marks nothing

    assert bar.find_next() == (1, 4, 7)
    first = _marked_columns(editor, 1)
    assert first and not _marked_columns(editor, 2)
    rect = editor.table.visualRect(editor.model.index(1, COL_TEXT))
    width = first[-1] - first[0]
    assert 0 < width < rect.width() / 4  # three characters, not the whole cell

    assert bar.find_next() == (2, 3, 6)  # "ConCATenate": a match further left in its cell
    assert not _marked_columns(editor, 1) and _marked_columns(editor, 2)
    bar.find_next()  # "CAT" at the end of row 2
    assert _marked_columns(editor, 2)[0] > first[-1]

    bar.close_bar()
    assert not _marked_columns(editor, 2)


def test_playback_position_highlights_and_scrolls(
    editor: TranscriptEditor, qtbot: QtBot, wav_path: Path
) -> None:
    doc = make_doc(wav_path)
    editor.set_document(doc)
    model = editor.model
    editor.player.seek(1.5)
    assert model.current_row == 1
    highlight = model.data(model.index(1, COL_TEXT), Qt.ItemDataRole.BackgroundRole)
    assert highlight is not None
    assert highlight.rgb() == editor.palette().color(QPalette.ColorRole.Highlight).rgb()
    assert model.data(model.index(0, COL_TEXT), Qt.ItemDataRole.BackgroundRole) is None
    editor.player.seek(1.1)  # in the gap between rows 0 and 1
    assert model.current_row is None

    # Real playback from a row's start: the player runs (silently without a device).
    editor.play_row(2)
    qtbot.waitUntil(editor.player.is_playing, timeout=5000)
    qtbot.waitUntil(lambda: editor.player.position > 2.05, timeout=5000)
    assert model.current_row == 2
    editor.action_play_pause.trigger()
    qtbot.waitUntil(lambda: not editor.player.is_playing(), timeout=5000)
    editor.action_back_5s.trigger()
    assert editor.player.position == 0.0 and model.current_row == 0
    editor.action_forward_5s.trigger()  # clamped to the media's 3 s
    assert editor.player.position == pytest.approx(3.0) and model.current_row is None
    assert not editor.preview.isVisibleTo(editor)  # audio only: no video preview

    # Following playback scrolls the table: 80 rows never fit in the view at once.
    many = [Segment(i * 0.03, i * 0.03 + 0.02, f"line {i}") for i in range(80)]
    editor.set_document(
        TranscriptDocument(Transcript(many, TranscriptMeta(duration=3.0)), wav_path)
    )
    table = editor.table

    def shown(row: int) -> bool:
        rect = table.visualRect(model.index(row, COL_TEXT))
        return table.viewport().rect().contains(rect.center())

    assert shown(0) and not shown(79)
    editor.player.seek(79 * 0.03 + 0.01)
    assert model.current_row == 79 and shown(79) and not shown(0)
    editor.player.seek(0.01)
    assert model.current_row == 0 and shown(0) and not shown(79)


def test_space_plays_when_table_has_focus(
    editor: TranscriptEditor, qtbot: QtBot, wav_path: Path
) -> None:
    editor.set_document(make_doc(wav_path))
    editor.show()
    qtbot.waitExposed(editor)
    editor.activateWindow()
    qtbot.waitActive(editor)  # shortcuts need the active window
    editor.table.setFocus()
    qtbot.waitUntil(editor.table.hasFocus)
    qtbot.keyClick(editor.table, Qt.Key.Key_Space)
    qtbot.waitUntil(editor.player.is_playing, timeout=5000)
    qtbot.keyClick(editor.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not editor.player.is_playing(), timeout=5000)
    assert not editor.table.is_editing()


def test_video_preview_shows_current_cue(
    editor: TranscriptEditor, qtbot: QtBot, mp4_path: Path, wav_path: Path
) -> None:
    editor.show()
    qtbot.waitExposed(editor)
    editor.set_document(make_doc(mp4_path))
    qtbot.waitUntil(lambda: editor.preview.isVisible(), timeout=5000)
    editor.player.seek(0.5)
    assert editor.preview.cue() == "Hello world."
    editor.player.seek(2.5)
    assert editor.preview.cue() == "Concatenate the CAT."
    editor.player.seek(1.1)
    assert editor.preview.cue() == ""
    editor.set_document(make_doc(wav_path))  # audio only: the preview goes away
    assert not editor.preview.isVisible()


def test_missing_media_and_no_document(editor: TranscriptEditor, tmp_path: Path) -> None:
    editor.set_document(make_doc(tmp_path / "gone.wav"))
    assert "Media file not found" in editor.status_label.text()
    editor.action_play_pause.trigger()
    assert "No media to play" in editor.status_label.text()
    editor.set_document(None)
    assert editor.model.rowCount() == 0
    assert not editor.action_split.isEnabled() and not editor.action_find.isEnabled()


def test_streamed_segments_appear_in_the_table(
    editor: TranscriptEditor, qtmodeltester: ModelTester
) -> None:
    doc = TranscriptDocument(Transcript())
    editor.set_document(doc)
    qtmodeltester.check(editor.model)
    doc.transcript.append([Segment(0.0, 1.0, "first")])
    doc.transcript.append([Segment(1.0, 2.0, "second"), Segment(2.0, 3.0, "third")])
    assert editor.model.rowCount() == 3
    assert editor.model.data(editor.model.index(2, COL_TEXT)) == "third"
    assert not doc.is_dirty()  # streamed results are not edits
    editor.model.setData(editor.model.index(0, COL_TEXT), "First")
    assert doc.is_dirty()
    doc.transcript.reset(list(SEGMENTS))  # e.g. the final result replaces the stream
    assert editor.model.rowCount() == 3 and texts(doc)[0] == "Hello world."
    assert doc.undo_stack.count() == 0 and not doc.is_dirty()


def test_actions_have_shortcuts_and_accessible_controls(editor: TranscriptEditor) -> None:
    shortcuts = {
        name: getattr(editor, name).shortcut().toString()
        for name in (
            "action_split",
            "action_merge",
            "action_delete",
            "action_insert",
            "action_find",
            "action_replace",
            "action_play_pause",
            "action_back_5s",
            "action_forward_5s",
        )
    }
    assert all(shortcuts.values()), shortcuts
    assert len(set(shortcuts.values())) == len(shortcuts)
    assert not {"Ctrl+S", "Ctrl+E", "Ctrl+Z"} & set(shortcuts.values())
    assert shortcuts["action_play_pause"] == "Space"
    from PySide6.QtWidgets import QAbstractButton, QLabel, QSlider

    for widget in editor.findChildren(QAbstractButton) + editor.findChildren(QSlider):
        assert widget.accessibleName(), widget
    for line in editor.find_bar.findChildren(QLineEdit):
        assert line.accessibleName()
    labels = {label.accessibleName() for label in editor.findChildren(QLabel)}
    assert {"Editor status", "Playback time", "Matches"} <= labels
