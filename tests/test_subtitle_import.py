"""Reading SRT and WebVTT files made elsewhere, and the export -> import round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import MurmurError
from app.core.export.exporters import render_srt, render_vtt
from app.core.subtitles import (
    MAX_SRT_SPEAKERS,
    SubtitleError,
    parse_srt,
    parse_subtitles,
    parse_vtt,
    read_subtitles,
)
from app.core.transcript import Segment, Transcript, TranscriptMeta

S = Segment

SRT = (
    "\ufeff1\r\n"
    "00:00:01,000 --> 00:00:02,500\r\n"
    "<i>Hello</i> <b>there</b>,\r\n"
    '<font color="#ff0000">general</font> Kenobi.\r\n'
    "\r\n"
    "2\r\n"
    "00:00:03.5 --> 00:00:04,25 X1:100 X2:200 Y1:10 Y2:20\r\n"
    "{\\an8}On top\r\n"
    "\r\n"
    "00:01:00,000 --> 01:00:00,000\r\n"
    "No number, and a blank line\r\n"
    "\r\n"
    "inside the text.\r\n"
)


def test_srt_with_bom_crlf_tags_and_loose_times() -> None:
    assert parse_srt(SRT) == [
        S(1.0, 2.5, "Hello there, general Kenobi."),
        S(3.5, 4.25, "On top"),
        S(60.0, 3600.0, "No number, and a blank line inside the text."),
    ]


VTT = """WEBVTT - made elsewhere
Kind: captions
Language: en

NOTE This is a comment
that spans two lines

STYLE
::cue { color: yellow }

REGION
id:fred width:40%

intro
00:01.000 --> 00:02.500 align:start position:10%
<v Ann>Hello &amp; welcome</v>
to the <c.loud>show</c>.

00:00:03.000 --> 00:00:04.000
<v.first.loud Bob Smith>Fish &lt; chips&nbsp;now.

