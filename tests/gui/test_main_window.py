"""The main window end to end: real files, the real pipeline, the tiny model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

from app.core.events import DeviceInfo, Stage, StageChanged
from app.core.settings import Settings, load_settings
from app.gui import main_window as main_window_module
from app.gui.main_window import MainWindow
from app.gui.queue_model import JobState, QueueItem
from app.gui.settings_dialog import SettingsDialog
from app.gui.status import device_text
from tests.gui.driving import drop_on, shown_window, table_times, wait_all_finished
from tests.speech import SENTENCES, make_random_bytes, make_track

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("window-media")
    first = make_track(SENTENCES[:2], [0.8], folder, name="first")
    nested = folder / "more" / "deeper"
    nested.mkdir(parents=True)
    second = nested / "second.wav"
    shutil.copy(make_track(SENTENCES[2:3], [], folder, name="second").path, second)
    (nested / "notes.txt").write_text("not media", encoding="utf-8")
    corrupt = make_random_bytes(folder / "corrupt.mp3")
    return {
        "first": first.path,
        "folder": folder / "more",
        "second": second,
        "corrupt": corrupt,
    }


@pytest.fixture
def window(
    qtbot: object, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    settings = Settings(model=str(tiny_model_dir), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        yield win


def test_importing_the_window_does_not_import_torch() -> None:
    code = (
        "import sys, app.gui.main_window, app.gui.app;"
        "bad = [m for m in ('torch', 'transformers', 'av', 'silero_vad') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_drop_transcribe_show_and_export_every_format(
    qtbot: object,
    window: MainWindow,
    media: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import docx
    import srt
    import webvtt

    drop_on(window.drop_zone, [media["first"], media["folder"]])
    names = [i.name for i in window.queue.items]
    assert names == ["first.wav", "second.wav"]  # the folder was searched, notes.txt skipped
    wait_all_finished(qtbot, window)
    assert [i.state for i in window.queue.items] == [JobState.DONE, JobState.DONE]
    assert window.status.device_label.text() == "CPU, fp32"

    window.queue_view.select_item(window.queue.items[0].id)
    item = window.queue.items[0]
    assert item.document is not None
    assert window.pages.currentWidget() is window.editor
    assert "first.wav" in window.windowTitle() and "Murmur" in window.windowTitle()
    assert not window.isWindowModified()

    rows = table_times(window)
    duration = item.document.transcript.meta.duration
    assert rows and len(rows) == len(item.document.transcript.segments)
    for start, end, text in rows:
        assert 0.0 <= start < end <= duration + 0.01
        assert text.strip()
    starts = [r[0] for r in rows]
    assert starts == sorted(starts)

    # An edit marks the window modified and enables Undo.
    from app.core.transcript.edits import SetText

    item.document.push(SetText(0, "Edited first line"))
    assert window.isWindowModified()
    assert window.action_undo.isEnabled()
    window.action_undo.trigger()
    assert not window.isWindowModified()
    window.action_redo.trigger()
    assert window.isWindowModified()

    out = tmp_path / "exports"
    out.mkdir()
    asked: list[str] = []

    def fake_save(parent: object, caption: str, start: str, flt: str) -> tuple[str, str]:
        asked.append(start)
        return str(out / Path(start).name), flt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    written = {}
    for fmt, button in window.export_buttons.items():
        assert button.isEnabled()
        button.click()
        written[fmt] = out / f"first.{fmt}"
        assert written[fmt].is_file(), fmt
    assert not window.isWindowModified()  # exported
    assert load_settings().last_export_dir == str(out)
    assert Path(asked[-1]).parent == out  # the dialog starts in the last folder

    texts = [seg.text for seg in item.document.transcript.segments]
    assert texts[0] == "Edited first line"
    subs = list(srt.parse(written["srt"].read_text(encoding="utf-8")))
    assert subs and "Edited first line" in subs[0].content
    assert all(s.end.total_seconds() <= duration + 0.01 for s in subs)
    captions = webvtt.read(str(written["vtt"]))
    assert len(captions) >= 1 and "Edited" in captions[0].text
    assert "Edited first line" in written["txt"].read_text(encoding="utf-8")
    paragraphs = "\n".join(p.text for p in docx.Document(str(written["docx"])).paragraphs)
    assert "Edited first line" in paragraphs
    data = json.loads(written["json"].read_text(encoding="utf-8"))
    assert data["segments"][0]["text"] == "Edited first line"

    # Export all finished: default formats (srt, txt) to the export folder.
    all_dir = tmp_path / "all"
    all_dir.mkdir()
    window.settings.export_dir = str(all_dir)
    assert window.export_all_finished()
    assert sorted(p.name for p in all_dir.iterdir()) == sorted(
        f"{stem}.{fmt}" for stem in ("first", "second") for fmt in window.settings.export_formats
    )


def test_corrupt_file_fails_alone_and_can_be_retried(
    qtbot: object, window: MainWindow, media: dict[str, Path]
) -> None:
    window.add_files([str(media["second"]), str(media["corrupt"]), str(media["first"])])
    wait_all_finished(qtbot, window)
    states = [i.state for i in window.queue.items]
    assert states == [JobState.DONE, JobState.FAILED, JobState.DONE]
    failed = window.queue.items[1]
    assert "corrupt.mp3" in failed.error and "\n" not in failed.error
    card = window.queue_view.card(failed.id)
    assert card is not None
    assert card.status_label.text().startswith("Failed:")
    assert failed.error in card.toolTip()
    assert card.retry_button.isVisibleTo(card) and not card.cancel_button.isVisibleTo(card)

    card.retry_button.click()
    assert failed.state is JobState.QUEUED
    wait_all_finished(qtbot, window)
    assert failed.state is JobState.FAILED  # still corrupt, still alone

    card.remove_button.click()
    assert [i.name for i in window.queue.items] == ["second.wav", "first.wav"]


def test_cancel_mid_transcription_then_retry(
    qtbot: object, window: MainWindow, media: dict[str, Path]
) -> None:
    gate = threading.Event()
    reached = threading.Event()

    def hold_when_transcribing(job_id: int, ev: object) -> None:
        # Runs in the worker thread: pause the job once it is transcribing.
        if isinstance(ev, StageChanged) and ev.stage is Stage.TRANSCRIBING and not gate.is_set():
            reached.set()
            gate.wait(30)

    window.service._worker.event.connect(hold_when_transcribing, Qt.ConnectionType.DirectConnection)
    [item] = window.add_files([str(media["first"])])
    qtbot.waitUntil(reached.is_set, timeout=60_000)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: item.state is JobState.RUNNING, timeout=10_000)  # type: ignore[attr-defined]
    card = window.queue_view.card(item.id)
    assert card is not None and card.cancel_button.isVisibleTo(card)
    card.cancel_button.click()
    gate.set()
    qtbot.waitUntil(lambda: item.state is JobState.CANCELLED, timeout=30_000)  # type: ignore[attr-defined]
    assert item.document is None
    assert card.status_label.text() == "Cancelled"

    window.retry_item(item.id)
    wait_all_finished(qtbot, window)
    assert item.state is JobState.DONE and item.document is not None


def test_remove_with_unexported_edits_asks(
    qtbot: object, window: MainWindow, media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.transcript.edits import SetText

    [item] = window.add_files([str(media["second"])])
    wait_all_finished(qtbot, window)
    assert item.document is not None
    # the editor shows it: let its player finish opening the media before it goes
    qtbot.waitUntil(lambda: window.editor.player.duration > 0, timeout=30_000)  # type: ignore[attr-defined]
    item.document.push(SetText(0, "changed"))
    answers = ["cancel", "discard"]
    asked: list[list[QueueItem]] = []

    def ask(items: list[QueueItem]) -> str:
        asked.append(items)
        return answers.pop(0)

    monkeypatch.setattr(window, "ask_unexported", ask)
    card = window.queue_view.card(item.id)
    assert card is not None and card.remove_button.isVisibleTo(card)
    card.remove_button.click()
    assert window.queue.rowCount() == 1  # cancelled: kept
    card = window.queue_view.card(item.id)
    assert card is not None
    card.remove_button.click()
    assert window.queue.rowCount() == 0
    assert [[i.name for i in a] for a in asked] == [["second.wav"], ["second.wav"]]
    assert window.pages.currentIndex() == main_window_module.PAGE_EMPTY


def test_close_with_work_running_joins_the_thread(
    qtbot: object,
    tiny_model_dir: Path,
    media: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MURMUR_CONFIG_DIR", str(tmp_path))
    baseline = threading.active_count()
    win = MainWindow(settings=Settings(model=str(tiny_model_dir), device="cpu"))
    win.show()
    win.resize(780, 560)  # inside the offscreen screen (800 x 600)
    answers = [False, True]
    asked: list[int] = []

    def confirm(running: int) -> bool:
        asked.append(running)
        return answers.pop(0)

    monkeypatch.setattr(win, "confirm_stop_work", confirm)
    items = win.add_files([str(media["first"]), str(media["second"])])
    qtbot.waitUntil(lambda: items[0].state.active, timeout=60_000)  # type: ignore[attr-defined]

    assert not win.close()  # "No": the window stays and the work goes on
    assert win.isVisible() and win.service.thread.isRunning()
    assert win.close()
    assert asked[0] >= 1 and len(asked) == 2
    assert not win.service.thread.isRunning()
    assert threading.active_count() == baseline
    assert all(i.cancel_event.is_set() for i in items)

    saved = load_settings()
    assert saved.window_geometry  # size and state kept for next time
    again = MainWindow(settings=saved, preload=False)
    try:
        assert (again.width(), again.height()) == (780, 560)
    finally:
        again.close()
    assert not again.service.thread.isRunning()


def test_settings_dialog_refuses_invalid_values(qtbot: object, tmp_path: Path) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    dialog.max_lines.setValue(9)
    assert dialog.max_lines.value() == 4  # the spin box range refuses it
    dialog.export_dir_edit.setText(str(tmp_path / "missing"))
    dialog.min_duration.setValue(8.0)
    dialog.max_duration.setValue(3.0)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted
    assert dialog.result_settings() is None
    assert dialog.error_label.isVisibleTo(dialog)
    assert "Export folder does not exist" in dialog.error_label.text()
    assert "must not exceed" in dialog.error_label.text()

    dialog.export_dir_edit.setText(str(tmp_path))
    dialog.min_duration.setValue(1.5)
    dialog.hotwords_edit.setText("Stella,  Bob ,")
    dialog.format_checks["vtt"].setChecked(True)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    result = dialog.result_settings()
    assert result is not None and result.validate() == []
    assert result.hotwords == ["Stella", "Bob"]
    assert result.max_lines == 4 and result.min_duration_s == 1.5
    assert "vtt" in result.export_formats and result.export_dir == str(tmp_path)


def test_device_label_says_why_no_gpu() -> None:
    cpu = DeviceInfo("cpu", "fp32", fallback_reason="this torch build has no CUDA support")
    assert device_text(cpu, "cuda") == (
        "CPU, fp32 — CUDA not available: this torch build has no CUDA support"
    )
    assert device_text(DeviceInfo("cpu", "bf16"), "cpu") == "CPU, bf16"
    gpu = DeviceInfo("cuda", "bf16", name="RTX 4090")
    assert device_text(gpu, "auto") == "CUDA: RTX 4090, bf16"


def test_drop_of_nothing_useful_says_so(qtbot: object, window: MainWindow, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    drop_on(window.drop_zone, [tmp_path / "empty"])
    assert window.queue.rowCount() == 0
    assert "No audio or video" in window.statusBar().currentMessage()
