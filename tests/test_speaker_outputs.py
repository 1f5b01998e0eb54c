"""Speakers in the transcript model, its edits and every export format (read back)."""

from __future__ import annotations

import io
import json
import re

import docx
import pytest
import srt
import webvtt

from app.core.export.exporters import ExportOptions, export_bytes
from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.cues import CueOptions
from app.core.transcript.edits import (
    Merge,
    RenameSpeaker,
    SetSpeaker,
    SetText,
    SetTimes,
    Split,
    speakers_of,
)
from app.core.transcript.model import EditError

NAME = re.compile(r"^(Speaker \d+|[A-Z][a-z]+): ")


@pytest.fixture
def interview() -> Transcript:
    segments = [
        Segment(0.0, 2.0, "Welcome to the show.", "Speaker 1"),
        Segment(2.0, 4.5, "Today we talk about rivers.", "Speaker 1"),
        Segment(5.0, 7.0, "Thanks for having me.", "Speaker 2"),
        Segment(7.5, 9.0, "Rivers are my life.", "Speaker 2"),
        Segment(9.5, 11.0, "Tell us more.", "Speaker 1"),
        Segment(11.5, 13.0, "Gladly, I will.", "Ana"),
    ]
    return Transcript(segments, TranscriptMeta(source="/media/show.wav", duration=14.0))


def expected(transcript: Transcript) -> list[tuple[str, str | None]]:
    return [(s.text, s.speaker) for s in transcript.segments]


def carry_names(texts: list[str]) -> list[tuple[str, str | None]]:
    """(text, speaker) from "Name: text" pieces where a name starts only a new speaker."""
    out: list[tuple[str, str | None]] = []
    current = None
    for text in texts:
        m = NAME.match(text)
        if m:
            current, text = m.group(1), text[m.end() :]
        out.append((text, current))
    return out


def test_srt_names_a_cue_where_the_speaker_changes(interview: Transcript) -> None:
    cues = list(srt.parse(export_bytes(interview, "srt").decode()))
    texts = [c.content.replace("\n", " ") for c in cues]
    assert carry_names(texts) == expected(interview)
    assert [bool(NAME.match(t)) for t in texts] == [True, False, True, False, True, True]


def test_vtt_voice_tags(interview: Transcript) -> None:
    captions = webvtt.from_buffer(io.StringIO(export_bytes(interview, "vtt").decode())).captions
    got = [(c.text.replace("\n", " "), c.voice) for c in captions]
    assert got == expected(interview)


def test_txt_paragraph_per_speaker_turn(interview: Transcript) -> None:
    text = export_bytes(interview, "txt").decode()
    paragraphs = text.strip().split("\n\n")
    assert paragraphs == [
        "Speaker 1: Welcome to the show. Today we talk about rivers.",
        "Speaker 2: Thanks for having me. Rivers are my life.",
        "Speaker 1: Tell us more.",
        "Ana: Gladly, I will.",
    ]
    stamped = export_bytes(interview, "txt", ExportOptions(timestamps=True)).decode()
    lines = [line.split("] ", 1)[1] for line in stamped.splitlines()]
    assert carry_names(lines) == expected(interview)


def test_docx_paragraph_per_speaker_turn_with_bold_name(interview: Transcript) -> None:
    document = docx.Document(io.BytesIO(export_bytes(interview, "docx")))
    body = document.paragraphs[2:]  # after the title and the info lines
    assert [p.text for p in body] == [
        "Speaker 1: Welcome to the show. Today we talk about rivers.",
        "Speaker 2: Thanks for having me. Rivers are my life.",
        "Speaker 1: Tell us more.",
        "Ana: Gladly, I will.",
    ]
    assert all(p.runs[0].bold and NAME.match(p.runs[0].text) for p in body)


def test_json_round_trip(interview: Transcript) -> None:
    data = json.loads(export_bytes(interview, "json"))
    assert [s["speaker"] for s in data["segments"]] == [s.speaker for s in interview.segments]
    assert Transcript.from_dict(data).segments == interview.segments
    assert Transcript.from_dict(interview.to_dict()).segments == interview.segments


def test_speaker_names_switched_off(interview: Transcript) -> None:
    off = ExportOptions(speakers=False)
    for fmt in ("srt", "vtt", "txt"):
        text = export_bytes(interview, fmt, off).decode()
        assert "Speaker" not in text and "Ana" not in text
    assert "speaker" not in json.loads(export_bytes(interview, "json", off))["segments"][0]
    document = docx.Document(io.BytesIO(export_bytes(interview, "docx", off)))
    assert not any("Speaker" in p.text for p in document.paragraphs)


def test_reshaped_cues_keep_their_speaker() -> None:
    long = "word " * 40
    t = Transcript(
        [Segment(0.0, 20.0, long.strip(), "Speaker 1"), Segment(21.0, 23.0, "Yes.", "Speaker 2")]
    )
    cues = webvtt.from_buffer(
        io.StringIO(export_bytes(t, "vtt", ExportOptions(cues=CueOptions())).decode())
    ).captions
    assert len(cues) > 2
    assert [c.voice for c in cues] == ["Speaker 1"] * (len(cues) - 1) + ["Speaker 2"]


def test_without_speakers_files_are_unchanged() -> None:
    t = Transcript([Segment(0.0, 1.0, "Hello.")])
    assert "speaker" not in t.to_dict()["segments"][0]
    assert "speaker" not in json.loads(export_bytes(t, "json"))["segments"][0]
    assert "<v" not in export_bytes(t, "vtt").decode()
    assert (
        Transcript.from_dict({"segments": [{"start": 0, "end": 1, "text": "a"}]})[0].speaker is None
    )


# ---------------------------------------------------------------------------- edits


def test_edits_keep_the_speaker(interview: Transcript) -> None:
    interview.apply(SetText(0, "Welcome, everyone."))
    interview.apply(SetTimes(1, 2.1, 4.4))
    interview.apply(Split(2, 7))
    assert [s.speaker for s in interview.segments[:4]] == ["Speaker 1"] * 2 + ["Speaker 2"] * 2
    interview.apply(Merge(2))
    assert interview[2].speaker == "Speaker 2"


def test_rename_everywhere_and_undo(interview: Transcript) -> None:
    before = interview.segments
    undo = interview.apply(RenameSpeaker("Speaker 2", "Maria"))
    assert [s.speaker for s in interview.segments].count("Maria") == 2
    assert "Speaker 2" not in speakers_of(interview)
    assert "Maria: Thanks for having me." in export_bytes(interview, "txt").decode()
    redo = interview.apply(undo)
    assert interview.segments == before
    interview.apply(redo)
    assert speakers_of(interview) == ["Speaker 1", "Maria", "Ana"]
    # renaming to an existing name merges the two speakers
    interview.apply(RenameSpeaker("Ana", "Speaker 1"))
    assert speakers_of(interview) == ["Speaker 1", "Maria"]
    with pytest.raises(EditError):
        interview.apply(RenameSpeaker("Nobody", "X"))
    with pytest.raises(EditError):
        interview.apply(RenameSpeaker("Maria", "  "))


def test_set_speaker_of_selected_rows_and_undo(interview: Transcript) -> None:
    before = interview.segments
    undo = interview.apply(SetSpeaker((0, 4), "Host"))
    assert [s.speaker for s in interview.segments][0::4] == ["Host", "Host"]
    interview.apply(undo)
    assert interview.segments == before
