"""The window with real media: a track picker on the queue card, and "Export all
finished" with names that clash, checked word for word with the listener."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.settings import Settings
from app.gui.main_window import MainWindow
from app.gui.prompts import CANCEL, KEEP_BOTH, REPLACE
from app.gui.queue_model import JobState
from app.gui.settings_dialog import SettingsDialog
from tests import media_layouts, speech
from tests.gui.driving import shown_window, wait_all_finished
from tests.listener_speech import (
    HELD_OUT_SEED,
    LISTENER,
    WER_BAR,
    Track,
    distinct_tracks,
    wer,
)

pytestmark = [pytest.mark.gui, pytest.mark.slow]


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> list[Track]:
    return distinct_tracks(tmp_path_factory, "window-tracks", HELD_OUT_SEED + 251, 2, 3)


@pytest.fixture
def window(qtbot: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    settings = Settings(model=str(LISTENER), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        yield win


def words(item: object) -> str:
    return " ".join(s.text for s in item.document.transcript.segments)  # type: ignore[attr-defined]


def test_track_picker_on_the_queue_card(
    qtbot: object, window: MainWindow, tracks: list[Track], tmp_path: Path
) -> None:
    music = speech.write_wav(tmp_path / "music.wav", speech.music_like(tracks[0].duration))
    film = media_layouts.multi_track_mkv(
        [(music, "eng", "Music"), (tracks[0].path, "eng", "Speech")], tmp_path / "film.mkv"
    )
    plain = speech.convert(tracks[1].path, tmp_path / "plain.m4a", "m4a")
    film_item, plain_item = window.add_files([str(film), str(plain)])
    card = window.queue_view.card(film_item.id)
    assert card is not None
    picker = card.track_picker
    assert film_item.state is JobState.QUEUED
    assert picker.isVisible() and picker.isEnabled()
    assert picker.count() == 2 and picker.currentData() == 1  # the default track
    assert "Music" in picker.currentText()
    plain_card = window.queue_view.card(plain_item.id)
    assert plain_card is not None and not plain_card.track_picker.isVisible()

    # Before it starts: choose the speech track with the keyboard.
    picker.setFocus()
    qtbot.keyClick(picker, Qt.Key.Key_Down)  # type: ignore[attr-defined]
    assert film_item.track == 2 and picker.currentData() == 2
    wait_all_finished(qtbot, window)
    assert film_item.state is JobState.DONE, film_item.error
    assert film_item.track_used == 2
    assert wer([tracks[0].text], [words(film_item)]) <= WER_BAR, words(film_item)
    assert wer([tracks[1].text], [words(plain_item)]) <= WER_BAR
    assert not card.retry_button.isVisible()

    # Afterwards: choose the music track again and retry; it holds no speech.
    qtbot.keyClick(picker, Qt.Key.Key_Up)  # type: ignore[attr-defined]
    assert film_item.track == 1 and card.retry_button.isVisible()
    old_doc = film_item.document
    qtbot.mouseClick(card.retry_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert film_item.track_used == 1 and film_item.document is not old_doc
    wait_all_finished(qtbot, window)
    assert film_item.state is JobState.DONE and film_item.track_used == 1
    assert film_item.document is not None and not film_item.document.transcript.segments
    assert not card.retry_button.isVisible()


def test_export_all_finished_with_clashing_names(
    qtbot: object,
    window: MainWindow,
    tracks: list[Track],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    inputs = [
        speech.convert(track.path, tmp_path / d / "talk.flac", "flac")
        for track, d in zip(tracks, "ab", strict=True)
    ]
    window.add_files([str(p) for p in inputs])
    wait_all_finished(qtbot, window)
    assert all(i.state is JobState.DONE for i in window.queue.items)
    out = tmp_path / "out"
    out.mkdir()
    window.settings.export_dir = str(out)
    window.settings.export_formats = ["srt", "txt"]
    asked: list[list[Path]] = []
    answers: list[str] = []

    def ask_replace(existing: list[Path]) -> str:
        asked.append(existing)
        return answers.pop(0)

    monkeypatch.setattr(window, "ask_replace", ask_replace)

    def listing() -> list[str]:
        return sorted(p.name for p in out.iterdir())

    def texts() -> dict[str, str]:
        return {n: (out / n).read_text(encoding="utf-8") for n in listing()}

    # Two inputs named talk.flac into one folder: the second is numbered, and said so.
    qtbot.mouseClick(window.export_all_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert not asked  # nothing existed, nothing to ask
    assert listing() == ["talk (2).srt", "talk (2).txt", "talk.srt", "talk.txt"]
    first = texts()
    assert wer([tracks[0].text], [first["talk.txt"]]) <= WER_BAR
    assert wer([tracks[1].text], [first["talk (2).txt"]]) <= WER_BAR
    assert "talk (2).srt, talk (2).txt" in window.statusBar().currentMessage()

    # Again: the window asks; "Keep both" writes new numbers and changes nothing.
    answers.append(KEEP_BOTH)
    qtbot.mouseClick(window.export_all_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert sorted(p.name for p in asked[0]) == sorted(first)
    assert len(listing()) == 8
    assert {n: t for n, t in texts().items() if n in first} == first
    assert wer([tracks[0].text], [texts()["talk (3).txt"]]) <= WER_BAR
    assert wer([tracks[1].text], [texts()["talk (4).txt"]]) <= WER_BAR

    # "Replace" writes over the plain names (a stale file gets its words back); no new files.
    (out / "talk.txt").write_text("stale", encoding="utf-8")
    answers.append(REPLACE)
    qtbot.mouseClick(window.export_all_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert len(listing()) == 8 and texts()["talk.txt"] == first["talk.txt"]

    # "Cancel" writes nothing.
    (out / "talk.txt").write_text("stale", encoding="utf-8")
    answers.append(CANCEL)
    assert not window.export_all_finished()
    assert len(listing()) == 8 and texts()["talk.txt"] == "stale"


def test_channel_setting_in_the_settings_dialog(qtbot: object) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    combo = dialog.channel_combo
    assert combo.currentData() == "auto"
    combo.setFocus()
    for _ in range(2):  # auto -> mix -> left
        qtbot.keyClick(combo, Qt.Key.Key_Down)  # type: ignore[attr-defined]
    dialog.accept()
    result = dialog.result_settings()
    assert result is not None and result.channel == "left"
    assert result.pipeline_options().channel == "left"
