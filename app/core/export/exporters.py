"""Write a transcript as SRT, WebVTT, plain text, Word (DOCX) or JSON.

Every format is rendered in memory (``render_<fmt>`` / :func:`export_bytes`)
and written atomically by :func:`export`: a failed write leaves no partial file
and raises :class:`~app.core.errors.ExportError` with one line for the user.
All text is UTF-8.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from app.core.atomic import describe_write_error, write_bytes_atomic
from app.core.errors import ExportError
from app.core.transcript.cues import CueOptions, reshape, wrap_lines
from app.core.transcript.model import FORMAT_VERSION, Segment, TranscriptMeta
from app.core.transcript.text import (
    SENTENCE_END_LATIN,
    SENTENCE_END_WIDE,
    join_texts,
    normalize_space,
)

FORMATS = ("srt", "vtt", "txt", "docx", "json")
FORMAT_NAMES = {
    "srt": "SubRip subtitles (.srt)",
    "vtt": "WebVTT subtitles (.vtt)",
    "txt": "Plain text (.txt)",
    "docx": "Word document (.docx)",
    "json": "JSON (.json)",
}

# Characters XML 1.0 (and so DOCX) cannot hold.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CLOSERS = ")]}»›’”\"'」』）】〉》〕｝］〞〟"


class TranscriptLike(Protocol):
    """What the exporters need: timed segments and metadata."""

    @property
    def segments(self) -> Sequence[Segment]: ...

    @property
    def meta(self) -> TranscriptMeta: ...


@dataclass(frozen=True)
class ExportOptions:
    timestamps: bool = False  # txt and docx: "[00:01:02] text" per segment
    cues: CueOptions | None = None  # srt and vtt: reshape to these limits first
    paragraph_gap_s: float = 2.0  # txt and docx: a pause this long starts a paragraph
    paragraph_sentences: int = 6  # ... as does this many sentences in one paragraph
    title: str | None = None  # docx: the heading (default: the source file's name)
    speakers: bool = True  # speaker names (when the transcript has them) in every format

    def __post_init__(self) -> None:
        gap = self.paragraph_gap_s
        if isinstance(gap, bool) or not isinstance(gap, int | float) or not gap >= 0:
            raise ExportError(f"paragraph_gap_s must be a number of seconds >= 0, not {gap!r}")
        n = self.paragraph_sentences
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ExportError(f"paragraph_sentences must be a whole number >= 1, not {n!r}")


def normalize_format(fmt: str) -> str:
    """``"SRT"``, ``".srt"`` -> ``"srt"``; an unknown format raises ExportError."""
    name = str(fmt).strip().lower().lstrip(".")
    if name == "webvtt":
        name = "vtt"
    if name not in FORMATS:
        choices = ", ".join(FORMATS[:-1]) + " or " + FORMATS[-1]
        raise ExportError(f"Unknown export format {fmt!r}: choose {choices}")
    return name


# --------------------------------------------------------------------------- times


def _milliseconds(seconds: float) -> int:
    if not math.isfinite(seconds):
        return 0
    return max(0, round(seconds * 1000))


def format_timestamp(seconds: float, *, separator: str = ".", millis: bool = True) -> str:
    """``HH:MM:SS.mmm`` (``separator=","`` for SRT; ``millis=False`` for ``HH:MM:SS``)."""
    ms = _milliseconds(seconds)
    if not millis:
        ms = (ms // 1000) * 1000
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}{separator}{ms:03d}" if millis else text


# --------------------------------------------------------------------------- helpers


def _segments(transcript: TranscriptLike, options: ExportOptions | None = None) -> list[Segment]:
    keep = options is None or options.speakers
    return [
        Segment(float(s.start), float(s.end), s.text, getattr(s, "speaker", None) if keep else None)
        for s in transcript.segments
        if s.text.strip()
    ]


def _speaker_changes(segments: Sequence[Segment]) -> list[str | None]:
    """Per segment: its speaker where it differs from the previous segment's, else None."""
    out: list[str | None] = []
    previous: str | None = None
    for seg in segments:
        out.append(seg.speaker if seg.speaker and seg.speaker != previous else None)
        previous = seg.speaker
    return out


def _speaker_runs(segments: Sequence[Segment]) -> list[list[Segment]]:
    runs: list[list[Segment]] = []
    for seg in segments:
        if runs and runs[-1][-1].speaker == seg.speaker:
            runs[-1].append(seg)
        else:
            runs.append([seg])
    return runs


def subtitle_cues(
    transcript: TranscriptLike, options: ExportOptions | None = None
) -> list[Segment]:
    """The cues an SRT/VTT export writes: reshaped when ``options.cues`` is set."""
    options = options or ExportOptions()
    segments = _segments(transcript, options)
    if options.cues is None:
        return segments
    duration = transcript.meta.duration
    media_duration = duration if duration and duration > 0 else None
    return reshape(segments, options.cues, media_duration)


def _cue_lines(text: str, options: ExportOptions) -> list[str]:
    return wrap_lines(text, options.cues or CueOptions())


