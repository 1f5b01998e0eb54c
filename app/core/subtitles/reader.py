"""Read SubRip (.srt) and WebVTT (.vtt) files into transcript segments.

Written here rather than taken from a library because the app needs two things
the common readers (pysubs2, srt, webvtt-py) don't give together: a one-line
error that names the line of a malformed file, and WebVTT voice tags
(``<v Name>``) read as the cue's speaker.

What is accepted: a UTF-8 (or UTF-16) byte-order mark, CRLF or CR line ends,
text in UTF-8 or else Windows-1252; SRT times with a comma or a dot before the
milliseconds (and 1-3 fraction digits), SRT blocks without their number, and a
blank line inside an SRT cue's text; WebVTT's header, NOTE, STYLE and REGION
blocks, cue identifiers, cue settings after the times, and times without
hours. Formatting tags (``<i>``, ``<b>``, ``<u>``, ``<font …>``, ``<c.x>``,
karaoke times, ``{\\an8}``) are dropped, WebVTT character references
(``&amp;``) are decoded, and the lines of a cue are joined into one text (the
exporters wrap it again). Cues come out sorted by start time; overlaps are kept
for the checks to show.

Speakers in SRT. Murmur's SRT export starts a cue with ``Name: `` where the
speaker changes, and leaves the name out of the cues that follow by the same
speaker. :func:`srt_speakers` reads that back, but only where the whole file is
plainly written that way, since "Note: …" or "Warning: …" may be ordinary text:

- a *name prefix* is ``Name: `` (colon, one space, then text) at the very start
  of a cue's text, where the name is 1-3 words and at most 32 characters, starts
  with a letter, holds no colon and no word of it starts with a lowercase letter
  ("Speaker 2", "Ann", "Dr. Bob Smith", "张三"; not "so this", "10:30", "http");
- the file's first cue has a name prefix (the exporter names the first speaker);
- the file holds at most :data:`MAX_SRT_SPEAKERS` different names;
- no two name prefixes in a row (in file order) give the same name, because the
  exporter writes a name only where the speaker changes.

When all hold, every prefix is taken off its cue's text, and each cue gets the
name of the last prefix at or before it. Otherwise no cue gets a speaker and
every text stays as written. A prefix is never looked for past the start of a
cue, so "Note: …" inside a cue's text stays text.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path

from app.core.errors import MurmurError
from app.core.transcript.model import Segment
from app.core.transcript.text import join_texts

SUBTITLE_EXTENSIONS = (".srt", ".vtt")

_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?$")
_TIMING = re.compile(r"^\s*([\d:.,]+)\s*-->\s*([\d:.,]+)(?:\s+.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>", re.IGNORECASE)
_SRT_TAGS = re.compile(r"</?(?:i|b|u|s|font|v|c|lang|ruby|rt)(?:[\s.][^>]*)?>|\{\\[^}]*\}", re.I)
_ANY_TAG = re.compile(r"<[^>]*>")
_VTT_HEADER = re.compile(r"^WEBVTT(?:[ \t].*)?$")
_SKIPPED_BLOCKS = re.compile(r"^(?:NOTE|STYLE|REGION)(?:[ \t].*)?$")
_QUOTE_CHARS = 50
MAX_SRT_SPEAKERS = 10
_NAME_PREFIX = re.compile(r"^([^\W\d_][^:\n]{0,31}?): (?=\S)")
_NAME_WORDS = 3


class SubtitleError(MurmurError, ValueError):
    """A subtitle file can't be read; ``str()`` names the file and the line."""

    def __init__(self, message: str, line: int | None = None, name: str = "") -> None:
        where = ", ".join(x for x in (name, f"line {line}" if line else "") if x)
        super().__init__(f"{where}: {message}" if where else message)
        self.reason = message
        self.line = line
        self.name = name


def _quote(text: str) -> str:
    text = text.strip()
    if len(text) > _QUOTE_CHARS:
        text = text[: _QUOTE_CHARS - 1] + "…"
    return repr(text)


def decode(data: bytes) -> str:
    """Text of a subtitle file: BOM honoured, UTF-8 else Windows-1252, new lines as ``\\n``."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _seconds(stamp: str, line: int) -> float:
    match = _TIME.match(stamp)
    if match is None:
        raise SubtitleError(f"not a time: {_quote(stamp)} (use 00:00:01,000)", line)
    hours, minutes, seconds, fraction = match.groups()
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise SubtitleError(f"minutes and seconds must be below 60 in {_quote(stamp)}", line)
    millis = int((fraction or "0").ljust(3, "0"))
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + millis / 1000


def _times(text: str, line: int) -> tuple[float, float]:
    match = _TIMING.match(text)
    if match is None:
        raise SubtitleError(
            f"not a time line: {_quote(text)} (use 00:00:01,000 --> 00:00:02,000)", line
        )
    start, end = _seconds(match.group(1), line), _seconds(match.group(2), line)
    if end < start:
        raise SubtitleError(f"the cue ends before it starts: {_quote(text)}", line)
    return start, end


def _cue(start: float, end: float, lines: list[str], vtt: bool) -> Segment:
    raw = "\n".join(lines)
    voice = _VOICE.search(raw)
    speaker = html.unescape(voice.group(1)).strip() if voice else ""
    text = html.unescape(_ANY_TAG.sub("", raw)) if vtt else _SRT_TAGS.sub("", raw)
    return Segment(start, end, join_texts(text.split("\n")), speaker or None)


def parse_srt(text: str) -> list[Segment]:
    """Cues of SubRip text (see the module doc for what is tolerated)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    cues: list[tuple[float, float, list[str]]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if "-->" not in line:
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if line.isdigit() and "-->" in nxt:
                i += 1
            elif line.isdigit():
                raise SubtitleError(
                    f"cue {line} has no time line (00:00:01,000 --> 00:00:02,000): "
                    f"found {_quote(nxt)}",
                    i + 2,
                )
            elif cues:  # a blank line inside the previous cue's text
                cues[-1][2].append(lines[i])
                i += 1
                continue
            else:
                raise SubtitleError(
                    f"expected a cue number or a time line, found {_quote(line)}", i + 1
                )
        start, end = _times(lines[i], i + 1)
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i])
            i += 1
        cues.append((start, end, body))
    segments = [_cue(s, e, [b for b in body if b.strip()], False) for s, e, body in cues]
    return _sorted(srt_speakers(segments))


