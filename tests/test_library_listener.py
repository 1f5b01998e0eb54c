"""The library end to end with the listener: a transcription killed with SIGKILL in the
middle keeps its finished chunks, `murmur library resume` finishes it on the same chunk
cut, the words come back (WER <= 10 %), and search finds the segment where a word was said.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.store import Library
from tests.listener_speech import (
    HELD_OUT_SEED,
    LISTENER,
    WER_BAR,
    Track,
    spaced_track,
    wer,
    words_of,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
KEEP = 3  # chunks that finish before the kill

# The real `murmur transcribe`, with the engine held up after KEEP results so that the
# kill surely lands in the middle of the job (after KEEP chunks were handed on).
HELD_UP = """
import sys, threading
from app.core.asr import engine

original = engine.Engine.transcribe_decoded

def held_up(self, audios, cancel=None, **kw):
    for n, item in enumerate(original(self, audios, cancel=cancel, **kw), start=1):
        yield item
        if n == int(sys.argv[1]):
            print("held", flush=True)
            threading.Event().wait()

engine.Engine.transcribe_decoded = held_up
from app.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


def murmur(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """8 held-out sentences 1.5-3 s apart: 8 chunks."""
    out = tmp_path_factory.mktemp("library-listener")
    return spaced_track(out, HELD_OUT_SEED + 31, 8, (1.5, 3.0), (2, 6), max_chars=36)


def test_killed_transcription_keeps_its_chunks_and_resumes(track: Track, tmp_path: Path) -> None:
    # cut at every pause: one chunk per sentence, so that the kill lands mid-job
    # (a packed cut is resumed in test_a_stopped_packed_job_resumes_with_its_windows)
    model = ["--model", str(LISTENER), "--device", "cpu", "--precision", "fp32", "--pack", "off"]
    proc = subprocess.Popen(
        [sys.executable, "-c", HELD_UP, str(KEEP), "transcribe", str(track.path), *model],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the engine is held up
        assert line.strip() == "held", proc.stderr.read() if proc.stderr else ""
        time.sleep(0.2)  # the KEEP-th chunk's commit is under way; give it time
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL

    with Library.open() as lib:
        (entry,) = lib.entries()
        assert entry.status == "interrupted"  # its process is gone
        cut = lib.chunks(entry.id)
        assert len(cut) == len(track.sentences)  # one chunk per sentence
        kept = {c.index: c.text for c in cut if c.done}
        assert len(kept) == KEEP
        kept_segments = {
            seg
            for seg in lib.segments(entry.id)
            if any(c.start - 0.01 <= seg.start <= c.end for c in cut if c.done)
        }
        assert len(kept_segments) >= KEEP
        assert len(lib.segments(entry.id)) == len(kept_segments)

    listed = json.loads(murmur("library", "list", "--json").stdout)
    assert [(e["id"], e["status"]) for e in listed] == [(entry.id, "interrupted")]

    # the media changed: said plainly, nothing is transcribed
    stat = track.path.stat()
    os.utime(track.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    refused = murmur("library", "resume", str(entry.id))
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "murmur: error: Can't resume: The media file has changed since it was transcribed"
        )
    )
    os.utime(track.path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    done = murmur("library", "resume", str(entry.id))
    assert done.returncode == 0, done.stderr
    assert f"#{entry.id} is done" in done.stderr

    with Library.open() as lib:
        finished = lib.get(entry.id)
        assert finished.status == "done"
        after = lib.chunks(entry.id)
        assert [(c.start, c.end, c.regions) for c in after] == [
            (c.start, c.end, c.regions) for c in cut
        ]  # the same boundaries
        assert all(c.done for c in after)
        assert {c.index: c.text for c in after if c.index in kept} == kept  # not done again
        segments = lib.segments(entry.id)
        assert kept_segments <= set(segments)
        assert all(a.end <= b.start for a, b in itertools.pairwise(segments))
        texts = [c.text or "" for c in after]
    assert wer(track.sentences, texts) <= WER_BAR, list(zip(track.sentences, texts, strict=True))

    out = tmp_path / "talk.srt"
    exported = murmur("library", "export", str(entry.id), "--format", "srt", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    srt = out.read_text(encoding="utf-8")
    assert srt.count(" --> ") == len(segments)
    assert wer([track.text], [" ".join(s.text for s in segments)]) <= WER_BAR

    # search: a word said in exactly one sentence is found in the segment where it was said
    said = [set(words_of(s)) for s in track.sentences]
    word = next(
        w
        for words in said[1:]
        for w in sorted(words)
        if sum(w in other for other in said) == 1 and len(w) >= 3
    )
    where = next(i for i, words in enumerate(said) if word in words)
    found = murmur("library", "search", word, "--json")
    assert found.returncode == 0, found.stderr
    matches = json.loads(found.stdout)
    assert len(matches) == 1, (word, matches)
    (match,) = matches
    assert match["transcription_id"] == entry.id and word in words_of(match["text"])
    assert track.onsets[where] - 0.5 <= match["start"] <= track.ends[where], (match, where)
    assert segments[match["row"]].text == match["text"]
    assert match["text"] in match["context"]


def test_a_stopped_packed_job_resumes_with_its_windows(track: Track) -> None:
    """Packed on the CPU by default: a job stopped after its first window keeps the
    windows' pieces, and the resumed job hears them as the same windows."""
    from app.core.asr.engine import Engine, EngineOptions
    from app.core.events import ChunkTranscribed
    from app.core.settings import Settings
    from app.core.store import resume, transcribe_into

    options = Settings().pipeline_options()  # the defaults: auto packs on the CPU
    engine = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32", batch_size=1))
    with Library.open() as lib:
        tid, events = transcribe_into(lib, track.path, engine, options)
        for event in events:
            if isinstance(event, ChunkTranscribed):
                break  # stopped after one window
        events.close()
        cut = lib.chunks(tid)
        assert len(cut) < len(track.sentences) and all(c.pieces for c in cut[:-1])
        assert [c.done for c in cut].count(True) == 1
        for _event in resume(lib, tid, engine, options):
            pass
        after = lib.chunks(tid)
        assert [c.to_chunk() for c in after] == [c.to_chunk() for c in cut]  # pieces kept
        assert all(c.done for c in after)
        segments = lib.segments(tid)
    assert all(a.end <= b.start for a, b in itertools.pairwise(segments))
    words = " ".join(s.text for s in segments)
    assert wer([track.text], [words]) <= WER_BAR, (track.text, words)
    # every cue lies on one sentence's speech: resumed windows kept their pieces apart
    spans = list(zip(track.onsets, track.ends, strict=True))
    for segment in segments:
        assert sum(segment.start < b and a < segment.end for a, b in spans) == 1, segment
