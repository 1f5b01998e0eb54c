"""Dictated text into the focused application: paste with the clipboard restored, copy,
the recent list (memory + JSON). The real keystrokes are checked under Xvfb in
tests/gui/test_dictate_into_app.py; here the keystroke sender is swapped for one that
reads the clipboard at the moment the paste would happen."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from app.core.store.dictations import RecentDictations
from app.gui.dictation.output import TextOutput


class ClipboardAtPaste:
    def __init__(self) -> None:
        self.pasted: list[str] = []
        self.typed: list[str] = []

    def paste(self) -> None:
        self.pasted.append(QGuiApplication.clipboard().text())

    def type(self, text: str) -> None:
        self.typed.append(text)


def test_paste_puts_the_text_on_the_clipboard_then_restores_what_was_there(
    qtbot, tmp_path: Path
) -> None:
    clipboard = QGuiApplication.clipboard()
    before = QMimeData()
    before.setText("what the user had copied")
    before.setHtml("<b>what the user had copied</b>")
    clipboard.setMimeData(before)
    out = TextOutput(RecentDictations(tmp_path / "recent.json"), restore_delay_ms=100)
    out.keys = keys = ClipboardAtPaste()
    out.deliver("  hello world ", "paste", ending="space")
    out.deliver("second one", "paste", ending="newline")  # before the first restore
    assert keys.pasted == ["hello world ", "second one\n"]
    assert out.restoring
    qtbot.waitUntil(lambda: not out.restoring, timeout=3000)
    assert clipboard.text() == "what the user had copied"
    assert "<b>what the user had copied</b>" in clipboard.mimeData().html()


def test_copy_only_leaves_the_text_and_type_sends_keys(qtbot, tmp_path: Path) -> None:
    out = TextOutput(RecentDictations(tmp_path / "recent.json"), restore_delay_ms=50)
    out.keys = keys = ClipboardAtPaste()
    with qtbot.waitSignal(out.delivered) as sig:
        out.deliver("copy me", "copy", ending="none")
    assert sig.args == ["copy me", "copy"]
    assert QGuiApplication.clipboard().text() == "copy me" and keys.pasted == []
    out.deliver("type me", "type", ending="newline")
    assert keys.typed == ["type me\n"]
    out.deliver("   ", "paste")  # nothing to say: nothing happens
    assert keys.pasted == []


def test_a_failed_keystroke_leaves_the_text_on_the_clipboard_and_says_so(
    qtbot, tmp_path: Path
) -> None:
    class NoDisplay:
        def paste(self) -> None:
            raise OSError("no X display")

    out = TextOutput(RecentDictations(tmp_path / "recent.json"))
    out.keys = NoDisplay()  # type: ignore[assignment]
    with qtbot.waitSignal(out.failed) as sig:
        out.deliver("keep me", "paste")
    assert "no X display" in sig.args[0] and "\n" not in sig.args[0]
    assert QGuiApplication.clipboard().text() == "keep me"
    assert out.recent.items[0].text == "keep me"


def test_recent_dictations_are_kept_newest_first_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "recent.json"
    recent = RecentDictations(path, limit=3)
    for text in ("one", "two", "three", "four"):
        recent.add(text, target="paste")
    assert [d.text for d in recent.items] == ["four", "three", "two"]
    assert [d["text"] for d in json.loads(path.read_text())] == ["four", "three", "two"]
    again = RecentDictations(path, limit=3)
    assert again.items == recent.items
    path.write_text("not json", encoding="utf-8")
    assert RecentDictations(path).items == []  # a broken file never stops Murmur


def test_recent_file_lives_in_the_data_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MURMUR_DATA_DIR", str(tmp_path))
    RecentDictations().add("x")
    assert (tmp_path / "recent_dictations.json").exists()


def test_recent_dialog_lists_and_copies_again(qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    from app.gui.dictation.recent_view import RecentDictationsDialog

    recent = RecentDictations(tmp_path / "recent.json")
    recent.add("went to the wrong window")
    recent.add("the newest")
    dialog = RecentDictationsDialog(recent)
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 2
    dialog.list.setCurrentRow(1)
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "went to the wrong window"
