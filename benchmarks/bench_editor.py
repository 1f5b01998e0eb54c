"""Benchmark the transcript editor and the live view on long transcripts (issue #16).

Builds a transcript of ``--segments`` segments (10,000 by default, about 8 hours of
speech) and times, in the real widgets, offscreen:

- opening it in the editor (``set_document`` until the table is laid out and painted);
- scrolling through it, a page at a time, painting each page;
- find-all for a word (the find bar's match count);
- following playback: ``--follow`` position updates that move the highlight row by row;
- editing one row's text (undoable command), which must update only that row;
- appending ``--live`` segments to the live view one chunk at a time, with the live
  view's model (row inserts) against the old approach (a QTableWidget rebuilt for every
  chunk), measured in the same run.

Every editor figure is also measured on a ``--small`` transcript (100 segments) in the
same run: a ratio near 1 means the cost does not grow with the transcript.

Usage::

    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_editor
    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_editor --segments 20000 --follow 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
)

from app.core.transcript import Segment, Transcript, TranscriptMeta  # noqa: E402
from app.core.transcript.edits import SetText  # noqa: E402

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "red",
    "birds",
    "sing",
    "about",
    "green",
    "hills",
    "and",
    "open",
    "water",
    "under",
    "a",
    "bright",
    "yellow",
    "sky",
]


def make_segments(n: int, seed: int = 7) -> list[Segment]:
    rng = np.random.default_rng(seed)
    segments, t = [], 0.5
    for _ in range(n):
        length = float(rng.uniform(1.0, 4.0))
        words = rng.choice(WORDS, size=int(rng.integers(3, 14)))
        segments.append(Segment(round(t, 3), round(t + length, 3), " ".join(words).capitalize()))
        t += length + float(rng.uniform(0.1, 1.5))
    return segments


def settle(app: QApplication) -> None:
    app.processEvents()
    app.processEvents()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_editor(app: QApplication, n: int, follow: int) -> dict[str, float]:
    from app.gui.document import TranscriptDocument
    from app.gui.editor import TranscriptEditor

    segments = make_segments(n)
    transcript = Transcript(segments, TranscriptMeta(duration=segments[-1].end + 1.0))
    doc = TranscriptDocument(transcript, "")
    editor = TranscriptEditor()
    editor.resize(1000, 700)
    editor.show()
    settle(app)
    out: dict[str, float] = {}

    def open_doc() -> None:
        editor.set_document(doc)
        settle(app)
        editor.table.viewport().repaint()

    out["open"] = timed(open_doc)

    bar = editor.table.verticalScrollBar()

    def scroll() -> None:
        pages = 0
        while bar.value() < bar.maximum() and pages < 400:
            bar.setValue(bar.value() + bar.pageStep())
            editor.table.viewport().repaint()
            pages += 1
        out["scroll_pages"] = pages

    out["scroll"] = timed(scroll)
    out["scroll_per_page"] = out["scroll"] / max(1, out["scroll_pages"])
    bar.setValue(0)
    settle(app)

    def find_all() -> None:
        editor.open_find()
        editor.find_bar.find_edit.setText("yellow")
        settle(app)
        out["matches"] = len(editor.find_bar.matches())

    out["find"] = timed(find_all)
    editor.find_bar.close_bar()

    # Playback following: positions that walk through the first rows, so the highlight
    # moves (and the table scrolls) on every update, painting as the player would.
    starts = [seg.start + 0.01 for seg in segments]
    positions = [starts[i % len(starts)] for i in range(follow)]

    def follow_rows() -> None:
        for seconds in positions:
            editor._on_position(seconds)
            app.processEvents()

    out["follow"] = timed(follow_rows)
    out["follow_per_update"] = out["follow"] / max(1, follow)

    row = min(5, n - 1)

    def edit_one() -> None:
        doc.push(SetText(row, "An edited line of text"))
        settle(app)

    out["edit_one"] = timed(edit_one)
    editor.set_document(None)
    editor.close()
    editor.deleteLater()
    settle(app)
    return out


def chunks_of(segments: Sequence[Segment], size: int) -> list[list[Segment]]:
    return [list(segments[i : i + size]) for i in range(0, len(segments), size)]


def old_rebuild(table: QTableWidget, segments: Sequence[Segment]) -> None:
    """The live view before issue #16: every chunk rebuilt the whole table."""
    from app.gui.live_view import format_time

    ordered = sorted(segments, key=lambda s: (s.start, s.end))
    table.setRowCount(len(ordered))
    for row, seg in enumerate(ordered):
        table.setItem(row, 0, QTableWidgetItem(format_time(seg.start)))
        table.setItem(row, 1, QTableWidgetItem(format_time(seg.end)))
        table.setItem(row, 2, QTableWidgetItem(seg.text))
    if ordered:
        table.scrollToBottom()


