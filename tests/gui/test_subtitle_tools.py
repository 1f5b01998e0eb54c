"""The editor's subtitle checks and timing tools, and subtitle import, through the real widgets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from app.core.settings import Settings
from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.checks import CheckLimits
from app.core.transcript.cues import CueOptions
from app.gui.document import TranscriptDocument
from app.gui.editor import TranscriptEditor
from app.gui.editor.segment_table import COL_END, COL_START, COL_TEXT, PROBLEM_BACKGROUND
from app.gui.editor.subtitle_dialogs import (
    CloseGapsDialog,
    FixPreviewDialog,
    ShiftDialog,
    StretchDialog,
)
from tests import speech

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

LIMITS = CheckLimits(CueOptions(max_cps_latin=17.0, min_duration_s=1.0), min_gap_s=0.0)
S = Segment


@pytest.fixture(scope="module")
def wav_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech.write_wav(tmp_path_factory.mktemp("media") / "tone.wav", speech.tone(8.0, 440))


@pytest.fixture
def editor(qtbot: QtBot) -> TranscriptEditor:
    widget = TranscriptEditor()
    qtbot.addWidget(widget)
    widget.resize(800, 500)
    widget.subtitle_tools.set_limits(LIMITS)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def open_doc(
    editor: TranscriptEditor, segments: list[Segment], media: Path | None = None
) -> TranscriptDocument:
    doc = TranscriptDocument(Transcript(segments, TranscriptMeta(duration=8.0)), media)
    editor.set_document(doc)
    editor.table.setFocus()
    return doc


def times(doc: TranscriptDocument) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in doc.transcript]


def answer_dialog(qtbot: QtBot, kind: type[QDialog], act: Callable[[QDialog], None]) -> list[str]:
    """Run ``act`` on the modal dialog of type ``kind`` once it is shown; returns its class name."""
    seen: list[str] = []

    def handle() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, kind):
            QTimer.singleShot(20, handle)
            return
        seen.append(type(dialog).__name__)
        act(dialog)

    QTimer.singleShot(0, handle)
    return seen


CUES = [
    S(0.0, 2.0, "Hello there."),
    S(2.5, 3.0, "This cue is far too fast to read."),  # 33 characters in 0.5 s
    S(3.5, 5.5, "A calm one."),
    S(6.0, 6.4, "Short."),  # 0.4 s
]


def test_flagged_cues_are_marked_and_f8_goes_to_them(
    editor: TranscriptEditor, qtbot: QtBot
) -> None:
    doc = open_doc(editor, list(CUES))
    model = editor.model
    icon = model.headerData(1, Qt.Orientation.Vertical, Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon) and not icon.isNull()
    assert model.headerData(0, Qt.Orientation.Vertical, Qt.ItemDataRole.DecorationRole) is None
    tip = model.data(model.index(1, COL_TEXT), Qt.ItemDataRole.ToolTipRole)
    assert tip == "Reading speed 66.0 characters/s (limit 17)\nToo short: 0.500 s (minimum 1 s)"
    assert model.data(model.index(1, COL_START), Qt.ItemDataRole.BackgroundRole) == (
        PROBLEM_BACKGROUND
    )
    assert model.data(model.index(2, COL_TEXT), Qt.ItemDataRole.BackgroundRole) is None
    assert model.data(model.index(3, COL_TEXT), Qt.ItemDataRole.ToolTipRole) == (
        "Too short: 0.400 s (minimum 1 s)"
    )

    assert editor.table.current_row() == 0
    qtbot.keyClick(editor.table, Qt.Key.Key_F8)
    assert editor.table.current_row() == 1
    assert editor.status_label.text().startswith("Cue 2: Reading speed 66.0 characters/s")
    qtbot.keyClick(editor.table, Qt.Key.Key_F8)
    assert editor.table.current_row() == 3
    qtbot.keyClick(editor.table, Qt.Key.Key_F8)  # wraps around
    assert editor.table.current_row() == 1
    qtbot.keyClick(editor.table, Qt.Key.Key_F8, Qt.KeyboardModifier.ShiftModifier)
    assert editor.table.current_row() == 3

    # Fixing the text clears the mark (the limits follow every edit).
    assert model.setData(model.index(1, COL_TEXT), "Fast.")
    tip = model.data(model.index(1, COL_TEXT), Qt.ItemDataRole.ToolTipRole)
    assert tip == "Too short: 0.500 s (minimum 1 s)"
    assert model.setData(model.index(1, COL_END), "0:00:03.500")
    assert model.data(model.index(1, COL_TEXT), Qt.ItemDataRole.BackgroundRole) is None
    assert model.headerData(1, Qt.Orientation.Vertical, Qt.ItemDataRole.DecorationRole) is None
    # A time edit repaints the marks that change, here the gap before the edited row.
    editor.subtitle_tools.set_limits(CheckLimits(LIMITS.cues, min_gap_s=0.1))
    repainted: list[tuple[int, int]] = []
    model.headerDataChanged.connect(lambda _o, first, last: repainted.append((first, last)))
    assert model.setData(model.index(2, COL_START), "0:00:03.550")
    qtbot.waitUntil(lambda: bool(repainted))
    assert repainted == [(1, 1)]
    tip = model.data(model.index(1, COL_TEXT), Qt.ItemDataRole.ToolTipRole)
    assert tip == "Gap to cue 3 is 0.050 s (minimum 0.1 s)"
    # Stricter limits from the settings mark more.
    editor.subtitle_tools.set_limits(CheckLimits(CueOptions(max_cps_latin=5.0), 0.0))
    assert "Reading speed 6.0 characters/s (limit 5)" in model.data(
        model.index(0, COL_TEXT), Qt.ItemDataRole.ToolTipRole
    )
    assert doc.transcript[1].text == "Fast."


def test_shift_dialog_shifts_the_selected_cues_and_undo_restores(
    editor: TranscriptEditor, qtbot: QtBot
) -> None:
    doc = open_doc(editor, list(CUES))
    table = editor.table
    rect = table.visualRect(editor.model.index(1, COL_TEXT))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    rect = table.visualRect(editor.model.index(2, COL_TEXT))
    qtbot.mouseClick(
        table.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
        rect.center(),
    )
    assert table.selected_rows() == [1, 2]

    def act(dialog: QDialog) -> None:
        assert isinstance(dialog, ShiftDialog) and dialog.selected_cues.isChecked()
        dialog.offset.selectAll()
        qtbot.keyClicks(dialog.offset, "0.25")
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()

    seen = answer_dialog(qtbot, ShiftDialog, act)
    qtbot.keyClick(
        table, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert seen == ["ShiftDialog"]
    assert times(doc) == [(0.0, 2.0), (2.75, 3.25), (3.75, 5.75), (6.0, 6.4)]
    assert editor.status_label.text() == "Shifted 2 cues by +0.250 s"
    assert doc.undo_stack.count() == 1
    editor.action_undo.trigger()
    assert doc.transcript.segments == tuple(CUES)

    # All cues, earlier by more than there is room for: reduced to what fits, and said so.
    table.selectionModel().select(
        editor.model.index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )

    def earlier(dialog: QDialog) -> None:
        assert isinstance(dialog, ShiftDialog) and dialog.all_cues.isChecked()
        dialog.offset.setValue(-1.0)
        dialog.accept()

    answer_dialog(qtbot, ShiftDialog, earlier)
    editor.subtitle_tools.action_shift.trigger()
    assert times(doc) == list(zip((0.0, 2.5, 3.5, 6.0), (2.0, 3.0, 5.5, 6.4), strict=True))
    assert editor.status_label.text() == "Not shifted: the first cue would start before 0"
    stack = doc.undo_stack  # nothing changed: no empty undo step (the undone shift is kept)
    assert stack.index() == 0 and stack.canRedo()


def test_bracket_keys_set_start_and_end_to_the_playhead(
    editor: TranscriptEditor, qtbot: QtBot, wav_path: Path
) -> None:
    doc = open_doc(editor, list(CUES), wav_path)
    editor.table.select_row(2)
    editor.player.seek(3.2)
    qtbot.waitUntil(lambda: abs(editor.player.position - 3.2) < 0.001, timeout=5000)
    qtbot.keyClick(editor.table, Qt.Key.Key_BracketLeft)
    assert not editor.table.is_editing()  # the key did not start editing the text
    assert times(doc)[1:3] == [(2.5, 3.0), (3.2, 5.5)]
    editor.player.seek(6.2)  # inside the next cue: its start moves along
    qtbot.waitUntil(lambda: abs(editor.player.position - 6.2) < 0.001, timeout=5000)
    qtbot.keyClick(editor.table, Qt.Key.Key_BracketRight)
    assert times(doc)[2:] == [(3.2, 6.2), (6.2, 6.4)]
    assert editor.status_label.text() == "Set end of cue 3 to 0:00:06.200"
    assert doc.undo_stack.count() == 2
    editor.action_undo.trigger()
    editor.action_undo.trigger()
    assert doc.transcript.segments == tuple(CUES)
    # While a cell is being edited the brackets are text, not shortcuts.
    index = editor.model.index(2, COL_TEXT)
    editor.table.edit(index)
    line = editor.table.indexWidget(index) or editor.table.viewport().findChild(QLineEdit)
    assert isinstance(line, QLineEdit)
    line.selectAll()
    qtbot.keyClicks(line, "[calm]")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not editor.table.is_editing())
    assert doc.transcript[2] == S(3.5, 5.5, "[calm]")
    editor.action_undo.trigger()
    editor.table.setFocus()
    editor.player.seek(1.0)  # before the cue's start: refused, with the reason
    qtbot.waitUntil(lambda: abs(editor.player.position - 1.0) < 0.001, timeout=5000)
    qtbot.keyClick(editor.table, Qt.Key.Key_BracketRight)
    assert editor.status_label.text() == (
        "The playhead (0:00:01.000) is before the start of cue 3 (0:00:03.500)"
    )
    assert doc.transcript.segments == tuple(CUES)


def test_fix_common_problems_previews_and_applies_as_one_undo_step(
    editor: TranscriptEditor, qtbot: QtBot
) -> None:
    cues = [
        S(0.0, 2.0, "Hello there."),
        S(1.5, 3.0, "Overlapping."),
        S(3.2, 3.2, ""),
        S(4.0, 4.3, "Short."),
    ]
    doc = open_doc(editor, cues)
    rows: list[tuple[str, ...]] = []

    def act(dialog: QDialog) -> None:
        assert isinstance(dialog, FixPreviewDialog)
        rows.extend(dialog.rows())
        dialog.apply_button.click()

    answer_dialog(qtbot, FixPreviewDialog, act)
    qtbot.keyClick(
        editor.table,
        Qt.Key.Key_F,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert rows == [
        (
            "1",
            "0:00:00.000 → 0:00:02.000  Hello there.",
            "0:00:00.000 → 0:00:01.500  Hello there.",
            "overlapped the next cue: end moved to 0:00:01.500",
        ),
        ("3", "0:00:03.200 → 0:00:03.200  ", "(removed)", "empty: removed"),
        (
            "4",
            "0:00:04.000 → 0:00:04.300  Short.",
            "0:00:04.000 → 0:00:05.000  Short.",
            "too short (0.300 s): lengthened to 1.000 s",
        ),
    ]
    assert [(s.start, s.end, s.text) for s in doc.transcript] == [
        (0.0, 1.5, "Hello there."),
        (1.5, 3.0, "Overlapping."),
        (4.0, 5.0, "Short."),
    ]
    assert doc.undo_stack.count() == 1 and editor.status_label.text() == "Fixed 3 cues"
    editor.action_undo.trigger()
    assert doc.transcript.segments == tuple(cues)

    # Cancel changes nothing.
    answer_dialog(qtbot, FixPreviewDialog, lambda d: d.reject())
    editor.subtitle_tools.action_fix.trigger()
    assert doc.transcript.segments == tuple(cues) and doc.undo_stack.index() == 0


def media_and_subtitles(tmp_path: Path, wav_path: Path, stem: str) -> tuple[Path, Path]:
    """``stem.wav`` (a copy of ``wav_path``) in a folder of its own, and ``stem.srt`` beside it."""
    folder = tmp_path / stem
    folder.mkdir()
    media = folder / f"{stem}.wav"
    media.write_bytes(wav_path.read_bytes())
    return media, folder / f"{stem}.srt"


def window_settings(model_dir: Path) -> Settings:
    return Settings(model=str(model_dir), device="cpu", precision="fp32")


def test_import_malformed_subtitles_names_the_line_and_a_good_file_opens_with_its_media(
    qtbot: QtBot,
    tmp_path: Path,
    wav_path: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PySide6.QtWidgets import QFileDialog

    from tests.gui.driving import shown_window

    media, bad = media_and_subtitles(tmp_path, wav_path, "film")
    bad.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:03,000 -> 00:00:04,000\nBye\n",
        encoding="utf-8",
    )
    asked: list[str] = []

    def fake_open(parent: object, caption: str, *args: object) -> tuple[str, str]:
        asked.append(caption)
        return str(bad), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    with shown_window(window_settings(tiny_model_dir), tmp_path, monkeypatch) as win:
        win.action_import_subtitles.trigger()
        box = win.findChild(QMessageBox, "import_error")
        assert box is not None and box.isVisible()
        assert box.text() == (
            "film.srt, line 6: cue 2 has no time line (00:00:01,000 --> 00:00:02,000): "
            "found '00:00:03,000 -> 00:00:04,000'"
        )
        box.close()
        assert win.queue.items == []

        bad.write_text(
            "\ufeff1\r\n00:00:01,000 --> 00:00:02,000\r\n<i>Hello</i>\r\n\r\n"
            "2\r\n00:00:03,000 --> 00:00:04,500\r\nBye now\r\n",
            encoding="utf-8",
        )
        win.action_import_subtitles.trigger()
        assert asked == ["Import subtitles", "Import subtitles"]  # the media was found beside
        (item,) = win.queue.items
        doc = item.document
        assert doc is not None and win.editor.document is doc
        assert [(s.start, s.end, s.text) for s in doc.transcript] == [
            (1.0, 2.0, "Hello"),
            (3.0, 4.5, "Bye now"),
        ]
        assert doc.media_path == str(media) and win.editor.player.source == str(media)
        assert doc.transcript.meta.duration == pytest.approx(8.0)
        assert win.editor.status_label.text() == "Imported 2 cues from film.srt"
        win.editor.table.select_row(0)  # editable like a transcript
        win.editor.merge()
        assert [s.text for s in doc.transcript] == ["Hello Bye now"]


def test_imported_subtitles_are_kept_in_the_library_autosaved_and_reopen_from_the_history(
    qtbot: QtBot,
    tmp_path: Path,
    wav_path: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PySide6.QtWidgets import QFileDialog

    from app.core.export.exporters import render_srt
    from app.core.store import Library
    from tests.gui.driving import click_item, list_texts, shown_window, type_in_cell

    media, subtitles = media_and_subtitles(tmp_path, wav_path, "Weekly talk")
    cues = [
        S(0.5, 2.0, "Good morning.", "Ann"),
        S(2.5, 4.0, "Shall we start?", "Ann"),
        S(4.5, 6.0, "Yes, the budget first.", "Bob"),
    ]
    subtitles.write_text(render_srt(Transcript(cues, TranscriptMeta(duration=8.0))), "utf-8")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *args: (str(subtitles), ""))
    )
    settings = window_settings(tiny_model_dir)
    with shown_window(settings, tmp_path, monkeypatch) as win:
        win.action_import_subtitles.trigger()  # File › Import subtitles… (Ctrl+I)
        (item,) = win.queue.items
        doc = item.document
        assert doc is not None and win.editor.document is doc
        assert list(doc.transcript) == cues  # speakers read from Murmur's name prefixes
        with Library.open() as lib:
            (entry,) = lib.entries()
            assert item.library_id == entry.id
            assert (entry.title, entry.media_path, entry.status) == (
                "Weekly talk",
                str(media.resolve()),
                "done",
            )
            assert entry.settings == {"source": "imported", "subtitles": str(subtitles)}
            assert entry.model == "Imported from Weekly talk.srt"
            assert entry.duration == pytest.approx(8.0)
            assert lib.segments(entry.id) == cues
        title, details = list_texts(win)[0].split("\n")
        assert title == "Weekly talk" and details.endswith(" · 0:08 · imported subtitles · done")

        type_in_cell(qtbot, win, 1, "Shall we begin?")
        assert doc.transcript[1] == S(2.5, 4.0, "Shall we begin?", "Ann")
        with Library.open() as lib:
            qtbot.waitUntil(lambda: lib.segments(entry.id) == list(doc.transcript), timeout=3000)

    # a new window: the import is in the History and reopens with its edit and its media
    with shown_window(settings, tmp_path, monkeypatch) as win:
        assert win.queue.items == []
        click_item(qtbot, win, 0)
        qtbot.waitUntil(lambda: win.editor.document is not None, timeout=3000)
        assert list(win.editor.document.transcript) == [
            S(0.5, 2.0, "Good morning.", "Ann"),
            S(2.5, 4.0, "Shall we begin?", "Ann"),
            S(4.5, 6.0, "Yes, the budget first.", "Bob"),
        ]
        assert win.editor.document.media_path == str(media.resolve())
        assert win.editor.player.source == str(media.resolve())


def test_stretch_dialog_maps_every_cue_from_two_anchors(
    editor: TranscriptEditor, qtbot: QtBot
) -> None:
    cues = [S(1.0, 2.0, "One."), S(3.0, 4.0, "Two."), S(5.0, 6.0, "Three.")]
    doc = open_doc(editor, cues)
    errors: list[str] = []

    def act(dialog: QDialog) -> None:
        assert isinstance(dialog, StretchDialog)
        assert (dialog.cue1.value(), dialog.time1.text()) == (1, "0:00:01.000")
        assert (dialog.cue2.value(), dialog.time2.text()) == (3, "0:00:05.000")
        dialog.time1.clear()
        qtbot.keyClicks(dialog.time1, "0:00:01.500")
        dialog.time2.clear()
        qtbot.keyClicks(dialog.time2, "0:00:01.000")  # before the first: refused in the dialog
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
        errors.append(dialog.error_label.text())
        dialog.time2.setText("0:00:07.500")  # t' = 1.5 t
        assert dialog.mapping.text() == "speed ×1.50000, then +0.000 s"
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()

    answer_dialog(qtbot, StretchDialog, act)
    qtbot.keyClick(
        editor.table,
        Qt.Key.Key_K,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert errors == ["The anchors' new times must be in the same order as the cues"]
    assert times(doc) == [(1.5, 3.0), (4.5, 6.0), (7.5, 8.0)]  # clipped at the media's 8 s
    assert doc.undo_stack.count() == 1
    editor.action_undo.trigger()
    assert doc.transcript.segments == tuple(cues)


def test_close_gaps_dialog_and_minimum_gap(editor: TranscriptEditor, qtbot: QtBot) -> None:
    cues = [S(0.0, 1.5, "One."), S(1.8, 3.0, "Two."), S(5.0, 6.5, "Three."), S(6.5, 8.0, "Four.")]
    doc = open_doc(editor, cues)
    editor.subtitle_tools.set_limits(CheckLimits(CueOptions(min_duration_s=1.0), min_gap_s=0.1))

    def act(dialog: QDialog) -> None:
        assert isinstance(dialog, CloseGapsDialog)
        assert (dialog.shorter_than.value(), dialog.leave.value()) == (0.5, 0.1)
        dialog.accept()

    answer_dialog(qtbot, CloseGapsDialog, act)
    editor.subtitle_tools.action_close_gaps.trigger()
    assert times(doc) == [(0.0, 1.7), (1.8, 3.0), (5.0, 6.5), (6.5, 8.0)]
    editor.activateWindow()  # the closed dialog had the focus
    qtbot.waitUntil(editor.isActiveWindow)
    editor.table.setFocus()
    qtbot.keyClick(
        editor.table,
        Qt.Key.Key_M,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert times(doc) == [(0.0, 1.7), (1.8, 3.0), (5.0, 6.4), (6.5, 8.0)]
    assert editor.status_label.text() == "Opened gaps of 0.1 s around 1 cue(s)"
    assert doc.undo_stack.count() == 2


def test_settings_dialog_edits_the_least_gap(qtbot: QtBot) -> None:
    from app.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings(min_gap_s=0.083), list_devices=lambda: [])
    qtbot.addWidget(dialog)
    assert dialog.min_gap.value() == pytest.approx(0.083)  # milliseconds, not tenths
    dialog.min_gap.selectAll()
    qtbot.keyClicks(dialog.min_gap, "0.12")
    assert dialog.current_settings().min_gap_s == 0.12
    assert dialog.current_settings().check_limits().min_gap_s == 0.12
