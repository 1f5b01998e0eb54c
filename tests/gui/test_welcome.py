"""The first start as a new user meets it: no model on this computer.

No network: the hub is tests/fake_hub.py, which "downloads" the tiny model into the
test's own Hugging Face cache through the app's loader. Every step is a click on the
real welcome panel.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from app.core.asr import model_loader as ml
from app.core.errors import ModelNotDownloaded
from app.core.events import DownloadProgress
from app.core.settings import Settings, load_settings
from app.gui.elided_label import ElidedLabel
from app.gui.main_window import MainWindow
from app.gui.queue_model import JobState
from app.gui.welcome import DownloadMeter
from tests.fake_hub import install_fake_hub
from tests.gui.driving import drop_on, shown_window, wait_all_finished
from tests.speech import SENTENCES, make_random_bytes, make_track

pytestmark = pytest.mark.gui
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_track(SENTENCES[:1], [], tmp_path_factory.mktemp("welcome"), name="hello").path


def first_start() -> Settings:
    """A new user's settings: the default hub model, run on the CPU."""
    return Settings(device="cpu", precision="fp32")


@pytest.fixture
def new_user(
    qtbot: QtBot, hf_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    """The window as a new user first sees it: the default model, an empty hub cache."""
    with shown_window(first_start(), tmp_path, monkeypatch) as win:
        yield win


def welcome_shown(win: MainWindow) -> bool:
    return win.pages.currentWidget() is win.welcome and win.welcome.isVisible()


def test_first_start_downloads_the_model_and_the_dropped_file_then_starts(
    qtbot: QtBot,
    new_user: MainWindow,
    tiny_model_dir: Path,
    hf_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    speech: Path,
) -> None:
    fake = install_fake_hub(monkeypatch, tiny_model_dir, hf_home, ml.DEFAULT_MODEL_ID)
    fake.hold_after = fake.total // 2
    win = new_user
    panel = win.welcome
    assert welcome_shown(win)
    assert "one-time download (about 4.5 GB)" in panel.intro_label.text()
    assert panel.where_label.text().endswith(str(hf_home / "hub"))
    assert panel.download_button.text() == "Download the model (4.5 GB)"
    assert not panel.reason_label.isVisible()
    assert win.status.stage_label.text() == "Model: not downloaded yet"

    drop_on(win.drop_zone, [speech])
    [item] = win.queue.items
    assert item.state is JobState.WAITING
    assert panel.waiting_label.text().startswith("1 file waits for the model")
    assert welcome_shown(win)  # selecting the waiting file keeps the panel

    qtbot.mouseClick(panel.download_button, LEFT)
    try:
        qtbot.waitUntil(fake.held.is_set, timeout=10_000)
        qtbot.waitUntil(lambda: "%" in panel.progress_label.text(), timeout=10_000)
        assert re.fullmatch(
            r"[\d.]+ (B|KB|MB) of [\d.]+ (KB|MB) \(\d+%\)( · .*)?",
            panel.progress_label.text(),
        )
        assert panel.progress.isVisible() and panel.progress.maximum() == 1000
        assert panel.cancel_button.isVisible() and not panel.download_button.isVisible()
        assert not panel.folder_button.isEnabled()
        assert win.status.stage_label.text().startswith("Downloading model: ")
        assert item.state is JobState.WAITING
    finally:
        fake.release.set()
    qtbot.waitUntil(lambda: item.state is JobState.DONE, timeout=90_000)
    assert not panel.needed and not panel.download.running
    assert not welcome_shown(win)
    assert ml.find_local_model(ml.DEFAULT_MODEL_ID) == fake.snapshot.resolve()
    assert "README.md" not in fake.calls
    assert load_settings().model == ml.DEFAULT_MODEL_ID


def test_cancel_offline_and_a_broken_download_each_say_why(
    qtbot: QtBot,
    new_user: MainWindow,
    tiny_model_dir: Path,
    hf_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = install_fake_hub(monkeypatch, tiny_model_dir, hf_home, ml.DEFAULT_MODEL_ID)
    fake.hold_after = 1
    win = new_user
    panel = win.welcome
    qtbot.mouseClick(panel.download_button, LEFT)
    try:
        qtbot.waitUntil(fake.held.is_set, timeout=10_000)
        qtbot.mouseClick(panel.cancel_button, LEFT)
        assert panel.progress_label.text() == "Cancelling…"
    finally:
        fake.release.set()  # the next block of bytes sees the cancel
    qtbot.waitUntil(lambda: panel.download_button.isVisible(), timeout=10_000)
    assert "cancelled" in panel.reason_label.text() and panel.reason_label.isVisible()
    assert not panel.download.running and not panel.cancel_button.isVisible()
    assert welcome_shown(win) and panel.needed

    fake.info_failure = ConnectionError("Name or service not known")  # offline
    qtbot.mouseClick(panel.download_button, LEFT)
    qtbot.waitUntil(lambda: "hub can't be reached" in panel.reason_label.text(), timeout=10_000)
    assert panel.download_button.text() == "Try the download again"
    assert panel.folder_button.isEnabled() and welcome_shown(win)
    assert win.status.stage_label.text().startswith("Model not loaded: Model 'zai-org/")

    fake.info_failure = None
    fake.fail_at, fake.failure = fake.files[-1], OSError(28, "No space left on device")
    qtbot.mouseClick(panel.download_button, LEFT)
    qtbot.waitUntil(lambda: "Not enough disk" in panel.reason_label.text(), timeout=10_000)
    with pytest.raises(ModelNotDownloaded):
        ml.find_local_model(ml.DEFAULT_MODEL_ID)
    assert panel.needed and welcome_shown(win)

    win.show_dictation()  # dictation waits for the model too: it never downloads unasked
    qtbot.mouseClick(win.dictation_view.start_button, LEFT)
    assert "Dictation needs the speech model" in win.dictation_view.message_label.text()
    assert not win.dictation_session.active and win.dictation_session.recorder is None


def test_a_model_folder_is_checked_then_used_and_the_file_starts(
    qtbot: QtBot,
    new_user: MainWindow,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    speech: Path,
) -> None:
    not_a_model = tmp_path / "holiday photos"
    not_a_model.mkdir()
    answers = [str(not_a_model), str(tiny_model_dir)]
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: answers.pop(0))
    )
    win = new_user
    panel = win.welcome
    [item] = win.add_files([str(speech)])
    assert item.state is JobState.WAITING

    qtbot.mouseClick(panel.folder_button, LEFT)
    assert "holiday photos has no config.json" in panel.reason_label.text()
    assert panel.needed and item.state is JobState.WAITING and welcome_shown(win)

    qtbot.mouseClick(panel.folder_button, LEFT)
    assert not panel.needed and not panel.reason_label.isVisible()
    assert load_settings().model == str(tiny_model_dir.resolve())  # kept for next time
    qtbot.waitUntil(lambda: item.state is JobState.DONE, timeout=90_000)
    assert not welcome_shown(win)


