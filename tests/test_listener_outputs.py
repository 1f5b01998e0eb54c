"""Real words through the user-facing paths: the CLI's files, truncated media, batching.

Uses the listener (tests/fixtures/listener), so each check can say which words must come
back, and where: a wrong cue text, a cue on the wrong sentence or a chunk that batching
corrupted shows up as a word error, not just as "some text".
"""

from __future__ import annotations

import io
import json
from itertools import pairwise
from pathlib import Path

import pytest

from app.cli.transcribe import run as cli_run
from app.core.asr.engine import Engine, EngineOptions
from app.core.events import ChunkTranscribed, Finished, SpeechFound
from app.core.pipeline import transcribe_file
from tests import speech
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

ONSET_TOLERANCE_S = 0.3


@pytest.fixture(scope="module", name="spaced_track")
def spaced_track_fixture(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """Eight held-out sentences of 2-6 words, 1.5-3 s apart: one chunk and one cue each."""
    out = tmp_path_factory.mktemp("listener-outputs")
    return spaced_track(out, HELD_OUT_SEED + 21, 8, (1.5, 3.0), (2, 6), max_chars=36)


def cli(*args: str | Path) -> tuple[int, str]:
    err = io.StringIO()
    code = cli_run([str(a) for a in args], stderr=err)
    return code, err.getvalue()


def vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return round(int(hours) * 3600 + int(minutes) * 60 + float(seconds), 3)


def listener_cli(*args: str | Path) -> tuple[int, str]:
    return cli(*args, "--model", LISTENER, "--device", "cpu", "--precision", "fp32")


def test_cli_writes_the_spoken_words_in_every_format(spaced_track: Track, tmp_path: Path) -> None:
    import docx
    import srt
    import webvtt

    video = speech.convert(spaced_track.path, tmp_path / "talk.mp4", "mp4", video=True)
    out = tmp_path / "out"
    code, err = listener_cli(video, "-f", "srt,vtt,txt,docx,json", "-o", out, "-q")
    assert code == 0, err
    assert "Traceback" not in err

    # SRT: one cue per sentence, the right words, at the right time, inside the media
    cues = list(srt.parse((out / "talk.srt").read_text(encoding="utf-8")))
    texts = [" ".join(c.content.split()) for c in cues]
    assert len(cues) == len(spaced_track.sentences), texts
    assert wer(spaced_track.sentences, texts) <= WER_BAR, list(
        zip(spaced_track.sentences, texts, strict=True)
    )
    starts = [c.start.total_seconds() for c in cues]
    ends = [c.end.total_seconds() for c in cues]
    late = [
        (i, round(start - onset, 3))
        for i, (start, onset) in enumerate(zip(starts, spaced_track.onsets, strict=True))
        if abs(start - onset) > ONSET_TOLERANCE_S
    ]
    assert not late, late
    assert all(0.0 <= s < e for s, e in zip(starts, ends, strict=True))
    assert all(e1 <= s2 for (_, e1), (s2, _) in pairwise(zip(starts, ends, strict=True)))
    assert ends[-1] <= spaced_track.duration + 0.05

    # VTT: the same cues, to the millisecond
    captions = webvtt.read(str(out / "talk.vtt"))
    assert [" ".join(c.text.split()) for c in captions] == texts
    assert [vtt_seconds(c.start) for c in captions] == [round(s, 3) for s in starts]

    # TXT, DOCX and JSON carry the same words in the same order
    all_words = words_of(" ".join(texts))
    assert words_of((out / "talk.txt").read_text(encoding="utf-8")) == all_words
    paragraphs = docx.Document(str(out / "talk.docx")).paragraphs
    assert paragraphs[0].style.name == "Title"  # then a line about the source, then the text
    assert words_of(" ".join(p.text for p in paragraphs[2:])) == all_words
    data = json.loads((out / "talk.json").read_text(encoding="utf-8"))
    assert [words_of(s["text"]) for s in data["segments"]] == [words_of(t) for t in texts]
    assert [round(s["start"], 3) for s in data["segments"]] == [round(s, 3) for s in starts]


def test_truncated_file_gives_the_words_before_the_cut(spaced_track: Track, tmp_path: Path) -> None:
    """A download cut short: every sentence before the cut comes back, nothing after it."""
    whole = speech.convert(spaced_track.path, tmp_path / "whole.mp3", "mp3")
    cut = speech.truncate_file(whole, tmp_path / "cut.mp3", 0.6)
    # Cut at pauses, so that each sentence before the cut is its own chunk. Packed, the
    # third sentence's last word is on the edge of the listener's skill ("right right"),
    # and with one torch thread or two it sometimes moves into the next sentence's cue.
    code, err = listener_cli(cut, "-f", "json", "-o", tmp_path / "out", "--pack", "off")
    assert code == 0, err
    assert "warning" in err.lower() and "Traceback" not in err
    segments = json.loads((tmp_path / "out" / "cut.json").read_text(encoding="utf-8"))["segments"]
    # constant bit rate: 60 % of the bytes is about 60 % of the time
    cut_s = 0.6 * spaced_track.duration
    pairs = zip(spaced_track.sentences, spaced_track.ends, strict=True)
    complete = [sentence for sentence, end in pairs if end < cut_s - 0.5]
    after = [o for o in spaced_track.onsets if o > cut_s + 0.5]
    assert len(complete) >= 3 and after
    texts = [s["text"] for s in segments]
    assert len(complete) <= len(segments) <= len(complete) + 1, texts
    got = texts[: len(complete)]
    assert wer(complete, got) <= WER_BAR, list(zip(complete, got, strict=True))
    assert segments[-1]["end"] <= cut_s + 0.5


def test_batches_give_the_same_words_as_one_at_a_time(spaced_track: Track) -> None:
    """Chunks of different lengths decoded in one batch come back exactly as decoded alone."""

    def chunk_texts(batch_size: int) -> tuple[list[str], int]:
        options = EngineOptions(
            model=str(LISTENER), device="cpu", dtype="fp32", batch_size=batch_size
        )
        engine = Engine(options)
        try:
            events = list(transcribe_file(spaced_track.path, engine))
        finally:
            engine.unload()
        assert isinstance(events[-1], Finished)
        found = next(e for e in events if isinstance(e, SpeechFound))
        done = sorted((e for e in events if isinstance(e, ChunkTranscribed)), key=lambda e: e.index)
        return [e.text for e in done], found.chunks

    alone, chunks = chunk_texts(1)
    together, _ = chunk_texts(8)
    assert chunks == len(spaced_track.sentences)
    assert together == alone
    assert wer(spaced_track.sentences, together) <= WER_BAR, together
