"""Exporters: each format parses back with its own library; writes are atomic."""

from __future__ import annotations

import dataclasses
import errno
import html
import io
import json
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import srt
import webvtt

from app.core import atomic
from app.core.errors import ExportError
from app.core.export.exporters import (
    FORMATS,
    ExportOptions,
    default_export_path,
    export,
    export_bytes,
    format_timestamp,
    normalize_format,
    paragraphs,
    render_docx,
    render_json,
    render_srt,
    render_txt,
    render_vtt,
)
from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.cues import CueOptions

SEGMENTS = [
    Segment(0.5, 2.25, "Hello and welcome to the show."),
    Segment(2.5, 6.0, "Today we talk about subtitles, timing and why both matter so much."),
    Segment(9.0, 11.333, "第二部分：我们用中文说几句话，看看字幕是否正确。"),
    Segment(3700.0, 3702.5, "Ça marche très bien, «merci» & <bye>!"),
]
META = TranscriptMeta(
    source="/media/videos/My Talk 2026.mp4",
    duration=3710.0,
    model="GLM-ASR-Nano-2512",
    device="CPU, bf16",
    created="2026-11-25T09:30:00+00:00",
    processing_seconds=42.5,
    speech_seconds=12.0,
)


@dataclass
class StandIn:
    """Any object with ``segments`` and ``meta`` can be exported."""

    segments: list[Segment]
    meta: TranscriptMeta = field(default_factory=TranscriptMeta)


@pytest.fixture
def transcript() -> Transcript:
    return Transcript(SEGMENTS, META)


def seconds(value: timedelta) -> float:
    return value.total_seconds()


def test_timestamps() -> None:
    assert format_timestamp(3723.4567, separator=",") == "01:02:03,457"
    assert format_timestamp(0.0) == "00:00:00.000"
    assert format_timestamp(-1.0) == "00:00:00.000"
    assert format_timestamp(62.9, millis=False) == "00:01:02"
    assert format_timestamp(360000.0) == "100:00:00.000"


def test_format_names() -> None:
    assert normalize_format(".SRT") == "srt"
    assert normalize_format("WebVTT") == "vtt"
    with pytest.raises(ExportError, match="Unknown export format"):
        normalize_format("pdf")


def test_srt_parses_back_with_same_texts_and_times(transcript: Transcript) -> None:
    content = render_srt(transcript)
    cues = list(srt.parse(content))
    assert len(cues) == len(SEGMENTS)
    assert [cue.content.split("\n") for cue in cues] == [
        ["Hello and welcome to the show."],
        ["Today we talk about subtitles,", "timing and why both matter so much."],
        ["第二部分：我们用中文说几句话，", "看看字幕是否正确。"],
        ["Ça marche très bien, «merci» & <bye>!"],
    ]
    for cue, seg in zip(cues, SEGMENTS, strict=True):
        assert seconds(cue.start) == pytest.approx(seg.start, abs=5e-4)
        assert seconds(cue.end) == pytest.approx(seg.end, abs=5e-4)
    assert [c.index for c in cues] == [1, 2, 3, 4]
    assert re.search(r"^00:00:09,000 --> 00:00:11,333$", content, re.M)


VTT_LINES = [
    ["Hello and welcome to the show."],
    ["Today we talk about subtitles,", "timing and why both matter so much."],
    ["第二部分：我们用中文说几句话，", "看看字幕是否正确。"],
    ["Ça marche très bien, «merci» & <bye>!"],
]


def test_vtt_parses_back_with_same_texts_and_times(transcript: Transcript) -> None:
    content = render_vtt(transcript)
    assert content.startswith("WEBVTT\n\n")
    captions = list(webvtt.from_buffer(io.StringIO(content)))
    assert len(captions) == len(SEGMENTS)
    texts: list[list[str]] = []
    for caption, seg in zip(captions, SEGMENTS, strict=True):
        lines = [html.unescape(line) for line in caption.text.split("\n")]
        assert lines == VTT_LINES[len(texts)]
        texts.append(lines)
        assert caption.start_in_seconds + caption.start_time.milliseconds / 1000 == pytest.approx(
            seg.start, abs=5e-4
        )
        assert caption.end_in_seconds + caption.end_time.milliseconds / 1000 == pytest.approx(
            seg.end, abs=5e-4
        )
    assert "&lt;bye&gt;" in content and "<bye>" not in content