def _name_prefix(text: str) -> str | None:
    """The speaker name that starts ``text`` as ``Name: …``, or None (see the module doc)."""
    match = _NAME_PREFIX.match(text)
    if match is None:
        return None
    name = match.group(1)
    words = name.split()
    if name != name.strip() or len(words) > _NAME_WORDS or any(w[0].islower() for w in words):
        return None
    return name


def srt_speakers(cues: list[Segment]) -> list[Segment]:
    """``cues`` (in file order) with the speakers of Murmur's SRT name prefixes, when the
    file is unambiguously written that way; else ``cues`` unchanged (see the module doc)."""
    names = [_name_prefix(cue.text) for cue in cues]
    prefixed = [name for name in names if name is not None]
    if not cues or names[0] is None or len(set(prefixed)) > MAX_SRT_SPEAKERS:
        return cues
    if any(a == b for a, b in pairwise(prefixed)):
        return cues
    out: list[Segment] = []
    speaker: str | None = None
    for cue, name in zip(cues, names, strict=True):
        text = cue.text
        if name is not None:
            speaker = name
            text = text[len(name) + 2 :]
        out.append(Segment(cue.start, cue.end, text, speaker))
    return out


def parse_vtt(text: str) -> list[Segment]:
    """Cues of WebVTT text (header, NOTE, STYLE and REGION blocks skipped)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    if not lines or not _VTT_HEADER.match(lines[0].strip()):
        first = lines[0] if lines else ""
        raise SubtitleError(f"a WebVTT file starts with WEBVTT, not {_quote(first)}", 1)
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            current.append((number, line))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    cues: list[Segment] = []
    for block in blocks[1:]:  # the first block is the header
        first_no, first = block[0]
        if _SKIPPED_BLOCKS.match(first.strip()):
            continue
        if "-->" in first:
            timing, body = block[0], block[1:]
        elif len(block) > 1 and "-->" in block[1][1]:
            timing, body = block[1], block[2:]  # block[0] is the cue's identifier
        else:
            raise SubtitleError(
                f"expected a cue time line (00:01.000 --> 00:02.000), found {_quote(first)}",
                first_no if len(block) == 1 else block[1][0],
            )
        for number, line in body:
            if "-->" in line:
                raise SubtitleError(f"a cue's text can't hold '-->': {_quote(line)}", number)
        start, end = _times(timing[1], timing[0])
        cues.append(_cue(start, end, [line for _, line in body], True))
    return _sorted(cues)


def _sorted(cues: list[Segment]) -> list[Segment]:
    return sorted(cues, key=lambda seg: seg.start)  # stable: equal starts keep file order


def parse_subtitles(text: str, fmt: str | None = None) -> list[Segment]:
    """Cues of SRT or WebVTT text; ``fmt`` "srt"/"vtt", or None to tell by the content."""
    if fmt is None:
        first = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0].strip()
        fmt = "vtt" if first.startswith("WEBVTT") else "srt"
    if fmt == "vtt":
        return parse_vtt(text)
    if fmt == "srt":
        return parse_srt(text)
    raise SubtitleError(f"Unknown subtitle format {fmt!r}: choose srt or vtt")


def read_subtitles(path: str | os.PathLike[str]) -> list[Segment]:
    """Cues of an SRT or WebVTT file. Raises :class:`SubtitleError` with one line."""
    p = Path(os.fspath(path))
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SubtitleError(f"Can't read {p.name}: {exc.strerror or exc}") from exc
    text = decode(data)
    ext = p.suffix.lower()
    fmt = "vtt" if ext == ".vtt" else "srt" if ext == ".srt" else None
    if fmt == "srt" and text.lstrip().startswith("WEBVTT"):
        fmt = "vtt"  # a WebVTT file with the wrong name
    try:
        cues = parse_subtitles(text, fmt)
    except SubtitleError as exc:
        raise SubtitleError(exc.reason, exc.line, p.name) from None
    if not cues:
        raise SubtitleError(f"{p.name} holds no subtitles")
    return cues


def media_beside(subtitle_path: str | os.PathLike[str], extensions: Iterable[str]) -> Path | None:
    """The media file next to a subtitle file: same name (``film.srt``, or ``film.en.srt``
    for ``film.mp4``) with one of ``extensions`` (".mp4", …); None when there is none."""
    p = Path(os.fspath(subtitle_path))
    wanted = {ext.lower() for ext in extensions}
    stems = [p.stem]
    if "." in p.stem:  # a language tag: film.en.srt
        stems.append(p.stem.rsplit(".", 1)[0])
    try:
        siblings = sorted(x for x in p.parent.iterdir() if x.is_file())
    except OSError:
        return None
    for stem in stems:
        for candidate in siblings:
            if candidate.stem == stem and candidate.suffix.lower() in wanted:
                return candidate
    return None


__all__ = [
    "MAX_SRT_SPEAKERS",
    "SUBTITLE_EXTENSIONS",
    "SubtitleError",
    "decode",
    "media_beside",
    "parse_srt",
    "parse_subtitles",
    "parse_vtt",
    "read_subtitles",
    "srt_speakers",
]
