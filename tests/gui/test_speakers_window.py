"""Speakers in the window: detected for a queued file, shown live and in the editor with
a colour each, renamed, changed and merged through the widgets, undone, exported, kept
in the library. The conversation is espeak-ng voices taking turns (real speech)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialogButtonBox

from app.core.settings import Settings
from app.core.speakers.colours import PALETTE, speaker_colour, speaker_colours
from app.core.store import Library
from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.gui.document import TranscriptDocument
from app.gui.editor import TranscriptEditor
from app.gui.editor.segment_table import COL_SPEAKER, COL_TEXT
from app.gui.editor.speakers import MergeSpeakersDialog, RenameSpeakerDialog
from app.gui.live_view import COL_SPEAKER as LIVE_COL_SPEAKER
from app.gui.main_window import MainWindow
from app.gui.queue_model import JobState
from app.gui.settings_dialog import SettingsDialog
from tests.gui.driving import export_from_button, shown_window, wait_all_finished
from tests.listener_speech import HELD_OUT_SEED, LISTENER
from tests.speech import build_track_samples, write_wav

pytestmark = [pytest.mark.gui]


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two espeak-ng voices taking turns over the listener's words (about 20 s)."""
    from tests.fixtures.listener.architecture import WORDS

    folder = tmp_path_factory.mktemp("speakers-window")
    rng = np.random.default_rng(HELD_OUT_SEED + 31)
    texts = [" ".join(rng.choice(WORDS, int(rng.integers(4, 7)))) for _ in range(6)]
    voices = ["en-us+m2", "en-gb+f4"] * 3
    pauses = [float(p) for p in rng.uniform(0.6, 1.4, 5)]
    samples, _on, _off = build_track_samples(texts, pauses, folder / "cache", voices=voices)
    return write_wav(folder / "talk.wav", samples)