def test_subtitles_reshaped_to_cue_options(transcript: Transcript) -> None:
    options = ExportOptions(cues=CueOptions(max_chars_latin=20, max_chars_cjk=8, max_lines=1))
    cues = list(srt.parse(render_srt(transcript, options)))
    assert len(cues) > len(SEGMENTS)
    previous_end = 0.0
    for cue in cues:
        assert "\n" not in cue.content
        limit = 8 if re.search(r"[\u4e00-\u9fff]", cue.content) else 20
        assert len(cue.content) <= limit
        assert seconds(cue.start) >= previous_end - 1e-6
        assert seconds(cue.end) <= META.duration
        previous_end = seconds(cue.end)
    joined = "".join("".join(c.content.split()) for c in cues)
    assert joined == "".join("".join(s.text.split()) for s in SEGMENTS)


def test_txt_paragraphs_break_at_pauses_and_sentence_counts() -> None:
    segments = [
        Segment(0.0, 1.0, "One."),
        Segment(1.2, 2.0, "Two."),
        Segment(2.1, 3.0, "Three."),
        Segment(6.0, 7.0, "After a pause."),
        Segment(7.1, 8.0, "好的。"),
        Segment(8.1, 9.0, "我们继续。"),
    ]
    groups = paragraphs(segments, gap_s=2.0, sentences=2)
    assert [[s.text for s in g] for g in groups] == [
        ["One.", "Two."],
        ["Three."],
        ["After a pause.", "好的。"],
        ["我们继续。"],
    ]
    text = render_txt(StandIn(segments), ExportOptions(paragraph_sentences=10))
    # no space is added next to a Chinese character (issue #17)
    assert text == "One. Two. Three.\n\nAfter a pause.好的。我们继续。\n"


def test_txt_with_timestamps(transcript: Transcript) -> None:
    lines = render_txt(transcript, ExportOptions(timestamps=True)).splitlines()
    assert lines[0] == "[00:00:00] Hello and welcome to the show."
    assert lines[3] == "[01:01:40] Ça marche très bien, «merci» & <bye>!"
    assert all(re.match(r"^\[\d\d:\d\d:\d\d\] \S", line) for line in lines)


def test_docx_opens_and_contains_everything(tmp_path: Path, transcript: Transcript) -> None:
    docx = pytest.importorskip("docx")
    path = export(transcript, "docx", tmp_path / "out.docx", ExportOptions(timestamps=True))
    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    body = "\n".join(texts)
    assert texts[0] == "My Talk 2026"
    assert "My Talk 2026.mp4" in body
    assert "2026-11-25" in body
    assert "GLM-ASR-Nano-2512" in body and "CPU, bf16" in body
    for seg in SEGMENTS:
        assert seg.text in body
    assert "[01:01:40] Ça marche" in body
    plain = docx.Document(io.BytesIO(export_bytes(transcript, "docx")))
    assert "Hello and welcome to the show. Today we talk" in "\n".join(
        p.text for p in plain.paragraphs
    )


def test_docx_survives_control_characters() -> None:
    docx = pytest.importorskip("docx")
    data = export_bytes(StandIn([Segment(0, 1, "bad\x00char\x1b here")]), "docx")
    assert "badchar here" in "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


def test_json_round_trips(transcript: Transcript) -> None:
    data = json.loads(render_json(transcript))
    assert data["murmur_version"]
    assert data["source"] == META.source
    assert data["duration"] == META.duration
    assert data["model"] == META.model and data["device"] == META.device
    assert data["created"] == META.created
    assert data["processing_seconds"] == META.processing_seconds
    assert [s["id"] for s in data["segments"]] == [0, 1, 2, 3]
    assert [Segment(s["start"], s["end"], s["text"]) for s in data["segments"]] == SEGMENTS
    assert "第二部分" in render_json(transcript)  # ensure_ascii=False
    again = Transcript.from_dict(data)
    assert list(again.segments) == SEGMENTS
    assert again.meta == META


def test_stand_in_object_exports_every_format(tmp_path: Path) -> None:
    stand_in = StandIn([Segment(0.0, 1.5, "Just one line.")])
    for fmt in FORMATS:
        path = export(stand_in, fmt, tmp_path / f"x.{fmt}")
        assert path.stat().st_size > 0


