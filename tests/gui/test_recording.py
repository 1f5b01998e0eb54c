"""Record and dictate in the window, driven through the real widgets.

The microphone is the capture core's stream-factory seam (tests/fake_stream.py) playing
held-out espeak-ng speech in real callback-sized blocks; the listener model
(tests/fixtures/listener) turns it into known words, so the text is scored by WER.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from app.core.audio.capture import InputDevice, PortAudioMissing, recordings_dir
from app.core.settings import Settings
from app.gui.dictation import session as states
from app.gui.main_window import PAGE_DICTATION, PAGE_EDITOR, MainWindow
from app.gui.queue_model import JobState
from app.gui.recording.panel import NO_DEVICE
from tests.fake_stream import FileStreamFactory
from tests.gui.driving import shown_window, table_times
from tests.listener_speech import HELD_OUT_SEED, LISTENER, WER_BAR, Track, spaced_track, wer

pytestmark = [pytest.mark.gui]

ROOT = Path(__file__).resolve().parents[2]
TEST_MIC = InputDevice(
    index=7, name="Test microphone", channels=1, default_rate=16000, is_default=True, hostapi=""
)


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """Three held-out sentences, 1.2-1.6 s apart: three utterances."""
    out = tmp_path_factory.mktemp("recording-track")
    return spaced_track(out, HELD_OUT_SEED + 91, 3, (1.2, 1.6), (3, 6), max_chars=40)


@pytest.fixture
def window(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    settings = Settings(model=str(LISTENER), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        yield win


def wait_model_ready(qtbot, win: MainWindow) -> None:
    qtbot.waitUntil(lambda: "Model ready" in win.status.stage_label.text(), timeout=60_000)


def plug_in(win: MainWindow, samples: np.ndarray, **options: object) -> FileStreamFactory:
    """Give the window a microphone that plays ``samples`` (16 kHz) at real pace."""
    factory = FileStreamFactory(samples, 16000, **options)
    win.recording_panel.list_devices = lambda *a: [TEST_MIC]
    win.recording_panel.stream_factory = factory
    win.dictation_session.stream_factory = factory
    win.recording_panel.refresh_devices()
    return factory


def test_record_stop_and_the_transcript_appears_in_the_editor(
    qtbot, window: MainWindow, track: Track
) -> None:
    factory = plug_in(window, track.samples, pace=2.0)
    panel = window.recording_panel
    assert panel.record_button.isEnabled() and panel.device_combo.currentText().startswith(
        "Test microphone"
    )
    qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    assert panel.recording and panel.record_button.text() == "Stop"
    qtbot.waitUntil(lambda: panel.elapsed_label.text() != "00:00", timeout=10_000)
    qtbot.waitUntil(lambda: panel.meter.rms > 0, timeout=10_000)
    assert factory.stream is not None
    qtbot.waitUntil(factory.stream.source_done.is_set, timeout=60_000)
    qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.queue.rowCount() == 1, timeout=10_000)
    item = window.queue.items[0]
    path = Path(item.path)
    assert path.parent == recordings_dir() and path.suffix == ".flac"
    recorded, rate = sf.read(str(path), dtype="float32")
    assert rate == 16000
    n = len(track.samples)
    assert len(recorded) >= n
    np.testing.assert_allclose(recorded[:n], track.samples, atol=2e-4)  # 24-bit FLAC
    qtbot.waitUntil(lambda: item.state.finished, timeout=120_000)
    assert item.state is JobState.DONE, item.error
    assert window.pages.currentIndex() == PAGE_EDITOR  # opens in the editor, with its audio
    rows = table_times(window)
    hyp = " ".join(text for _s, _e, text in rows)
    assert wer([" ".join(track.sentences)], [hyp]) <= WER_BAR, (track.sentences, hyp)
    assert path.exists()  # kept unless deleted
    # The recording is in the library, as a recording, with its words.
    assert window.library is not None and item.library_id is not None
    entry = window.library.get(item.library_id)
    assert (entry.kind, entry.status) == ("recording", "done")
    stored = " ".join(s.text for s in window.library.segments(item.library_id))
    assert wer([" ".join(track.sentences)], [stored]) <= WER_BAR


def test_the_dictation_view_grows_while_speech_plays_and_saves_a_transcript(
    qtbot, window: MainWindow, track: Track
) -> None:
    factory = plug_in(window, track.samples)
    wait_model_ready(qtbot, window)
    window.action_dictate.trigger()
    assert window.pages.currentIndex() == PAGE_DICTATION
    view = window.dictation_view
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert window.dictation_session.active
    assert factory.stream is not None
    # The first sentence is on screen while the rest is still being spoken.
    qtbot.waitUntil(lambda: view.text.toPlainText().strip() != "", timeout=60_000)
    assert not factory.stream.source_done.is_set(), "text came only after the speech ended"
    seen_states = {window.dictation_session.state}
    window.dictation_session.stateChanged.connect(seen_states.add)
    # The text is editable while recording goes on: a note typed at the start stays.
    view.text.moveCursor(view.text.textCursor().MoveOperation.Start)
    qtbot.keyClicks(view.text, "NOTE ")
    qtbot.waitUntil(lambda: len(view.utterances) >= len(track.sentences), timeout=90_000)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)  # stop
    qtbot.waitUntil(lambda: not window.dictation_session.active, timeout=60_000)
    assert states.TRANSCRIBING in seen_states or states.LISTENING in seen_states
    text = view.text.toPlainText()
    assert text.startswith("NOTE ")
    lines = [line for line in text.removeprefix("NOTE ").splitlines() if line.strip()]
    assert len(lines) == len(track.sentences)
    assert wer(list(track.sentences), lines) <= WER_BAR, (track.sentences, lines)
    for u, onset, end in zip(view.utterances, track.onsets, track.ends, strict=True):
        assert u.start <= onset + 0.15 and u.end >= end - 0.3  # pre-roll, whole sentence

    qtbot.mouseClick(view.copy_button, Qt.MouseButton.LeftButton)
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == text.strip()
    assert view.save_button.isEnabled()
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert window.pages.currentIndex() == PAGE_EDITOR
    item = window.queue.items[-1]
    assert item.state is JobState.DONE and Path(item.path).exists()
    rows = table_times(window)
    assert len(rows) == len(track.sentences)
    for (start, end, _t), onset in zip(rows, track.onsets, strict=True):
        assert abs(start - onset) < 0.5 and end > start
    # ... and kept in the library as a dictation, found by its words.
    assert window.library is not None and item.library_id is not None
    entry = window.library.get(item.library_id)
    assert (entry.kind, entry.status) == ("dictation", "done")
    assert len(window.library.segments(item.library_id)) == len(track.sentences)
    word = max(track.sentences[0].split(), key=len)
    assert any(m.transcription_id == item.library_id for m in window.library.search(word))


def test_no_device_disables_record_and_says_why(qtbot, window: MainWindow) -> None:
    panel = window.recording_panel
    panel.list_devices = lambda *a: []
    panel.refresh_devices()
    assert not panel.record_button.isEnabled()
    assert panel.message_label.isVisible() and panel.message_label.text() == NO_DEVICE
    assert panel.record_button.toolTip() == NO_DEVICE
    window.action_record.trigger()  # the shortcut does nothing either
    assert not panel.recording

    def missing(*_a: object) -> list[InputDevice]:
        raise PortAudioMissing("Recording needs the PortAudio sound library, which is missing.")

    panel.list_devices = missing
    qtbot.mouseClick(panel.refresh_button, Qt.MouseButton.LeftButton)
    assert not panel.record_button.isEnabled()
    assert "PortAudio" in panel.message_label.text()
    panel.list_devices = lambda *a: [TEST_MIC]
    qtbot.mouseClick(panel.refresh_button, Qt.MouseButton.LeftButton)
    assert panel.record_button.isEnabled() and not panel.message_label.isVisible()


def test_unplugged_mid_recording_keeps_the_part_and_queues_it(
    qtbot, window: MainWindow, track: Track
) -> None:
    cut = 16000 * 2
    plug_in(window, track.samples, pace=4.0, stop_after_frames=cut)
    panel = window.recording_panel
    window.action_record.trigger()
    qtbot.waitUntil(lambda: not panel.recording, timeout=20_000)
    assert "stopped delivering sound" in panel.message_label.text()
    assert "\n" not in panel.message_label.text()
    qtbot.waitUntil(lambda: window.queue.rowCount() == 1, timeout=5000)
    info = sf.info(window.queue.items[0].path)
    assert abs(info.frames - cut) <= 320, (panel.message_label.text(), window.queue.items[0].path)


def test_an_interrupted_recording_is_offered_after_a_crash(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, track: Track
) -> None:
    out = recordings_dir() / "Recording crashed.flac"
    out.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.capture_child", str(track.path), str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("delivered") and int(line.split()[1]) >= 3 * 16000:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    settings = Settings(model=str(LISTENER), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        panel = win.recording_panel
        qtbot.waitUntil(lambda: len(panel.recovery_banners()) == 1, timeout=5000)
        banner = panel.recovery_banners()[0]
        assert banner.isVisible() and "interrupted" in banner.label.text()
        qtbot.mouseClick(banner.recover_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: win.queue.rowCount() == 1, timeout=5000)
        assert Path(win.queue.items[0].path) == out
        assert sf.info(str(out)).frames >= 2 * 16000  # repaired: libsndfile reads it
        qtbot.waitUntil(lambda: win.queue.items[0].state.finished, timeout=120_000)
        assert win.queue.items[0].state is JobState.DONE, win.queue.items[0].error
    # Offered once: the next start finds nothing left to recover.
    with shown_window(settings, tmp_path / "again", monkeypatch) as win:
        qtbot.wait(100)
        assert win.recording_panel.recovery_banners() == []