def _ends_sentence(text: str) -> bool:
    mark = text.rstrip().rstrip(_CLOSERS)[-1:]
    return bool(mark) and (mark in SENTENCE_END_LATIN or mark in SENTENCE_END_WIDE)


def _count_sentences(text: str) -> int:
    latin = sum(
        1
        for w in text.split()
        if w.rstrip(_CLOSERS)[-1:] in SENTENCE_END_LATIN and w.strip(_CLOSERS)
    )
    return latin + sum(1 for ch in text if ch in SENTENCE_END_WIDE)


def paragraphs(
    segments: Sequence[Segment], gap_s: float = 2.0, sentences: int = 6
) -> list[list[Segment]]:
    """Group segments into paragraphs.

    A new paragraph starts after a pause longer than ``gap_s``, or once the
    current one holds at least ``sentences`` sentences and its last segment
    ends one.
    """
    out: list[list[Segment]] = []
    current: list[Segment] = []
    count = 0
    for seg in segments:
        if current and (seg.start - current[-1].end > gap_s):
            out.append(current)
            current, count = [], 0
        current.append(seg)
        count += _count_sentences(seg.text)
        if count >= sentences and _ends_sentence(seg.text):
            out.append(current)
            current, count = [], 0
    if current:
        out.append(current)
    return out


def speaker_paragraphs(
    segments: Sequence[Segment], options: ExportOptions
) -> list[tuple[str | None, str]]:
    """(speaker name where a speaker's turn begins, else None; text) per paragraph.

    Paragraphs never span two speakers: each turn is grouped on its own.
    """
    out: list[tuple[str | None, str]] = []
    for run in _speaker_runs(segments):
        groups = paragraphs(run, options.paragraph_gap_s, options.paragraph_sentences)
        for k, group in enumerate(groups):
            name = run[0].speaker if k == 0 else None
            out.append((name, join_texts(s.text for s in group)))  # the model's own spaces
    return out


def _paragraph_texts(segments: Sequence[Segment], options: ExportOptions) -> list[str]:
    return [
        f"{name}: {text}" if name else text for name, text in speaker_paragraphs(segments, options)
    ]


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="replace")