def test_unicode_path_with_spaces(tmp_path: Path, transcript: Transcript) -> None:
    folder = tmp_path / "Ünïcode folder 字幕"
    folder.mkdir()
    for fmt in FORMATS:
        path = export(transcript, fmt, folder / f"my film ✓.{fmt}")
        assert path.exists()
    content = (folder / "my film ✓.srt").read_text(encoding="utf-8")
    assert "第二部分" in content
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"my film ✓.{f}" for f in FORMATS)


def test_default_export_path(tmp_path: Path) -> None:
    media = tmp_path / "clips" / "Interview 01.final.mkv"
    assert default_export_path(media, "SRT") == tmp_path / "clips" / "Interview 01.final.srt"
    assert default_export_path(str(media), "json", tmp_path / "out") == (
        tmp_path / "out" / "Interview 01.final.json"
    )


def assert_clean_failure(
    folder: Path, expected_files: list[str], info: pytest.ExceptionInfo
) -> None:
    message = str(info.value)
    assert "\n" not in message and message
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected_files)


def test_failed_replace_leaves_nothing(
    tmp_path: Path, transcript: Transcript, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", denied)
    with pytest.raises(ExportError, match="permission denied") as info:
        export(transcript, "srt", tmp_path / "out.srt")
    assert_clean_failure(tmp_path, [], info)


def test_disk_full_keeps_the_old_file(
    tmp_path: Path, transcript: Transcript, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.vtt"
    target.write_text("previous export")

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(ExportError, match="disk is full") as info:
        export(transcript, "vtt", target)
    assert_clean_failure(tmp_path, ["out.vtt"], info)
    assert target.read_text() == "previous export"


def test_missing_folder_and_folder_as_target(tmp_path: Path, transcript: Transcript) -> None:
    with pytest.raises(ExportError, match="does not exist") as info:
        export(transcript, "txt", tmp_path / "missing" / "out.txt")
    assert_clean_failure(tmp_path, [], info)
    (tmp_path / "taken.json").mkdir()
    with pytest.raises(ExportError, match="folder") as info:
        export(transcript, "json", tmp_path / "taken.json")
    assert_clean_failure(tmp_path, ["taken.json"], info)


def test_unwritable_folder_via_open(
    tmp_path: Path, transcript: Transcript, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def read_only(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args)

    monkeypatch.setattr(atomic.os, "open", read_only)
    with pytest.raises(ExportError, match="read-only") as info:
        export(transcript, "docx", tmp_path / "out.docx")
    assert_clean_failure(tmp_path, [], info)


def test_bad_export_options_are_refused() -> None:
    with pytest.raises(ExportError):
        ExportOptions(paragraph_sentences=0)
    with pytest.raises(ExportError):
        ExportOptions(paragraph_gap_s=-1.0)


# --------------------------------------------------------------------------- written out


def test_json_word_for_word(transcript: Transcript) -> None:
    from app import __version__

    meta = {
        "source": "/media/videos/My Talk 2026.mp4",
        "duration": 3710.0,
        "model": "GLM-ASR-Nano-2512",
        "device": "CPU, bf16",
        "created": "2026-11-25T09:30:00+00:00",
        "processing_seconds": 42.5,
        "speech_seconds": 12.0,
    }
    segments = [
        {"id": 0, "start": 0.5, "end": 2.25, "text": "Hello and welcome to the show."},
        {
            "id": 1,
            "start": 2.5,
            "end": 6.0,
            "text": "Today we talk about subtitles, timing and why both matter so much.",
        },
        {
            "id": 2,
            "start": 9.0,
            "end": 11.333,
            "text": "第二部分：我们用中文说几句话，看看字幕是否正确。",
        },
        {"id": 3, "start": 3700.0, "end": 3702.5, "text": "Ça marche très bien, «merci» & <bye>!"},
    ]
    content = render_json(transcript)
    assert content.endswith("}\n") and '"text": "第二部分' in content  # UTF-8, not \\u escapes
    assert content.startswith('{\n  "murmur_version": ')  # indented by 2
    assert json.loads(content) == {
        "murmur_version": __version__,
        **meta,
        "version": 1,
        "meta": meta,
        "segments": segments,
    }
    rounded = render_json(StandIn([Segment(1.23456, 2.34567, "x")], META))
    assert json.loads(rounded)["segments"][0] == {
        "id": 0,
        "start": 1.235,
        "end": 2.346,
        "text": "x",
    }


def test_txt_word_for_word(transcript: Transcript) -> None:
    assert render_txt(transcript) == (
        "Hello and welcome to the show. Today we talk about subtitles, timing and why both "
        "matter so much.\n\n第二部分：我们用中文说几句话，看看字幕是否正确。\n\n"
        "Ça marche très bien, «merci» & <bye>!\n"
    )
    assert render_txt(transcript, ExportOptions(timestamps=True)) == (
        "[00:00:00] Hello and welcome to the show.\n"
        "[00:00:02] Today we talk about subtitles, timing and why both matter so much.\n"
        "[00:00:09] 第二部分：我们用中文说几句话，看看字幕是否正确。\n"
        "[01:01:40] Ça marche très bien, «merci» & <bye>!\n"
    )
    assert render_txt(StandIn([], META)) == ""


def test_vtt_word_for_word(transcript: Transcript) -> None:
    assert render_vtt(transcript) == (
        "WEBVTT\n\n"
        "00:00:00.500 --> 00:00:02.250\nHello and welcome to the show.\n\n"
        "00:00:02.500 --> 00:00:06.000\nToday we talk about subtitles,\n"
        "timing and why both matter so much.\n\n"
        "00:00:09.000 --> 00:00:11.333\n第二部分：我们用中文说几句话，\n看看字幕是否正确。\n\n"
        "01:01:40.000 --> 01:01:42.500\nÇa marche très bien, «merci» &amp; &lt;bye&gt;!\n"
    )


def test_docx_word_for_word(transcript: Transcript) -> None:
    import docx

    document = docx.Document(io.BytesIO(render_docx(transcript)))
    assert [p.text for p in document.paragraphs] == [
        "My Talk 2026",
        "Source: My Talk 2026.mp4\nDate: 2026-11-25 09:30\n"
        "Model: GLM-ASR-Nano-2512 · CPU, bf16\nDuration: 01:01:50",
        "Hello and welcome to the show. Today we talk about subtitles, timing and why both "
        "matter so much.",
        "第二部分：我们用中文说几句话，看看字幕是否正确。",
        "Ça marche très bien, «merci» & <bye>!",
    ]
    assert document.core_properties.title == "My Talk 2026"
    assert document.core_properties.author == "Murmur"

    bare = TranscriptMeta(source="", created="2026-11-25T09:30:00Z", model="m")
    timed = docx.Document(
        io.BytesIO(render_docx(StandIn(SEGMENTS[:2], bare), ExportOptions(timestamps=True)))
    )
    assert [p.text for p in timed.paragraphs] == [
        "Transcript",
        "Date: 2026-11-25 09:30\nModel: m",
        "[00:00:00] Hello and welcome to the show.",
        "[00:00:02] Today we talk about subtitles, timing and why both matter so much.",
    ]
    titled = docx.Document(io.BytesIO(render_docx(transcript, ExportOptions(title="Talk"))))
    assert titled.paragraphs[0].text == "Talk"


def test_subtitles_end_at_the_media_end() -> None:
    """Reshaped cues (cue options given) never run past the media's duration."""
    options = ExportOptions(cues=CueOptions())
    late = [Segment(8.0, 12.0, "Past the end.")]
    content = render_srt(StandIn(late, TranscriptMeta(duration=10.0)), options)
    assert "00:00:08,000 --> 00:00:10,000" in content
    unknown = render_srt(StandIn(late, TranscriptMeta()), options)
    assert "00:00:08,000 --> 00:00:12,000" in unknown


def test_paragraphs_by_pause_and_sentence_count() -> None:
    def seg(start: float, text: str) -> Segment:
        return Segment(start, start + 1.0, text)

    # a pause of exactly 2.0 s keeps the paragraph; a longer one starts a new one
    kept = [seg(0.0, "One."), seg(3.0, "Two.")]
    assert render_txt(StandIn(kept, META)) == "One. Two.\n"
    split = [seg(0.0, "One."), seg(3.01, "Two.")]
    assert render_txt(StandIn(split, META)) == "One.\n\nTwo.\n"
    # six sentences make a paragraph (the seventh starts the next); 。 counts once each
    seven = [seg(float(i), f"S{i}.") for i in range(7)]
    assert render_txt(StandIn(seven, META)) == "S0. S1. S2. S3. S4. S5.\n\nS6.\n"
    wide = [seg(0.0, "一。二。三。"), seg(1.0, "四。五。六。"), seg(2.0, "七。")]
    assert render_txt(StandIn(wide, META)) == "一。二。三。四。五。六。\n\n七。\n"
    # a quote after the full stop still ends the sentence; an abbreviation alone does not
    quoted = [seg(float(i), f"“S{i}.”") for i in range(7)]
    assert render_txt(StandIn(quoted, META)).count("\n\n") == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"paragraph_gap_s": -1.0}, "paragraph_gap_s must be a number of seconds >= 0, not -1.0"),
        ({"paragraph_gap_s": True}, "paragraph_gap_s must be a number of seconds >= 0, not True"),
        ({"paragraph_gap_s": "2"}, "paragraph_gap_s must be a number of seconds >= 0, not '2'"),
        ({"paragraph_sentences": 0}, "paragraph_sentences must be a whole number >= 1, not 0"),
        ({"paragraph_sentences": 1.5}, "paragraph_sentences must be a whole number >= 1, not 1.5"),
        (
            {"paragraph_sentences": True},
            "paragraph_sentences must be a whole number >= 1, not True",
        ),
    ],
)
def test_bad_export_options_say_which_and_why(options: dict, message: str) -> None:
    with pytest.raises(ExportError) as info:
        ExportOptions(**options)
    assert str(info.value) == message