def each_chunk(
    app: QApplication, order: Sequence[int], step: Callable[[int], object]
) -> tuple[float, float]:
    """Run ``step(i)`` for each chunk in ``order``, painting after each: (total, worst) s."""
    total = worst = 0.0
    for i in order:
        t = time.perf_counter()
        step(i)
        app.processEvents()
        took = time.perf_counter() - t
        total += took
        worst = max(worst, took)
    return total, worst


def bench_live(app: QApplication, total: int, chunk: int) -> dict[str, float]:
    from app.gui.live_view import LiveSegmentsView

    segments = make_segments(total, seed=11)
    chunks = chunks_of(segments, chunk)
    # Batches finish out of time order: shuffle the chunks within windows of 8.
    rng = np.random.default_rng(3)
    order: list[int] = []
    for a in range(0, len(chunks), 8):
        block = list(range(a, min(len(chunks), a + 8)))
        rng.shuffle(block)
        order += block
    out: dict[str, float] = {"chunks": len(chunks)}

    view = LiveSegmentsView()
    view.resize(900, 600)
    view.show()
    settle(app)
    out["model"], out["model_worst_chunk"] = each_chunk(
        app, order, lambda i: view.add_segments(chunks[i])
    )
    assert [s.text for s in view.live_model.segments()] == [s.text for s in segments]
    view.close()

    table = QTableWidget(0, 3)  # set up as the old live view was
    table.setWordWrap(True)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    for col in (0, 1):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
    table.resize(900, 600)
    table.show()
    settle(app)
    so_far: list[Segment] = []

    def rebuild(i: int) -> None:
        so_far.extend(chunks[i])
        old_rebuild(table, so_far)

    out["rebuild"], out["rebuild_worst_chunk"] = each_chunk(app, order, rebuild)
    table.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--follow", type=int, default=1000)
    parser.add_argument("--live", type=int, default=1200, help="segments for the live view")
    parser.add_argument("--chunk", type=int, default=4, help="segments per chunk")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    small = bench_editor(app, args.small, args.follow)
    big = bench_editor(app, args.segments, args.follow)
    print(f"\nEditor: {args.segments} segments vs {args.small} (same run)")
    print(f"{'':24}{args.segments:>12}{args.small:>12}{'ratio':>8}")
    rows = (
        ("open", "open"),
        ("scroll, per page", "scroll_per_page"),
        ("find all 'yellow'", "find"),
        (f"follow, {args.follow} updates", "follow"),
        ("edit one row", "edit_one"),
    )
    for label, key in rows:
        b, s = big[key], small[key]
        print(f"{label:24}{b * 1000:>10.1f}ms{s * 1000:>10.1f}ms{b / max(s, 1e-9):>8.1f}")
    print(
        f"(scrolled {big['scroll_pages']:.0f} pages in {big['scroll'] * 1000:.0f} ms; "
        f"{big['matches']:.0f} matches)"
    )

    live = bench_live(app, args.live, args.chunk)
    print(
        f"\nLive view: {args.live} segments in {live['chunks']:.0f} chunks of {args.chunk}, "
        "chunks out of order"
    )
    print(
        f"row inserts (model):  {live['model'] * 1000:8.0f} ms in all, "
        f"worst chunk {live['model_worst_chunk'] * 1000:.1f} ms"
    )
    print(
        f"rebuild per chunk (old): {live['rebuild'] * 1000:5.0f} ms in all, "
        f"worst chunk {live['rebuild_worst_chunk'] * 1000:.1f} ms"
    )
    print(f"speed-up: {live['rebuild'] / max(live['model'], 1e-9):.1f}x")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