def _xml_safe(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _meta_date(meta: TranscriptMeta) -> datetime:
    if meta.created:
        try:
            return datetime.fromisoformat(meta.created.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now().astimezone()


def _source_name(meta: TranscriptMeta) -> str:
    if not meta.source:
        return ""
    return Path(meta.source).name or meta.source


# --------------------------------------------------------------------------- formats


def render_srt(transcript: TranscriptLike, options: ExportOptions | None = None) -> str:
    """SubRip: index, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, wrapped lines, blank line."""
    options = options or ExportOptions()
    blocks: list[str] = []
    cues = subtitle_cues(transcript, options)
    for index, (cue, name) in enumerate(zip(cues, _speaker_changes(cues), strict=True), start=1):
        start = format_timestamp(cue.start, separator=",")
        end = format_timestamp(max(cue.start, cue.end), separator=",")
        text = f"{name}: {cue.text}" if name else cue.text  # a new speaker's name starts the cue
        lines = "\n".join(_cue_lines(text, options))
        blocks.append(f"{index}\n{start} --> {end}\n{lines}\n")
    return "\n".join(blocks)


def _vtt_escape(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(transcript: TranscriptLike, options: ExportOptions | None = None) -> str:
    """WebVTT: ``WEBVTT`` header, ``HH:MM:SS.mmm`` times, wrapped and escaped lines.

    A cue with a speaker begins with WebVTT's voice tag, ``<v Speaker 1>``, on
    every cue (the tag is markup that players use to show or style the voice,
    so it belongs to each cue, not only to the first of a turn).
    """
    options = options or ExportOptions()
    blocks = ["WEBVTT\n"]
    for cue in subtitle_cues(transcript, options):
        start = format_timestamp(cue.start)
        end = format_timestamp(max(cue.start, cue.end))
        lines = "\n".join(_vtt_escape(line) for line in _cue_lines(cue.text, options))
        if cue.speaker:
            lines = f"<v {_vtt_escape(cue.speaker)}>{lines}"
        blocks.append(f"{start} --> {end}\n{lines}\n")
    return "\n".join(blocks)


def render_txt(transcript: TranscriptLike, options: ExportOptions | None = None) -> str:
    """Plain text: paragraphs, or ``[HH:MM:SS] text`` per segment with ``timestamps``."""
    options = options or ExportOptions()
    segments = _segments(transcript, options)
    if options.timestamps:
        lines = [
            f"[{format_timestamp(s.start, millis=False)}] "
            + (f"{name}: " if name else "")
            + normalize_space(s.text)
            for s, name in zip(segments, _speaker_changes(segments), strict=True)
        ]
        return "".join(line + "\n" for line in lines)
    return "\n\n".join(_paragraph_texts(segments, options)) + ("\n" if segments else "")


def render_json(transcript: TranscriptLike, options: ExportOptions | None = None) -> str:
    """JSON with the metadata and every segment (``ensure_ascii=False``).

    Besides the flat fields it carries ``version`` and ``meta`` so that
    :meth:`Transcript.from_dict` reads it back.
    """
    from app import __version__

    meta = transcript.meta
    segments: list[dict[str, Any]] = [
        {"id": i, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
        for i, s in enumerate(transcript.segments)
    ]
    options = options or ExportOptions()
    if options.speakers and any(getattr(s, "speaker", None) for s in transcript.segments):
        for item, s in zip(segments, transcript.segments, strict=True):
            item["speaker"] = getattr(s, "speaker", None)
    data: dict[str, Any] = {
        "murmur_version": __version__,
        "source": meta.source,
        "duration": meta.duration,
        "model": meta.model,
        "device": meta.device,
        "created": meta.created,
        "processing_seconds": meta.processing_seconds,
        "speech_seconds": getattr(meta, "speech_seconds", 0.0),
        "version": FORMAT_VERSION,
        "meta": dataclasses.asdict(meta) if dataclasses.is_dataclass(meta) else {},
        "segments": segments,
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render_docx(transcript: TranscriptLike, options: ExportOptions | None = None) -> bytes:
    """A Word document: title, source, date, model and device, then the text."""
    from docx import Document
    from docx.shared import Pt, RGBColor

    options = options or ExportOptions()
    meta = transcript.meta
    segments = _segments(transcript, options)
    source = _source_name(meta)
    title = options.title or (Path(source).stem if source else "") or "Transcript"
    date = _meta_date(meta)

    doc = Document()
    doc.core_properties.title = _xml_safe(title)
    doc.core_properties.author = "Murmur"
    doc.add_heading(_xml_safe(title), level=0)

    info = doc.add_paragraph()
    lines = []
    if source:
        lines.append(f"Source: {source}")
    lines.append(f"Date: {date.strftime('%Y-%m-%d %H:%M')}")
    model_device = " · ".join(x for x in (meta.model, meta.device) if x)
    if model_device:
        lines.append(f"Model: {model_device}")
    if meta.duration:
        lines.append(f"Duration: {format_timestamp(meta.duration, millis=False)}")
    for k, line in enumerate(lines):
        run = info.add_run(_xml_safe(line))
        run.font.size = Pt(9)
        run.font.color.rgb = RGBColor(0x60, 0x60, 0x60)
        if k < len(lines) - 1:
            run.add_break()

    if options.timestamps:
        for seg, name in zip(segments, _speaker_changes(segments), strict=True):
            para = doc.add_paragraph()
            stamp = para.add_run(f"[{format_timestamp(seg.start, millis=False)}] ")
            stamp.font.color.rgb = RGBColor(0x80, 0x80, 0x80)
            if name:
                para.add_run(_xml_safe(f"{name}: ")).bold = True
            para.add_run(_xml_safe(normalize_space(seg.text)))
    else:
        for name, text in speaker_paragraphs(segments, options):
            para = doc.add_paragraph()
            if name:  # a speaker's turn begins with the name, in bold
                para.add_run(_xml_safe(f"{name}: ")).bold = True
            para.add_run(_xml_safe(text))

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def export_bytes(
    transcript: TranscriptLike, fmt: str, options: ExportOptions | None = None
) -> bytes:
    """The file content of ``transcript`` in format ``fmt``."""
    options = options or ExportOptions()
    name = normalize_format(fmt)
    if name == "docx":
        return render_docx(transcript, options)
    renderers = {"srt": render_srt, "vtt": render_vtt, "txt": render_txt, "json": render_json}
    return _encode(renderers[name](transcript, options))


def export(
    transcript: TranscriptLike,
    fmt: str,
    path: str | os.PathLike[str],
    options: ExportOptions | None = None,
) -> Path:
    """Write ``transcript`` to ``path`` in format ``fmt``, atomically; returns the path.

    Raises :class:`ExportError` (one line) when the file can't be written; in
    that case no partial or temporary file is left and an existing file is kept.
    """
    data = export_bytes(transcript, fmt, options)
    target = Path(os.fspath(path)).expanduser()
    try:
        return write_bytes_atomic(target, data)
    except OSError as exc:
        raise ExportError(describe_write_error(exc, target)) from exc


def default_export_path(
    media_path: str | os.PathLike[str], fmt: str, output_dir: str | os.PathLike[str] | None = None
) -> Path:
    """``<input stem>.<fmt>`` in ``output_dir``, by default next to the input."""
    name = normalize_format(fmt)
    media = Path(os.fspath(media_path))
    if not media.name:
        raise ExportError(f"Can't name an export after {os.fspath(media_path)!r}")
    folder = Path(os.fspath(output_dir)).expanduser() if output_dir else media.parent
    return folder / f"{media.stem}.{name}"


__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "ExportOptions",
    "TranscriptLike",
    "default_export_path",
    "export",
    "export_bytes",
    "format_timestamp",
    "normalize_format",
    "paragraphs",
    "render_docx",
    "render_json",
    "render_srt",
    "render_txt",
    "render_vtt",
    "speaker_paragraphs",
    "subtitle_cues",
]