2
1:00:05.123 --> 1:00:06.000 line:0
<00:00:05.500>Karaoke <i>time</i>
"""


def test_vtt_with_header_note_style_region_ids_settings_and_voices() -> None:
    assert parse_vtt(VTT) == [
        S(1.0, 2.5, "Hello & welcome to the show.", "Ann"),
        S(3.0, 4.0, "Fish < chips now.", "Bob Smith"),  # a no-break space is a space
        S(3605.123, 3606.0, "Karaoke time"),
    ]


def test_cues_are_sorted_by_start_and_empty_cues_kept() -> None:
    text = "1\n00:00:05,000 --> 00:00:06,000\nLater\n\n2\n00:00:01,000 --> 00:00:02,000\n\n"
    assert parse_srt(text) == [S(1.0, 2.0, ""), S(5.0, 6.0, "Later")]


def test_format_told_by_content() -> None:
    assert parse_subtitles("WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n") == [S(1.0, 2.0, "Hi")]
    assert parse_subtitles("1\n00:00:01,000 --> 00:00:02,000\nHi\n") == [S(1.0, 2.0, "Hi")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1\n00:00:01,000 -> 00:00:02,000\nHi\n",
            "line 2: cue 1 has no time line (00:00:01,000 --> 00:00:02,000): "
            "found '00:00:01,000 -> 00:00:02,000'",
        ),
        ("Hello there\n", "line 1: expected a cue number or a time line, found 'Hello there'"),
        (
            "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:03,000 --> 00:00:02,000\nB\n",
            "line 6: the cue ends before it starts: '00:00:03,000 --> 00:00:02,000'",
        ),
        (
            "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:61,000 --> 00:01:02,000\nB\n",
            "line 6: minutes and seconds must be below 60 in '00:00:61,000'",
        ),
        (
            "1\n00:00:01,000 --> 00:00:0x,000\nA\n",
            "line 2: not a time line: '00:00:01,000 --> 00:00:0x,000' "
            "(use 00:00:01,000 --> 00:00:02,000)",
        ),
    ],
)
def test_malformed_srt_names_the_line(text: str, message: str) -> None:
    with pytest.raises(SubtitleError) as info:
        parse_srt(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\n00:01.000 --> 00:02.000\nHi\n", "line 1: a WebVTT file starts with WEBVTT, not '1'"),
        (
            "WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n\njust text\nmore\n",
            "line 7: expected a cue time line (00:01.000 --> 00:02.000), found 'just text'",
        ),
        (
            "WEBVTT\n\nid\n00:01.000 --> 00:02.000\nHi --> there\n",
            "line 5: a cue's text can't hold '-->': 'Hi --> there'",
        ),
        (
            "WEBVTT\n\n00:01.000 --> 00:62.000\nHi\n",
            "line 3: minutes and seconds must be below 60 in '00:62.000'",
        ),
    ],
)
def test_malformed_vtt_names_the_line(text: str, message: str) -> None:
    with pytest.raises(SubtitleError) as info:
        parse_vtt(text)
    assert str(info.value) == message


def test_read_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "movie.srt"
    path.write_bytes(b"1\r\n00:00:01,000 --> 00:00:02,000\r\nHi\r\n\r\n2\r\nnonsense\r\n")
    with pytest.raises(MurmurError) as info:
        read_subtitles(path)
    assert str(info.value) == (
        "movie.srt, line 6: cue 2 has no time line (00:00:01,000 --> 00:00:02,000): "
        "found 'nonsense'"
    )
    assert info.value.line == 6 and "\n" not in str(info.value)
    with pytest.raises(SubtitleError, match=r"^Can't read gone\.vtt: "):
        read_subtitles(tmp_path / "gone.vtt")
    empty = tmp_path / "empty.srt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(SubtitleError, match=r"empty\.srt holds no subtitles"):
        read_subtitles(empty)


def test_read_file_in_windows_1252_and_utf16(tmp_path: Path) -> None:
    old = tmp_path / "old.srt"
    old.write_bytes("1\r\n00:00:01,000 --> 00:00:02,000\r\nCafé – déjà vu\r\n".encode("cp1252"))
    assert read_subtitles(old) == [S(1.0, 2.0, "Café – déjà vu")]
    wide = tmp_path / "wide.vtt"
    wide.write_bytes("WEBVTT\n\n00:01.000 --> 00:02.000\nNaïve\n".encode("utf-16"))
    assert read_subtitles(wide) == [S(1.0, 2.0, "Naïve")]
    misnamed = tmp_path / "web.srt"
    misnamed.write_text("WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n", encoding="utf-8")
    assert read_subtitles(misnamed) == [S(1.0, 2.0, "Hi")]


ROUND_TRIP = [
    S(0.0, 1.5, "Hello world."),
    S(1.5, 4.25, "Fish & chips < 5 pounds, said the sign by the sea shore in the town."),
    S(5.001, 7.999, "我们今天讨论语音识别技术的发展和未来的应用场景"),
    S(3599.5, 3601.25, "Past the hour."),
]


def test_srt_export_then_import_gives_the_same_cues() -> None:
    transcript = Transcript(ROUND_TRIP, TranscriptMeta(duration=4000.0))
    assert "\n" in render_srt(transcript).split("\n\n")[1].split("\n", 2)[2]  # a wrapped cue
    assert parse_srt(render_srt(transcript)) == ROUND_TRIP


def test_vtt_export_then_import_gives_the_same_cues_and_speakers() -> None:
    cues = [S(s.start, s.end, s.text, f"Speaker {k % 2 + 1}") for k, s in enumerate(ROUND_TRIP)]
    transcript = Transcript(cues, TranscriptMeta(duration=4000.0))
    assert parse_vtt(render_vtt(transcript)) == cues


SPEAKERS = [
    S(0.0, 1.5, "Hello world.", "Speaker 1"),
    S(1.5, 4.25, "Fish & chips < 5 pounds, said the sign by the sea shore.", "Speaker 1"),
    S(4.5, 6.0, "Note: the shop shuts at six.", "Dr. Bob Smith"),
    S(6.0, 7.0, "我们今天讨论语音识别", "张三"),
    S(7.5, 9.0, "Back to me.", "Speaker 1"),
    S(9.0, 10.0, "And again me.", "Speaker 1"),
]


def test_srt_export_with_speakers_then_import_gives_the_same_speakers() -> None:
    text = render_srt(Transcript(SPEAKERS, TranscriptMeta(duration=10.0)))
    assert "\nSpeaker 1: Hello" in text and "Speaker 1: Fish" not in text  # repeats left out
    assert parse_srt(text) == SPEAKERS
    assert parse_subtitles(text) == SPEAKERS


def _srt(*texts: str) -> str:
    return "".join(
        f"{k}\n00:00:{k:02d},000 --> 00:00:{k:02d},900\n{t}\n\n" for k, t in enumerate(texts, 1)
    )


def _speakers_and_texts(*texts: str) -> list[tuple[str | None, str]]:
    return [(s.speaker, s.text) for s in parse_srt(_srt(*texts))]


def test_srt_names_are_read_when_the_first_cue_is_named_and_carried_forward() -> None:
    assert _speakers_and_texts("Ann: Hi.", "How are you?", "Bob: Fine.", "Ann: Good.") == [
        ("Ann", "Hi."),
        ("Ann", "How are you?"),
        ("Bob", "Fine."),
        ("Ann", "Good."),
    ]
    # a second line of a cue is never a name; formatting tags are dropped first
    assert _speakers_and_texts("<i>Ann: Hi,</i>\nNote: this", "Bob: Yes.") == [
        ("Ann", "Hi, Note: this"),
        ("Bob", "Yes."),
    ]


@pytest.mark.parametrize(
    "texts",
    [
        # the first cue has no name: "Note:" further on is text
        ("Welcome back.", "Note: the shop shuts at six.", "Bye."),
        # the same name twice in a row: the exporter never writes that
        ("Note: one.", "Two.", "Note: three."),
        ("Warning: hot.", "Warning: sharp."),
        # not a name: lowercase word, too many words, a digit first, no space after the colon
        ("so this: is text.", "Bob: no."),
        ("The Four Word Name: text.", "Bob: no."),
        ("10:30 the meeting starts.", "Bob: no."),
        ("Ann:no space.", "Bob: no."),
        ("Ann : space before.", "Bob: no."),
        ("Http://example.com is here.",),
        ("Ann: ", "Bob: nothing after Ann."),
    ],
)
def test_srt_word_colon_lines_that_are_not_speakers_stay_text(texts: tuple[str, ...]) -> None:
    expected = [(None, " ".join(t.split())) for t in texts]
    assert _speakers_and_texts(*texts) == expected


def test_srt_with_more_names_than_the_limit_stays_text() -> None:
    names = [f"Name {chr(65 + k)}" for k in range(MAX_SRT_SPEAKERS + 1)]
    texts = [f"{name}: line {k}." for k, name in enumerate(names)]
    assert _speakers_and_texts(*texts) == [(None, t) for t in texts]
    assert _speakers_and_texts(*texts[:-1]) == [
        (name, f"line {k}.") for k, name in enumerate(names[:-1])
    ]


def test_srt_names_follow_file_order_before_sorting() -> None:
    text = (
        "1\n00:00:05,000 --> 00:00:06,000\nAnn: Later.\n\n"
        "2\n00:00:01,000 --> 00:00:02,000\nEarlier.\n\n"
        "3\n00:00:07,000 --> 00:00:08,000\nBob: Last.\n"
    )
    assert parse_srt(text) == [
        S(1.0, 2.0, "Earlier.", "Ann"),
        S(5.0, 6.0, "Later.", "Ann"),
        S(7.0, 8.0, "Last.", "Bob"),
    ]