def test_edge_values_of_export_options_are_accepted() -> None:
    assert ExportOptions(paragraph_gap_s=0, paragraph_sentences=1).paragraph_sentences == 1
    assert ExportOptions(paragraph_gap_s=0.5).paragraph_gap_s == 0.5


def test_unknown_format_lists_the_choices() -> None:
    with pytest.raises(ExportError) as info:
        normalize_format("pdf")
    assert str(info.value).endswith("srt, vtt, txt, docx or json")
    assert normalize_format("..Json ") == "json"


def test_a_paragraph_never_ends_mid_sentence() -> None:
    """Six sentences are reached inside a segment that ends mid-sentence: the paragraph
    goes on to the end of that sentence."""
    segs = [Segment(0.0, 4.0, "A. B. C. D. E. F. And so"), Segment(4.1, 5.0, "on. G.")]
    assert render_txt(StandIn(segs, META)) == "A. B. C. D. E. F. And so on. G.\n"
    quoted = [Segment(0.0, 4.0, "A. B. C. D. E. «F.»"), Segment(4.1, 5.0, "G.")]
    assert render_txt(StandIn(quoted, META)) == "A. B. C. D. E. «F.»\n\nG.\n"


def test_export_to_a_file_follows_the_options(transcript: Transcript, tmp_path: Path) -> None:
    target = export(transcript, "txt", tmp_path / "t.txt", ExportOptions(timestamps=True))
    assert target.read_text(encoding="utf-8").startswith("[00:00:00] Hello and welcome")