def test_a_cached_model_starts_without_the_welcome_panel(
    qtbot: QtBot,
    tiny_model_dir: Path,
    hf_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = install_fake_hub(monkeypatch, tiny_model_dir, hf_home, ml.DEFAULT_MODEL_ID)
    ml.resolve_model(ml.DEFAULT_MODEL_ID)  # downloaded by an earlier run
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake.calls.clear()
    with shown_window(first_start(), tmp_path, monkeypatch) as win:
        assert not win.welcome.needed and not welcome_shown(win)
        qtbot.waitUntil(lambda: "Model ready" in win.status.stage_label.text(), timeout=60_000)
    assert fake.calls == []


def test_long_messages_elide_and_show_in_full_on_a_click(
    qtbot: QtBot, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "an interview recorded on the terrace with a name far too long to fit " * 2
    corrupt = make_random_bytes(tmp_path / f"{name.strip()}.mp3")
    settings = Settings(model=str(tiny_model_dir), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        win.resize(720, 480)
        [item] = win.add_files([str(corrupt)])
        wait_all_finished(qtbot, win)
        assert item.state is JobState.FAILED
        full = item.status_text()
        assert full.startswith("Failed: ") and name.strip() in full

        card = win.queue_view.card(item.id)
        assert card is not None
        win.queue_view.clearSelection()
        label = card.status_label
        assert label.text() == full and label.is_elided()
        assert label.shown_text().endswith("…") and len(label.shown_text()) < len(full)
        qtbot.mouseClick(label, LEFT)
        box = label.full_text_box
        assert box is not None and box.isVisible() and box.text() == full
        assert win.queue_view.current_item() is item  # the click also selected the card
        box.close()

        header = win.subtitle_label
        assert header.text() == full and header.is_elided()
        qtbot.mouseClick(header, LEFT)
        assert header.full_text_box is not None and header.full_text_box.text() == full
        header.full_text_box.close()

        reason = ml.offline_message(ml.DEFAULT_MODEL_ID)
        win.status.set_error(reason, details="more about it")
        stage = win.status.stage_label
        assert stage.is_elided()
        qtbot.mouseClick(stage, LEFT)
        assert stage.full_text_box is not None
        assert stage.full_text_box.text() == f"Model not loaded: {reason}"
        assert stage.full_text_box.detailedText() == "more about it"
        stage.full_text_box.close()

        bar = win.statusBar()
        message = f"Not found: {tmp_path / name}"
        bar.showMessage(message, 30_000)
        assert bar.currentMessage() == message and bar.message_elided()
        qtbot.mouseClick(bar, LEFT, pos=bar.message_rect().center())
        assert bar.full_text_box is not None and bar.full_text_box.text() == message
        bar.full_text_box.close()


def test_a_short_message_is_shown_whole_and_a_click_opens_nothing(qtbot: QtBot) -> None:
    label = ElidedLabel("Done · 3 segments")
    qtbot.addWidget(label)
    label.resize(400, 30)
    label.show()
    assert not label.is_elided() and label.shown_text() == "Done · 3 segments"
    qtbot.mouseClick(label, LEFT)
    assert label.full_text_box is None


def test_download_meter_speed_and_time_left() -> None:
    meter = DownloadMeter(window=5.0)
    total = 4_500_000_000
    assert meter.text(DownloadProgress(0, total)) == "0 B of 4.5 GB (0%)"
    meter.add(0.0, 0)
    meter.add(2.0, 20_000_000)
    assert meter.speed() == pytest.approx(10_000_000)
    assert meter.text(DownloadProgress(20_000_000, total)) == (
        "20.0 MB of 4.5 GB (0%) · 10.0 MB/s · about 7 min 28 s left"
    )
    meter.add(10.0, 120_000_000)  # the oldest sample leaves the 5 s window
    assert meter.speed() == pytest.approx(12_500_000)
    assert meter.text(DownloadProgress(5_000, None)) == "5.0 KB · 12.5 MB/s"


def test_a_model_that_fails_to_load_brings_the_panel_back_with_the_reason(
    qtbot: QtBot,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    speech: Path,
) -> None:
    broken = tmp_path / "broken model"
    shutil.copytree(tiny_model_dir, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not really weights")
    settings = Settings(model=str(broken), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        assert not win.welcome.needed  # the folder looks right until it is loaded
        qtbot.waitUntil(lambda: welcome_shown(win), timeout=60_000)
        reason = win.welcome.reason_label.text()
        assert reason.startswith("Could not load the model from") and "broken model" in reason
        assert win.status.stage_label.text() == f"Model not loaded: {reason}"
        [item] = win.add_files([str(speech)])
        assert item.state is JobState.WAITING
