"""What the user sees in the window: a model that can't load, the segments arriving
while a file transcribes, Settings opened from the menu and the reload after saving,
and `murmur FILE... --model` opening the window with the files queued."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from app.core.events import ChunkTranscribed
from app.core.settings import Settings, load_settings
from app.gui import main_window as main_window_module
from app.gui.main_window import MainWindow
from app.gui.prompts import DISCARD
from app.gui.queue_model import JobState
from app.gui.settings_dialog import SettingsDialog
from tests.gui.driving import shown_window
from tests.speech import SENTENCES, SpeechTrack, make_track

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def two_sentences(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("flows")
    return make_track(SENTENCES[:2], [0.8], folder, name="two").path


def column(model: object, title: str) -> int:
    """The column whose header says ``title`` (works for any table model)."""
    for c in range(model.columnCount()):  # type: ignore[attr-defined]
        if model.headerData(c, Qt.Orientation.Horizontal) == title:  # type: ignore[attr-defined]
            return c
    raise AssertionError(f"no {title!r} column")


def test_model_that_fails_to_load_is_shown(
    qtbot: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_sentences: Path
) -> None:
    """A model folder that is gone: the status bar and the welcome panel say why, and a
    dropped file waits for the model instead of failing."""
    missing = tmp_path / "no such model"
    settings = Settings(model=str(missing), device="cpu")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        label = win.status.stage_label
        assert label.text().startswith("Model not loaded:")
        assert "no such model" in label.text() and "\n" not in label.text()
        assert label.toolTip()  # the details, on hover
        assert not win.status.progress.isVisible()
        assert win.pages.currentWidget() is win.welcome and win.welcome.isVisible()
        assert "no such model" in win.welcome.reason_label.text()

        [item] = win.add_files([str(two_sentences)])
        assert item.state is JobState.WAITING and item.document is None
        card = win.queue_view.card(item.id)
        assert card is not None and card.status_label.text() == "Waiting for the model"
        assert card.cancel_button.isVisibleTo(card)
        assert "1 file waits" in win.welcome.waiting_label.text()


def test_segments_show_while_the_file_is_transcribing(
    qtbot: object,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    long_speech_track: SpeechTrack,
) -> None:
    """The worker is held after its first chunk: the live table shows that chunk's
    segments (times and texts) while the file is still running."""
    settings = Settings(model=str(tiny_model_dir), device="cpu", precision="fp32")
    first: list[ChunkTranscribed] = []
    gate = threading.Event()

    def hold_after_first_chunk(job_id: int, ev: object) -> None:
        if isinstance(ev, ChunkTranscribed) and not first:  # in the worker thread
            first.append(ev)
            gate.wait(30)

    with shown_window(settings, tmp_path, monkeypatch) as win:
        win.service._worker.event.connect(
            hold_after_first_chunk, Qt.ConnectionType.DirectConnection
        )
        [item] = win.add_files([str(long_speech_track.path)])
        try:
            qtbot.waitUntil(lambda: bool(first), timeout=120_000)  # type: ignore[attr-defined]
            segments = first[0].segments
            assert segments
            live = win.live_view.model()
            text = column(live, "Text")
            qtbot.waitUntil(  # type: ignore[attr-defined]
                lambda: live.rowCount() == len(segments), timeout=10_000
            )
            assert win.pages.currentIndex() == main_window_module.PAGE_LIVE
            assert win.live_view.isVisible()
            assert item.state is JobState.RUNNING
            shown = [str(live.index(r, text).data()) for r in range(live.rowCount())]
            assert shown == [s.text for s in segments]
            start, end = column(live, "Start"), column(live, "End")
            for r, seg in enumerate(segments):  # shown as m:ss.s
                for col, value in ((start, seg.start), (end, seg.end)):
                    minutes, seconds = str(live.index(r, col).data()).split(":")
                    assert int(minutes) * 60 + float(seconds) == pytest.approx(value, abs=0.051)
            card = win.queue_view.card(item.id)
            assert card is not None
            card.cancel_button.click()  # the rest of the file is not needed here
        finally:
            gate.set()
        qtbot.waitUntil(lambda: item.state is JobState.CANCELLED, timeout=60_000)  # type: ignore[attr-defined]


def test_settings_from_the_menu_saved_and_the_model_reloaded(
    qtbot: object,
    tiny_model_dir: Path,
    tiny_pad_placeholder_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(model=str(tiny_model_dir), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        label = win.status.stage_label
        qtbot.waitUntil(  # type: ignore[attr-defined]
            lambda: label.text().startswith(f"Model ready: {tiny_model_dir.name} "),
            timeout=60_000,
        )
        seen: list[str] = []

        def fill_in_and_save() -> None:
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, SettingsDialog) or not dialog.isVisible():
                QTimer.singleShot(10, fill_in_and_save)
                return
            seen.append(dialog.model_edit.text())
            dialog.model_edit.setText(str(tiny_pad_placeholder_model_dir))
            dialog.context_edit.setText("Stella")
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

        QTimer.singleShot(0, fill_in_and_save)
        win.action_settings.trigger()  # File › Settings…, returns when the dialog closed
        assert seen == [str(tiny_model_dir)]

        saved = load_settings()
        assert saved.model == str(tiny_pad_placeholder_model_dir) and saved.context == "Stella"
        assert win.effective_settings().model == str(tiny_pad_placeholder_model_dir)
        qtbot.waitUntil(  # type: ignore[attr-defined]
            lambda: label.text().startswith(f"Model ready: {tiny_pad_placeholder_model_dir.name} "),
            timeout=60_000,
        )
        engine = win.service._worker._engine
        assert engine is not None and engine.options.model == str(tiny_pad_placeholder_model_dir)


def test_run_gui_queues_the_files_with_the_given_model(
    qtbot: object,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    two_sentences: Path,
    speech_wav: Path,
) -> None:
    from app.gui.app import run_gui

    monkeypatch.setenv("MURMUR_CONFIG_DIR", str(tmp_path / "config"))
    seen: dict[str, object] = {}

    def look_then_quit() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        shown = [w for w in windows if w.isVisible()]
        if not shown:
            QTimer.singleShot(10, look_then_quit)
            return
        win = shown[-1]
        seen["names"] = [i.name for i in win.queue.items]
        seen["model"] = win.effective_settings().model
        seen["device"] = win.effective_settings().device
        monkeypatch.setattr(win, "confirm_stop_work", lambda running: True)
        monkeypatch.setattr(win, "ask_unexported", lambda items: DISCARD)
        win.close()
        seen["thread_running"] = win.service.thread.isRunning()
        QApplication.instance().exit(0)  # type: ignore[union-attr]

    QTimer.singleShot(0, look_then_quit)
    code = run_gui([str(two_sentences), str(speech_wav)], model=str(tiny_model_dir), device="cpu")
    assert code == 0
    assert seen == {
        "names": [two_sentences.name, speech_wav.name],
        "model": str(tiny_model_dir),
        "device": "cpu",
        "thread_running": False,
    }
    assert load_settings().model != str(tiny_model_dir)  # --model is for this session only
