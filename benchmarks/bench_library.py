"""Benchmark the library: search, opening the history and saving an edit at scale.

Builds a library of 1,000 transcripts with 500 segments each (500,000 segments:
English-like words, one transcript in five in Chinese), then times, in the same run:

- search (``Library.search``) for rare and common words, several words, Chinese of 4
  and of 2 characters (2 is below the trigram index: LIKE), against a baseline: the
  same search done by a plain ``LIKE`` scan of every segment;
- opening the history: ``Library.open`` (migrations check, stale jobs) plus the list
  query of all 1,000 transcripts;
- saving an edit: one segment's text (one UPDATE, the FTS index follows through its
  trigger, committed with ``synchronous = FULL``), and ``save_segments`` of a whole
  500-segment transcript with one line changed (what the editor's autosave writes).

Targets (issue #10): search < 50 ms, history < 300 ms, an edit far below 16 ms.

Usage::

    python -m benchmarks.bench_library                     # builds once, cached in $TMPDIR
    python -m benchmarks.bench_library --transcripts 200   # smaller
    python -m benchmarks.bench_library --rebuild
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.store import Library, NewJob  # noqa: E402
from app.core.store.library import to_ms  # noqa: E402
from app.core.transcript import Segment  # noqa: E402

SEED = 10
CHINESE_EVERY = 5


def vocabulary(rng: np.random.Generator, size: int = 6000) -> list[str]:
    """Pseudo-words from syllables, with a Zipf-like frequency order."""
    onsets = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w"]
    onsets += ["br", "ch", "st", "tr", "sh", "th", "pl"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
    codas = ["", "", "n", "r", "s", "t", "l", "nd", "st", "ng"]
    words: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(1, 4))
        words.add(
            "".join(
                str(rng.choice(onsets)) + str(rng.choice(vowels)) + str(rng.choice(codas))
                for _ in range(n)
            )
        )
    ordered = sorted(words)
    rng.shuffle(ordered)  # frequency rank unrelated to length
    return ordered


def build(path: Path, transcripts: int, per: int) -> None:
    rng = np.random.default_rng(SEED)
    words = vocabulary(rng)
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    hanzi = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)]
    started = time.perf_counter()
    with Library.open(path) as lib:
        lib.conn.execute("PRAGMA synchronous = OFF")  # building only; timings use FULL
        for t in range(transcripts):
            chinese = t % CHINESE_EVERY == 0
            tid = lib.create(
                NewJob(
                    title=f"Recording {t:04d}",
                    media_path=f"/home/user/media/talk-{t:04d}.m4a",
                    kind=("file", "recording", "dictation")[t % 3],
                    model="zai-org/GLM-ASR-Nano-2512",
                    status="done",
                    duration=per * 4.0,
                )
            )
            lengths = rng.integers(8, 20) if chinese else rng.integers(6, 16, size=per)
            lengths = rng.integers(8, 20, size=per) if chinese else lengths
            if chinese:
                picks = rng.integers(0, len(hanzi), size=int(lengths.sum()))
            else:
                picks = rng.choice(len(words), size=int(lengths.sum()), p=weights)
            rows = []
            at = 0
            for i, n in enumerate(lengths):
                chosen = picks[at : at + n]
                at += n
                if chinese:
                    text = "".join(hanzi[k] for k in chosen)
                else:
                    text = " ".join(words[k] for k in chosen).capitalize() + "."
                rows.append((tid, i, to_ms(i * 4.0), to_ms(i * 4.0 + 3.5), text))
            with lib.transaction() as conn:
                conn.executemany(
                    "INSERT INTO segments (transcription_id, ord, start_ms, end_ms, text)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            if (t + 1) % 100 == 0:
                print(f"  built {t + 1}/{transcripts} transcripts", flush=True)
        lib.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        lib.conn.execute("INSERT INTO segments_fts (segments_fts) VALUES ('optimize')")
    print(f"built in {time.perf_counter() - started:.1f} s")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median and worst time in ms over ``repeat`` runs (after one warm-up)."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times), result


def like_scan(lib: Library, query: str, limit: int) -> list[object]:
    where = " AND ".join("text LIKE ?" for _ in query.split())
    return lib.conn.execute(
        f"SELECT id FROM segments WHERE {where} ORDER BY id DESC LIMIT ?",
        (*(f"%{t}%" for t in query.split()), limit),
    ).fetchall()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transcripts", type=int, default=1000)
    parser.add_argument("--segments", type=int, default=500, help="per transcript")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)

    folder = Path(tempfile.gettempdir()) / "murmur-bench"
    folder.mkdir(exist_ok=True)
    path = folder / f"library-{args.transcripts}x{args.segments}.sqlite3"
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        print(f"building {args.transcripts} x {args.segments} segments in {path}")
        build(path, args.transcripts, args.segments)
    size_mb = path.stat().st_size / 1e6
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    # -- opening the history: a fresh Library and the list query, 1,000 rows
    def open_history() -> int:
        with Library.open(path) as lib:
            return len(lib.entries())

    open_ms, open_max, listed = timed(open_history, max(5, args.repeat // 2))

    lib = Library.open(path)
    total = lib.conn.execute("SELECT count(*) FROM segments").fetchone()[0]
    print(f"library: {lib.count()} transcripts, {total} segments, {size_mb:.0f} MB")
    print(
        f"open history (open + list {listed} rows): median {open_ms:.1f} ms, max {open_max:.1f} ms"
    )
    list_ms, _, _ = timed(lambda: lib.entries(), args.repeat)
    print(f"  list query alone: median {list_ms:.1f} ms")

    # -- search
    counts = _word_counts(lib)
    rare = min(counts, key=lambda w: (counts[w], w))
    common = max(counts, key=lambda w: counts[w])
    pair = lib.conn.execute(
        "SELECT text FROM segments WHERE transcription_id = 2 ORDER BY ord LIMIT 1 OFFSET 250"
    ).fetchone()[0]
    two = " ".join(w.strip(".").lower() for w in pair.split()[2:4])
    chinese = lib.conn.execute(
        "SELECT text FROM segments WHERE transcription_id = 1 ORDER BY ord LIMIT 1 OFFSET 100"
    ).fetchone()[0]
    queries = {
        f"rare word '{rare}'": rare,
        f"most common word '{common}'": common,
        f"two words '{two}'": two,
        f"Chinese, 4 characters '{chinese[3:7]}'": chinese[3:7],
        f"Chinese, 2 characters '{chinese[5:7]}'": chinese[5:7],
        f"Chinese, 1 character '{chinese[6]}'": chinese[6],
        f"Latin, 2 letters '{rare[:2]}' (word start)": rare[:2],
        "no match 'zzqxv'": "zzqxv",
    }
    how = "FTS5 trigram" if lib.full_text else "LIKE"
    print(f"search ({how}; limit 100), median of {args.repeat}:")
    worst = 0.0
    for label, query in queries.items():
        ms, peak, found = timed(lambda q=query: lib.search(q, limit=100), args.repeat)
        base, _, _ = timed(lambda q=query: like_scan(lib, q, 100), max(3, args.repeat // 4))
        worst = max(worst, ms)
        print(
            f"  {label}: {ms:.1f} ms (max {peak:.1f}), {len(found)} matches;"  # type: ignore[arg-type]
            f" LIKE scan baseline {base:.1f} ms, ratio {ms / base:.2f}"
        )

    # -- saving an edit
    tid = lib.entries(limit=1)[0].id
    segments = lib.segments(tid)
    counter = iter(range(10**9))

    def edit_one() -> None:
        lib.set_segment_text(tid, 123, f"an edited line number {next(counter)}")

    one_ms, one_max, _ = timed(edit_one, args.repeat)

    def autosave() -> None:
        changed = list(segments)
        changed[321] = Segment(changed[321].start, changed[321].end, f"autosaved {next(counter)}")
        lib.save_segments(tid, changed)

    save_ms, save_max, _ = timed(autosave, args.repeat)
    print(
        f"save an edit (one UPDATE + FTS, synchronous=FULL): median {one_ms:.2f} ms,"
        f" max {one_max:.2f} ms"
    )
    print(
        f"autosave a 500-segment transcript, one line changed: median {save_ms:.2f} ms,"
        f" max {save_max:.2f} ms"
    )
    lib.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    ok = worst < 50 and open_ms < 300 and one_ms < 16
    print("targets (search < 50 ms, history < 300 ms, edit < 16 ms):", "met" if ok else "NOT met")
    return 0


def _word_counts(lib: Library) -> dict[str, int]:
    """Word frequencies in a sample of the English transcripts."""
    rows = lib.conn.execute(
        "SELECT text FROM segments WHERE transcription_id IN (2, 3, 4, 5, 7, 8, 9, 10)"
    ).fetchall()
    counts: dict[str, int] = {}
    for (line,) in rows:
        for w in line.lower().strip(".").split():
            if len(w) >= 5:
                counts[w] = counts.get(w, 0) + 1
    return counts


if __name__ == "__main__":
    raise SystemExit(main())
