"""The history panel in the main window: finished jobs, search, edits kept (tiny model)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import soundfile as sf
from PySide6.QtWidgets import QLineEdit

from app.core.settings import Settings
from app.core.store import Library, NewJob
from app.core.transcript import Segment
from tests.gui.driving import (
    click_item,
    list_texts,
    shown_window,
    type_in_cell,
    wait_all_finished,
)
from tests.speech import SENTENCES, make_track

pytestmark = pytest.mark.gui

LINES = [
    "Good morning and welcome.",
    "Today we talk about the budget.",
    "The marketing team asked for more.",
    "Engineering wants new laptops.",
    "Thanks, see you next week.",
]


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_track(SENTENCES[:2], [1.4], tmp_path_factory.mktemp("history"), name="talk").path


@pytest.fixture
def settings(tiny_model_dir: Path) -> Settings:
    return Settings(model=str(tiny_model_dir), device="cpu", precision="fp32")


def stored(wav: Path) -> int:
    with Library.open() as lib:
        tid = lib.create(NewJob(title="Weekly meeting", media_path=str(wav), status="done"))
        lib.save_segments(tid, [Segment(i * 1.0, i * 1.0 + 0.9, t) for i, t in enumerate(LINES)])
    return tid


def test_the_history_shows_a_finished_job(
    qtbot: object, wav: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with shown_window(settings, tmp_path, monkeypatch) as win:
        assert win.history_dock.isVisible()
        assert list_texts(win) == []
        win.add_files([str(wav)])
        wait_all_finished(qtbot, win)
        qtbot.waitUntil(lambda: "done" in "".join(list_texts(win)), timeout=5000)  # type: ignore[attr-defined]
        (text,) = list_texts(win)
        title, details = text.split("\n")
        assert title == "talk"
        with Library.open() as lib:
            (entry,) = lib.entries()
            assert entry.duration == pytest.approx(sf.info(str(wav)).duration, abs=0.05)
            seconds = round(entry.duration)
            assert re.fullmatch(
                rf"\d{{4}}-\d\d-\d\d \d\d:\d\d · 0:{seconds:02d} · file · done", details
            ), details
            item = win.queue.items[0]
            assert item.library_id == entry.id
            assert lib.segments(entry.id) == list(item.document.transcript.segments)
    with Library.open() as lib:  # the worker has stopped: the job stays done
        assert [e.status for e in lib.entries()] == ["done"]


def test_search_finds_a_word_and_opens_that_segment(
    qtbot: object, wav: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = stored(wav)
    with shown_window(settings, tmp_path, monkeypatch) as win:
        box: QLineEdit = win.history.search_box
        qtbot.keyClicks(box, "marketing")  # type: ignore[attr-defined]
        qtbot.waitUntil(
            lambda: len(list_texts(win)) == 1 and "marketing" in list_texts(win)[0], timeout=3000
        )  # type: ignore[attr-defined]
        assert list_texts(win) == [
            "Weekly meeting · 0:02\nToday we talk about the budget. " + LINES[2] + " " + LINES[3]
        ]
        click_item(qtbot, win, 0)
        qtbot.waitUntil(lambda: win.editor.document is not None, timeout=3000)  # type: ignore[attr-defined]
        doc = win.editor.document
        assert [s.text for s in doc.transcript.segments] == LINES
        assert win.editor.table.currentIndex().row() == 2
        assert win.editor.player.source == str(wav)  # ready to play
        assert win.queue.items[0].library_id == tid


def test_an_edit_survives_closing_and_reopening_the_window(
    qtbot: object, wav: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = stored(wav)
    with shown_window(settings, tmp_path, monkeypatch) as win:
        click_item(qtbot, win, 0)
        qtbot.waitUntil(lambda: win.editor.document is not None, timeout=3000)  # type: ignore[attr-defined]
        type_in_cell(qtbot, win, 1, "Today we talk about the holidays.")
        edited = time.monotonic()
        with Library.open() as lib:
            qtbot.waitUntil(lambda: lib.segments(tid)[1].text.endswith("holidays."), timeout=3000)  # type: ignore[attr-defined]
            assert time.monotonic() - edited < 1.0  # on disk within a second
        win.editor.document.undo()  # undo works, and is saved too
        assert win.editor.document.transcript[1].text == LINES[1]
        win.editor.document.redo()
    # closed (flushes pending saves); a new window shows the edit
    with shown_window(settings, tmp_path, monkeypatch) as win:
        click_item(qtbot, win, 0)
        qtbot.waitUntil(lambda: win.editor.document is not None, timeout=3000)  # type: ignore[attr-defined]
        assert win.editor.document.transcript[1].text == "Today we talk about the holidays."
        with Library.open() as lib:
            assert [m.row for m in lib.search("holidays")] == [1]


def test_resume_from_the_history_finishes_a_stopped_job(
    qtbot: object, wav: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.asr.engine import Engine
    from app.core.events import ChunkTranscribed
    from app.core.store import transcribe_into

    settings.packing = "off"  # two sentences, two chunks: one done before the stop
    engine = Engine(settings.engine_options())
    with Library.open() as lib:
        tid, events = transcribe_into(lib, wav, engine, settings.pipeline_options())
        for event in events:
            if isinstance(event, ChunkTranscribed):
                first = event.index
                break  # stopped after one chunk
        events.close()
        cut = [(c.start, c.end) for c in lib.chunks(tid)]
        assert len(cut) == 2 and lib.get(tid).status == "cancelled"
        kept = lib.segments(tid)
    engine.unload()
    with shown_window(settings, tmp_path, monkeypatch) as win:
        assert "cancelled" in list_texts(win)[0]
        win.history.resumeRequested.emit(tid)
        wait_all_finished(qtbot, win)
        item = win.queue.items[0]
        assert item.library_id == tid and item.document is not None
        with Library.open() as lib:
            assert lib.get(tid).status == "done"
            assert [(c.start, c.end) for c in lib.chunks(tid)] == cut
            assert all(c.done for c in lib.chunks(tid))
            segments = lib.segments(tid)
            assert set(kept) <= set(segments) and len(segments) > len(kept)
            assert list(item.document.transcript.segments) == segments
            assert first in (0, 1)