@pytest.fixture
def window(qtbot: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    settings = Settings(model=str(LISTENER), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        yield win


def table_speakers(editor: TranscriptEditor) -> list[str]:
    model = editor.model
    return [str(model.index(r, COL_SPEAKER).data()) for r in range(model.rowCount())]


def ok_button(dialog: RenameSpeakerDialog | MergeSpeakersDialog) -> object:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_detect_speakers_chosen_on_the_card_then_rename_undo_export_and_reopen(
    qtbot: object,
    window: MainWindow,
    talk: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert window.settings.speakers == "off"
    (item,) = window.add_files([str(talk)])
    card = window.queue_view.card(item.id)
    assert card is not None and item.state is JobState.QUEUED
    picker = card.speakers_picker
    assert picker.isVisible() and picker.currentData() == "off"
    picker.setFocus()
    qtbot.keyClick(picker, Qt.Key.Key_Down)  # type: ignore[attr-defined]  # off -> auto
    assert item.speakers == "auto" and picker.currentData() == "auto"
    wait_all_finished(qtbot, window)
    assert item.state is JobState.DONE, item.error
    assert item.speakers_used == "auto" and not card.retry_button.isVisible()

    # live view while it ran: the speakers came with the cues
    assert not window.live_view.isColumnHidden(LIVE_COL_SPEAKER)
    assert window.live_view.live_model.has_speakers
    # the editor: a speaker column, "Speaker 1" and "Speaker 2" with their colours
    editor = window.editor
    assert editor.document is item.document
    assert not editor.table.isColumnHidden(COL_SPEAKER)
    names = table_speakers(editor)
    assert set(names) == {"Speaker 1", "Speaker 2"} and names[0] == "Speaker 1"
    swatch = editor.model.index(0, COL_SPEAKER).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(swatch, QColor) and swatch.name().upper() == PALETTE[0]
    tools = editor.speaker_tools
    assert tools.picker.isVisible() and tools.picker.currentData() == "Speaker 1"

    # rename Speaker 2 through the dialog: everywhere, one undo step
    qtbot.mouseClick(tools.rename_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    dialog = tools.dialog
    assert isinstance(dialog, RenameSpeakerDialog) and dialog.isVisible()
    dialog.speaker_combo.setFocus()
    qtbot.keyClick(dialog.speaker_combo, Qt.Key.Key_Down)  # type: ignore[attr-defined]
    assert dialog.old_name() == "Speaker 2"
    dialog.name_edit.selectAll()
    qtbot.keyClicks(dialog.name_edit, "Ada Lovelace")  # type: ignore[attr-defined]
    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    renamed = ["Ada Lovelace" if n == "Speaker 2" else n for n in names]
    assert table_speakers(editor) == renamed
    assert editor.model.index(names.index("Speaker 2"), COL_SPEAKER).data(
        Qt.ItemDataRole.DecorationRole
    ) == QColor(PALETTE[1])  # a rename keeps the colour
    out = export_from_button(window, "txt", tmp_path / "out", monkeypatch)
    text = (out / "talk.txt").read_text(encoding="utf-8")
    assert "Ada Lovelace: " in text and "Speaker 2" not in text
    vtt = (
        export_from_button(window, "vtt", tmp_path / "out", monkeypatch) / "talk.vtt"
    ).read_text()
    assert "<v Ada Lovelace>" in vtt
    editor.action_undo.trigger()
    assert table_speakers(editor) == names
    editor.action_redo.trigger()
    assert table_speakers(editor) == renamed

    # kept in the library: a new window opens it from the history with the speakers
    tid = item.library_id
    assert tid is not None
    with Library.open() as lib:
        qtbot.waitUntil(  # type: ignore[attr-defined]
            lambda: [s.speaker for s in lib.segments(tid)] == renamed, timeout=5000
        )
    window.close()
    settings = dataclasses.replace(window.settings)
    with shown_window(settings, tmp_path / "again", monkeypatch) as again:
        again.open_from_library(tid, 0)
        qtbot.waitUntil(lambda: again.editor.document is not None, timeout=5000)  # type: ignore[attr-defined]
        assert table_speakers(again.editor) == renamed
        assert not again.editor.table.isColumnHidden(COL_SPEAKER)
        (reopened,) = again.queue.items
        assert reopened.speakers == reopened.speakers_used == "auto"  # as it was made
        card = again.queue_view.card(reopened.id)
        assert card is not None and card.speakers_picker.currentData() == "auto"
        assert not card.retry_button.isVisible()


def make_doc() -> TranscriptDocument:
    segments = [
        Segment(0.0, 1.0, "Hello.", "Speaker 1"),
        Segment(1.5, 2.5, "Hi there.", "Speaker 2"),
        Segment(3.0, 4.0, "How are you?", "Speaker 1"),
        Segment(4.5, 5.5, "Fine, thanks.", "Speaker 2"),
        Segment(6.0, 7.0, "Good to hear.", "Speaker 3"),
    ]
    return TranscriptDocument(Transcript(segments, TranscriptMeta(duration=8.0)), "")


@pytest.fixture
def editor(qtbot: object) -> TranscriptEditor:
    widget = TranscriptEditor()
    qtbot.addWidget(widget)  # type: ignore[attr-defined]
    widget.resize(900, 500)
    widget.show()
    qtbot.waitExposed(widget)  # type: ignore[attr-defined]
    return widget


def click_row(qtbot: object, editor: TranscriptEditor, row: int, shift: bool = False) -> None:
    table = editor.table
    rect = table.visualRect(editor.model.index(row, COL_TEXT))
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())  # type: ignore[attr-defined]


def test_change_the_speaker_of_selected_rows_and_a_new_speaker(
    qtbot: object, editor: TranscriptEditor
) -> None:
    doc = make_doc()
    editor.set_document(doc)
    before = table_speakers(editor)
    tools = editor.speaker_tools
    click_row(qtbot, editor, 1)
    click_row(qtbot, editor, 3, shift=True)
    assert tools.selected_rows() == [1, 2, 3]
    # the picker: choose Speaker 3 with the keyboard; all three rows, one undo step
    picker = tools.picker
    picker.setFocus()
    qtbot.keyClick(picker, Qt.Key.Key_End)  # type: ignore[attr-defined]  # "New speaker"
    assert table_speakers(editor) == [before[0], "Speaker 4", "Speaker 4", "Speaker 4", before[4]]
    assert doc.undo_stack.count() == 1 and doc.is_dirty()
    doc.undo()
    assert table_speakers(editor) == before
    # the context menu: a speaker for the selected rows
    editor.table.selectionModel().select(
        editor.model.index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    editor.table.selectionModel().select(
        editor.model.index(4, 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    menu = editor.speaker_tools.context_menu()
    (change,) = [a.menu() for a in menu.actions() if a.menu() is not None]
    (to_two,) = [a for a in change.actions() if a.text() == "Speaker 2"]
    to_two.trigger()
    assert table_speakers(editor) == ["Speaker 2", *before[1:4], "Speaker 2"]
    doc.undo()
    assert table_speakers(editor) == before


def test_merge_two_speakers_in_one_undo_step(qtbot: object, editor: TranscriptEditor) -> None:
    doc = make_doc()
    editor.set_document(doc)
    before = table_speakers(editor)
    tools = editor.speaker_tools
    click_row(qtbot, editor, 4)  # a Speaker 3 row: the dialog proposes to merge it
    qtbot.mouseClick(tools.merge_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    dialog = tools.dialog
    assert isinstance(dialog, MergeSpeakersDialog)
    assert dialog.pair() == ("Speaker 3", "Speaker 1")
    dialog.target_combo.setFocus()
    qtbot.keyClick(dialog.target_combo, Qt.Key.Key_Down)  # type: ignore[attr-defined]
    assert dialog.pair() == ("Speaker 3", "Speaker 2")
    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert table_speakers(editor) == [*before[:4], "Speaker 2"]
    assert tools.speakers == ["Speaker 1", "Speaker 2"]
    assert tools.picker.findData("Speaker 3") < 0
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Merge Speaker 3 into Speaker 2"
    editor.action_undo.trigger()
    assert table_speakers(editor) == before and tools.speakers == [
        "Speaker 1",
        "Speaker 2",
        "Speaker 3",
    ]
    # a rename to a name already taken says so, and merges
    qtbot.mouseClick(tools.rename_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    rename = tools.dialog
    assert isinstance(rename, RenameSpeakerDialog) and rename.old_name() == "Speaker 3"
    assert not ok_button(rename).isEnabled()  # the same name: nothing to do
    rename.name_edit.selectAll()
    qtbot.keyClicks(rename.name_edit, "Speaker 1")  # type: ignore[attr-defined]
    assert "already a speaker" in rename.note.text()
    rename.reject()


def test_no_speakers_no_column_and_colours_are_stable(
    qtbot: object, editor: TranscriptEditor
) -> None:
    plain = Transcript([Segment(0.0, 1.0, "Hello."), Segment(1.5, 2.5, "Hi.")], TranscriptMeta())
    editor.set_document(TranscriptDocument(plain, ""))
    tools = editor.speaker_tools
    assert editor.table.isColumnHidden(COL_SPEAKER)
    assert not tools.picker.isVisible() and not tools.rename_button.isVisible()
    # a speaker given by hand (context menu, "New Speaker") shows the column
    click_row(qtbot, editor, 1)
    menu = tools.context_menu()
    (change,) = [a.menu() for a in menu.actions() if a.menu() is not None]
    (new,) = [a for a in change.actions() if a.text() == "New Speaker"]
    new.trigger()
    qtbot.waitUntil(lambda: not editor.table.isColumnHidden(COL_SPEAKER))  # type: ignore[attr-defined]
    assert table_speakers(editor) == ["", "Speaker 1"] and tools.picker.isVisible()
    editor.undo()
    qtbot.waitUntil(lambda: editor.table.isColumnHidden(COL_SPEAKER))  # type: ignore[attr-defined]
    # colours: by order of first appearance, distinct, also past the palette
    many = [f"Voice {i}" for i in range(14)]
    colours = speaker_colours(many)
    assert len(set(colours.values())) == 14
    assert colours["Voice 0"] == PALETTE[0] and colours["Voice 12"] == speaker_colour(12)
    for name in colours.values():  # mid lightness: visible on white and on the dark base
        lightness = QColor(name).lightnessF()
        assert 0.3 < lightness < 0.85, name


def test_detect_speakers_default_in_the_settings_dialog(qtbot: object) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    combo = dialog.speakers_combo
    assert combo.currentData() == "off"
    combo.setFocus()
    for _ in range(3):  # off -> auto -> 2 -> 3
        qtbot.keyClick(combo, Qt.Key.Key_Down)  # type: ignore[attr-defined]
    dialog.export_speakers.setChecked(False)
    dialog.accept()
    result = dialog.result_settings()
    assert result is not None and (result.speakers, result.export_speakers) == ("3", False)
    assert result.pipeline_options().speakers == "3"
