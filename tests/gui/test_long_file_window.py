"""A 20-minute file through the window with the listener, to the end (issue #16).

Every window test before this used clips well under a minute, so nothing saw the live
view rebuild its whole table for every chunk, nor a long session's worth of Qt calls.
The file is cheap to make and to transcribe: five held-out sentences repeated once a
minute (the model's cost follows the sentences, not the silence between them).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex

from app.gui.main_window import PAGE_EDITOR, PAGE_LIVE, MainWindow
from app.gui.queue_model import JobState
from tests.gui.driving import drop_on, export_from_button, table_times, wait_all_finished
from tests.listener_speech import HELD_OUT_SEED, WER_BAR, Track, long_track, wer

pytestmark = [pytest.mark.gui, pytest.mark.slow]

MINUTES = 20.0


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    return long_track(tmp_path_factory.mktemp("long-file"), HELD_OUT_SEED + 61, MINUTES)


def test_a_twenty_minute_file_transcribes_to_the_end(
    qtbot: object,
    listener_window: MainWindow,
    track: Track,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import srt

    window = listener_window
    assert track.duration >= MINUTES * 60
    live = window.live_view.live_model
    inserted: list[int] = []  # rows per insert into the live view
    live_resets: list[int] = []  # how many rows had come in when the live view was reset
    queue_signals: list[str] = []
    live.rowsInserted.connect(lambda _p, first, last: inserted.append(last - first + 1))
    live.modelReset.connect(lambda: live_resets.append(sum(inserted)))
    window.queue.modelReset.connect(lambda: queue_signals.append("reset"))
    window.queue.layoutChanged.connect(lambda *_a: queue_signals.append("layout"))

    def queue_changed(top: QModelIndex, bottom: QModelIndex, *_roles: object) -> None:
        if top.row() != bottom.row():
            queue_signals.append(f"dataChanged {top.row()}-{bottom.row()}")

    window.queue.dataChanged.connect(queue_changed)

    started = time.monotonic()
    drop_on(window.drop_zone, [track.path])
    qtbot.waitUntil(lambda: live.rowCount() > 0, timeout=300_000)  # type: ignore[attr-defined]
    assert window.pages.currentIndex() == PAGE_LIVE
    wait_all_finished(qtbot, window, timeout=600_000)
    elapsed = time.monotonic() - started
    item = window.queue.items[0]
    assert item.state == JobState.DONE, item.error
    print(f"\n{MINUTES:g} min, {len(track.sentences)} sentences: {elapsed:.1f} s in the window")

    # The live view got each chunk as an insert of that chunk's rows, never a rebuild;
    # queue progress touched one row at a time.
    n = len(track.sentences)
    assert live.rowCount() == n and sum(inserted) == n and len(inserted) > 1
    assert max(inserted) < n / 10, inserted  # a chunk at a time, not the whole table
    live_starts = [seg.start for seg in live.segments()]
    assert live_starts == sorted(live_starts)
    # (one reset when the file is first shown, before its first row)
    assert set(live_resets) <= {0} and not queue_signals, (live_resets, queue_signals)

    # The editor shows every sentence, in order, where it is spoken.
    window.queue_view.select_item(item.id)
    assert window.pages.currentIndex() == PAGE_EDITOR
    rows = table_times(window)
    texts = [text for _, _, text in rows]
    assert len(rows) == n, (len(rows), n)
    assert wer(track.sentences, texts) <= WER_BAR
    for (start, end, _), onset in zip(rows, track.onsets, strict=True):
        assert abs(start - onset) <= 0.3 and end <= track.duration + 0.05

    # Still alive: the event loop runs and the worker thread waits for more work.
    assert window.isVisible() and window.service.running
    qtbot.wait(50)  # type: ignore[attr-defined]

    # SRT export: parses, the words, inside the media, in order, no overlaps.
    out = export_from_button(window, "srt", tmp_path / "subtitles", monkeypatch)
    cues = list(srt.parse((out / f"{track.path.stem}.srt").read_text(encoding="utf-8")))
    assert len(cues) == n
    assert wer(track.sentences, [c.content for c in cues]) <= WER_BAR
    bounds = [(c.start.total_seconds(), c.end.total_seconds()) for c in cues]
    assert all(0 <= a < b <= track.duration + 0.001 for a, b in bounds)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(bounds))