def test_a_media_path_without_a_name_is_refused() -> None:
    with pytest.raises(ExportError) as info:
        default_export_path("/", "srt")
    assert str(info.value) == "Can't name an export after '/'"


def test_times_that_are_not_numbers_are_written_as_zero() -> None:
    assert format_timestamp(float("nan"), separator=",") == "00:00:00,000"
    assert format_timestamp(float("inf")) == "00:00:00.000"
    assert format_timestamp(float("-inf"), millis=False) == "00:00:00"


def test_cue_lines_are_wrapped_to_the_cue_options() -> None:
    hello = [Segment(0.0, 2.0, "Hello and welcome to the show.")]
    narrow = ExportOptions(cues=CueOptions(max_chars_latin=20, max_lines=2))
    assert render_srt(StandIn(hello), narrow) == (
        "1\n00:00:00,000 --> 00:00:02,000\nHello and welcome\nto the show.\n"
    )
    assert render_vtt(StandIn(hello), narrow) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello and welcome\nto the show.\n"
    )
    assert render_srt(StandIn(hello)) == (
        "1\n00:00:00,000 --> 00:00:02,000\nHello and welcome to the show.\n"
    )


def test_cues_end_at_a_media_end_under_one_second() -> None:
    short = [Segment(0.2, 1.5, "Hi.")]
    options = ExportOptions(cues=CueOptions(min_duration_s=0.5))
    assert render_srt(StandIn(short, TranscriptMeta(duration=0.8)), options) == (
        "1\n00:00:00,200 --> 00:00:00,800\nHi.\n"
    )


