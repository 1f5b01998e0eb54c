"""Subtitle checks: which cues break which limit (reading speed, lines, duration, gaps).

Everything here is plain data, so the segment table, a timeline or a report can
colour and explain the same problems. Lines are counted *as exported*: a cue's
text is wrapped with :func:`app.core.transcript.cues.wrap_lines` under the same
limits the SRT/VTT exporters use, so "longest line" is the longest line a viewer
would see.

Reading speed counts what :meth:`CueOptions.reading_seconds` counts: every
character (spaces included) of Latin text, the letters and digits of CJK text.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from app.core.transcript.cues import CueOptions, wrap_lines
from app.core.transcript.model import Segment
from app.core.transcript.text import is_cjk_text, line_width, normalize_space
from app.core.transcript.timecode import format_time

ProblemKind = Literal[
    "empty", "reading_speed", "line_length", "too_short", "too_long", "overlap", "gap"
]
PROBLEM_KINDS: tuple[ProblemKind, ...] = (
    "empty",
    "reading_speed",
    "line_length",
    "too_short",
    "too_long",
    "overlap",
    "gap",
)
_EPS = 1e-6


@dataclass(frozen=True)
class CheckLimits:
    """The limits a cue is checked against (the app builds them from its settings).

    ``cues`` holds the line, duration and reading-speed limits (0 cps: no
    reading-speed check); ``min_gap_s`` is the least time between one cue's end
    and the next cue's start (0: only overlaps are flagged).
    """

    cues: CueOptions = field(default_factory=lambda: CueOptions(max_cps_latin=17.0))
    min_gap_s: float = 0.08


@dataclass(frozen=True)
class CueStats:
    """What a viewer gets from one cue."""

    characters: int  # counted for reading speed
    duration: float  # seconds
    cps: float  # characters per second (inf for a cue without time)
    cps_limit: float  # the reading-speed limit that applies to this text (0: none)
    lines: int  # as exported
    longest_line: int  # characters (full-width cells for CJK text)
    line_limit: int  # characters (cells) per line for this text


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    message: str  # one line for a tooltip, e.g. "Reading speed 23.1 characters/s (limit 17)"


@lru_cache(maxsize=65536)
def _text_stats(text: str, options: CueOptions) -> tuple[int, float, int, int, int]:
    """(characters, cps limit, lines, longest line, line limit) of one cue's text."""
    cjk = is_cjk_text(text)
    if cjk:
        characters, cps_limit = sum(1 for ch in text if ch.isalnum()), options.max_cps_cjk
    else:
        characters, cps_limit = len(normalize_space(text)), options.max_cps_latin
    flat = normalize_space(text)
    width = line_width(flat, cjk)
    if width <= options.line_limit(cjk):  # one line: no need to wrap (most cues)
        count, longest = (1 if flat else 0), width
    else:
        lines = wrap_lines(text, options)
        count = len(lines)
        longest = max((line_width(line, cjk) for line in lines), default=0)
    # CJK lines are measured in half-cells (line_width); shown as whole cells
    if cjk:
        longest = math.ceil(longest / 2)
    limit = options.max_chars_cjk if cjk else options.max_chars_latin
    return characters, cps_limit, count, longest, limit


def cue_stats(segment: Segment, options: CueOptions) -> CueStats:
    """Reading speed and line lengths of one cue under ``options``."""
    characters, cps_limit, lines, longest, limit = _text_stats(segment.text, options)
    duration = max(0.0, segment.end - segment.start)
    cps = characters / duration if duration > _EPS else math.inf if characters else 0.0
    return CueStats(characters, duration, cps, cps_limit, lines, longest, limit)


def _seconds(value: float) -> str:
    return f"{value:.3f} s"


def check_cue(
    segments: Sequence[Segment], index: int, limits: CheckLimits | None = None
) -> tuple[Problem, ...]:
    """The problems of cue ``index`` (its neighbours matter for overlaps and gaps)."""
    limits = limits or CheckLimits()
    options = limits.cues
    seg = segments[index]
    if not seg.text.strip():
        return (Problem("empty", "Empty cue: no text"),)
    stats = cue_stats(seg, options)
    out: list[Problem] = []
    if stats.cps_limit > 0 and stats.cps > stats.cps_limit + 0.05:  # shown to 0.1
        speed = "no time to read it" if math.isinf(stats.cps) else f"{stats.cps:.1f} characters/s"
        out.append(Problem("reading_speed", f"Reading speed {speed} (limit {stats.cps_limit:g})"))
    if stats.longest_line > stats.line_limit:
        out.append(
            Problem(
                "line_length",
                f"Longest line {stats.longest_line} characters (limit {stats.line_limit}"
                f" × {options.max_lines} lines)",
            )
        )
    if stats.duration < options.min_duration_s - _EPS:
        out.append(
            Problem(
                "too_short",
                f"Too short: {_seconds(stats.duration)} (minimum {options.min_duration_s:g} s)",
            )
        )
    if stats.duration > options.max_duration_s + _EPS:
        out.append(
            Problem(
                "too_long",
                f"Too long: {_seconds(stats.duration)} (maximum {options.max_duration_s:g} s)",
            )
        )
    prev_end = segments[index - 1].end if index > 0 else -math.inf
    if prev_end > seg.start + _EPS:
        out.append(Problem("overlap", f"Overlaps cue {index} (it ends {format_time(prev_end)})"))
    if index + 1 < len(segments):
        nxt = segments[index + 1]
        gap = nxt.start - seg.end
        if gap < -_EPS:
            out.append(
                Problem("overlap", f"Overlaps cue {index + 2} (it starts {format_time(nxt.start)})")
            )
        elif limits.min_gap_s > 0 and gap < limits.min_gap_s - _EPS:
            out.append(
                Problem(
                    "gap",
                    f"Gap to cue {index + 2} is {_seconds(gap)} (minimum {limits.min_gap_s:g} s)",
                )
            )
    return tuple(out)


def check_cues(
    segments: Sequence[Segment], limits: CheckLimits | None = None
) -> dict[int, tuple[Problem, ...]]:
    """Every cue that breaks a limit: row -> its problems (rows without problems left out).

    This is the per-cue colour hook for views: a row is in the result exactly
    when it should be marked, and the problems' messages say why.
    """
    limits = limits or CheckLimits()
    segments = list(segments)
    out: dict[int, tuple[Problem, ...]] = {}
    for row in range(len(segments)):
        problems = check_cue(segments, row, limits)
        if problems:
            out[row] = problems
    return out


def next_flagged(flagged: Sequence[int], row: int, forward: bool = True) -> int | None:
    """The flagged row after (or before) ``row``, wrapping around; None when none is flagged.

    ``flagged`` must be sorted. ``row`` -1 means "before the first row".
    """
    if not flagged:
        return None
    if forward:
        k = bisect.bisect_right(flagged, row)
        return flagged[k] if k < len(flagged) else flagged[0]
    k = bisect.bisect_left(flagged, row) if row >= 0 else 0
    return flagged[k - 1] if k > 0 else flagged[-1]


__all__ = [
    "PROBLEM_KINDS",
    "CheckLimits",
    "CueStats",
    "Problem",
    "ProblemKind",
    "check_cue",
    "check_cues",
    "cue_stats",
    "next_flagged",
]