def test_default_paragraphs_break_after_2_s_and_6_sentences() -> None:
    def seg(start: float, text: str) -> Segment:
        return Segment(start, start + 0.5, text)

    paused = [seg(0.0, "One."), seg(3.0, "Two.")]  # a pause of 2.5 s
    assert [[s.text for s in p] for p in paragraphs(paused)] == [["One."], ["Two."]]
    seven = [seg(float(i), f"S{i}.") for i in range(7)]
    assert [len(p) for p in paragraphs(seven)] == [6, 1]


def test_a_segment_ending_in_a_space_still_ends_its_sentence() -> None:
    segs = [Segment(0.0, 1.0, "One. "), Segment(1.1, 2.0, "Two.")]
    assert render_txt(StandIn(segs), ExportOptions(paragraph_sentences=1)) == "One.\n\nTwo.\n"


def test_text_that_utf_8_cannot_hold_is_replaced_not_refused() -> None:
    broken = StandIn([Segment(0.0, 1.0, "a\ud800b")])
    assert export_bytes(broken, "txt") == b"a?b\n"
    assert export_bytes(broken, "srt") == b"1\n00:00:00,000 --> 00:00:01,000\na?b\n"


def test_json_of_a_meta_that_is_not_a_dataclass() -> None:
    fields = dataclasses.asdict(META)
    del fields["speech_seconds"]
    meta = SimpleNamespace(**fields)  # TranscriptMeta's fields but speech_seconds
    data = json.loads(render_json(StandIn([Segment(0.0, 1.0, "Hi.")], meta)))  # type: ignore[arg-type]
    assert data["speech_seconds"] == 0.0
    assert data["meta"] == {}
    assert data["source"] == "/media/videos/My Talk 2026.mp4"
    assert data["processing_seconds"] == 42.5
    assert data["segments"] == [{"id": 0, "start": 0.0, "end": 1.0, "text": "Hi."}]


def test_docx_title_style_and_grey_details(transcript: Transcript) -> None:
    import docx
    from docx.shared import Pt, RGBColor

    document = docx.Document(io.BytesIO(render_docx(transcript)))
    title, info = document.paragraphs[:2]
    assert title.style.name == "Title"
    assert [run.font.size for run in info.runs] == [Pt(9)] * 4
    assert [run.font.color.rgb for run in info.runs] == [RGBColor(0x60, 0x60, 0x60)] * 4
    timed = docx.Document(io.BytesIO(render_docx(transcript, ExportOptions(timestamps=True))))
    stamps = [p.runs[0] for p in timed.paragraphs[2:]]
    assert [run.text for run in stamps] == [
        "[00:00:00] ",
        "[00:00:02] ",
        "[00:00:09] ",
        "[01:01:40] ",
    ]
    assert {run.font.color.rgb for run in stamps} == {RGBColor(0x80, 0x80, 0x80)}


def test_a_long_turn_names_its_speaker_once() -> None:
    turn = [Segment(float(i), i + 0.5, f"S{i}.", "Ana") for i in range(7)]
    turn.append(Segment(7.0, 7.5, "Hi.", "Bo"))
    assert render_txt(StandIn(turn)) == "Ana: S0. S1. S2. S3. S4. S5.\n\nS6.\n\nBo: Hi.\n"


def test_docx_with_timestamps_names_a_new_speaker_in_bold() -> None:
    import docx

    segs = [Segment(0.0, 1.0, "Hi.", "Ana"), Segment(1.0, 2.0, "Yes.", "Ana")]
    segs.append(Segment(2.0, 3.0, "No.", "Bo"))
    document = docx.Document(io.BytesIO(render_docx(StandIn(segs), ExportOptions(timestamps=True))))
    body = document.paragraphs[2:]
    assert [[(r.text, bool(r.bold)) for r in p.runs] for p in body] == [
        [("[00:00:00] ", False), ("Ana: ", True), ("Hi.", False)],
        [("[00:00:01] ", False), ("Yes.", False)],
        [("[00:00:02] ", False), ("Bo: ", True), ("No.", False)],
    ]
