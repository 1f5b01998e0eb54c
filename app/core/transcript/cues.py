"""Subtitle shaping: cut transcribed text into timed, readable cues.

Text is split at sentence ends, then at clause punctuation, then (when a piece
is still too long for ``max_lines`` lines of ``max_chars``) at spaces or between
CJK characters, into balanced pieces. Each piece is timed from the speech
regions of its chunk, in proportion to its characters, and the cue times are
then made readable (``min_duration_s`` .. ``max_duration_s``), monotonic,
non-overlapping and inside the media.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.errors import SettingsError
from app.core.transcript.model import Segment
from app.core.transcript.text import (
    ABBREVIATIONS,
    CLAUSE_END_LATIN,
    CLAUSE_END_WIDE,
    SENTENCE_END_LATIN,
    SENTENCE_END_WIDE,
    Atom,
    char_weight,
    is_cjk_letter,
    is_cjk_text,
    is_wide,
    join_texts,
    line_atoms,
    line_width,
    normalize_space,
    split_atoms,
)

_MS = 0.001  # shortest duration a cue may keep (one millisecond, as written in SRT/VTT)
_SNAP_MAX_S = 0.5  # how far (in speech time) a cue boundary may move to reach a pause
_SNAP_FRACTION = 0.3  # ... and at most this share of either neighbouring cue
_PUNCT_BREAK_BONUS = 0.15  # of limit²: how much evenness a line break after punctuation is worth
# Quotes and brackets that may follow a sentence or clause mark: "Go!" (He left.)
_TRAILING_CLOSERS = ")]}»›’”\"'」』）】〉》〕｝］〞〟"


class InvalidCueOptions(SettingsError, ValueError):
    """Cue limits that make no sense (no lines, min duration above max, ...)."""


@dataclass(frozen=True)
class CueOptions:
    max_chars_latin: int = 42
    max_chars_cjk: int = 16
    max_lines: int = 2
    min_duration_s: float = 1.0
    max_duration_s: float = 7.0
    # Reading speed (0: no limit): a cue stays up as long as its characters
    # take to read, where the time after it is free. Chinese is read by the
    # character (letters and digits counted), about 9 a second; Latin text by
    # every character (off by default here; the app's settings use 17).
    max_cps_latin: float = 0.0
    max_cps_cjk: float = 9.0

    def __post_init__(self) -> None:
        for name in ("max_chars_latin", "max_chars_cjk", "max_lines"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidCueOptions(
                    f"{name} must be a whole number of at least 1, not {value!r}"
                )
        for name in ("min_duration_s", "max_duration_s", "max_cps_latin", "max_cps_cjk"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise InvalidCueOptions(f"{name} must be a number >= 0, not {value!r}")
        if self.max_duration_s <= 0:
            raise InvalidCueOptions("max_duration_s must be more than 0 seconds")
        if self.min_duration_s > self.max_duration_s:
            raise InvalidCueOptions(
                f"min_duration_s ({self.min_duration_s:g} s) is more than "
                f"max_duration_s ({self.max_duration_s:g} s)"
            )

    def max_chars(self, text: str) -> int:
        """Characters per line for ``text``: the CJK limit when most letters are CJK."""
        return self.max_chars_cjk if is_cjk_text(text) else self.max_chars_latin

    def line_limit(self, cjk: bool) -> int:
        """The line limit in the unit of :func:`line_width`: half-cells for CJK lines."""
        return 2 * self.max_chars_cjk if cjk else self.max_chars_latin

    def reading_seconds(self, text: str) -> float:
        """How long ``text`` takes to read at the reading-speed limit (0 when there is none).

        CJK text counts its letters and digits (punctuation is not read as a
        character); Latin text counts every character, spaces included.
        """
        if is_cjk_text(text):
            cps = self.max_cps_cjk
            count = sum(1 for ch in text if ch.isalnum())
        else:
            cps = self.max_cps_latin
            count = len(normalize_space(text))
        return count / cps if cps > 0 else 0.0


class _TimeSpan(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


class _TimedText(_TimeSpan, Protocol):
    @property
    def text(self) -> str: ...


Region = _TimeSpan | tuple[float, float]


# --------------------------------------------------------------------------- lines


def _wrap_cost(
    widths: list[int], seps: list[int], lines: int, limit: int | None, bonus: list[float]
) -> list[int]:
    """Balanced partition of atoms into exactly ``lines`` lines; returns break indices.

    Minimises the sum of squared line widths (so lines come out even) less
    ``bonus[i]`` for each line that starts at atom ``i``, with every line at
    most ``limit`` wide unless it holds a single atom.
    """
    n = len(widths)
    prefix = [0]
    for w in widths:
        prefix.append(prefix[-1] + w)
    sep_prefix = [0]
    for s in seps:
        sep_prefix.append(sep_prefix[-1] + s)

    def width(i: int, j: int) -> int:
        return prefix[j] - prefix[i] + sep_prefix[j] - sep_prefix[i + 1]

    inf = float("inf")
    # best[k][j]: cost of putting atoms [0, j) on k lines
    best = [[inf] * (n + 1) for _ in range(lines + 1)]
    back = [[0] * (n + 1) for _ in range(lines + 1)]
    best[0][0] = 0.0
    for k in range(1, lines + 1):
        for j in range(k, n + 1):
            for i in range(j - 1, k - 2, -1):
                if best[k - 1][i] == inf:
                    continue
                w = width(i, j)
                if limit is not None and w > limit and j - i > 1:
                    break
                cost = best[k - 1][i] + w * w - (bonus[i] if i else 0.0)
                if cost < best[k][j]:
                    best[k][j] = cost
                    back[k][j] = i
    cuts: list[int] = []
    j = n
    for k in range(lines, 0, -1):
        i = back[k][j]
        cuts.append(i)
        j = i
    return sorted(cuts)[1:]


def _even_cuts(widths: list[int], seps: list[int], lines: int) -> list[int]:
    """Break indices that cut the atoms into ``lines`` runs of about equal width."""
    ends: list[int] = []  # ends[k]: width of atoms [0, k + 1)
    total = 0
    for w, s in zip(widths, seps, strict=True):
        total += s + w
        ends.append(total)
    cuts: list[int] = []
    for k in range(1, lines):
        target = total * k / lines
        i = min(bisect.bisect_left(ends, target), len(ends) - 1)
        if i > 0 and abs(ends[i - 1] - target) <= abs(ends[i] - target):
            i -= 1
        cut = min(max(i + 1, (cuts[-1] + 1) if cuts else 1), len(widths) - (lines - k))
        cuts.append(cut)
    return cuts


def _greedy_line_count(widths: list[int], seps: list[int], limit: int) -> int:
    lines = 0
    current = 0
    for w, s in zip(widths, seps, strict=True):
        if lines and current + s + w <= limit:
            current += s + w
        else:
            lines += 1
            current = w
    return lines


def wrap_lines(text: str, options: CueOptions | None = None) -> list[str]:
    """Wrap one cue's text into at most ``max_lines`` balanced lines.

    Lines hold at most ``max_chars_latin`` characters (``max_chars_cjk``
    full-width cells when the text is mostly CJK, a Latin letter, digit or
    space taking half a cell); Latin text breaks at spaces, Chinese text between
    words (never inside a word, a number with its unit or a short quotation),
    never before closing punctuation nor after opening punctuation. A Latin
    word longer than a line is never cut; a Chinese one is, as a last resort,
    between its characters. Text that cannot fit is still wrapped into ``max_lines``
    balanced lines, longer than the limit: nothing is ever dropped.
    """
    options = options or CueOptions()
    atoms = line_atoms(text, options.max_chars_cjk)
    if not atoms:
        return []
    words = [normalize_space(text[a.start : a.end]) for a in atoms]
    cjk = is_cjk_text(text)
    widths = [line_width(w, cjk) for w in words]
    seps = [0] + [1 if a.space_before else 0 for a in atoms[1:]]
    limit = options.line_limit(cjk)
    needed = _greedy_line_count(widths, seps, limit)
    lines = min(needed, options.max_lines, len(atoms))
    # a line may rather start after punctuation than be perfectly even
    reward = _PUNCT_BREAK_BONUS * limit * limit
    bonus = [reward if _ends_clause(words[k - 1]) else 0.0 for k in range(len(words))]
    if needed <= options.max_lines:
        cuts = _wrap_cost(widths, seps, lines, limit, bonus)
    else:  # too long for one cue: even lines over the limit, at the nearest spaces
        cuts = _even_cuts(widths, seps, lines)
    bounds = [0, *cuts, len(atoms)]
    out: list[str] = []
    for i, j in itertools.pairwise(bounds):
        out.append(_join_atoms(words, atoms, i, j))
    return out


def _ends_clause(word: str) -> bool:
    mark = word.rstrip(_TRAILING_CLOSERS)[-1:]
    return bool(mark) and (
        mark in SENTENCE_END_WIDE
        or mark in CLAUSE_END_WIDE
        or mark in SENTENCE_END_LATIN
        or mark in CLAUSE_END_LATIN
    )


def _join_atoms(words: list[str], atoms: list[Atom], i: int, j: int) -> str:
    parts = [words[i]]
    for k in range(i + 1, j):
        parts.append((" " if atoms[k].space_before else "") + words[k])
    return "".join(parts)


def cue_fits(text: str, options: CueOptions | None = None) -> bool:
    """Whether ``text`` fits on one cue (``max_lines`` lines of ``max_chars``)."""
    options = options or CueOptions()
    atoms = line_atoms(text, options.max_chars_cjk)
    if not atoms:
        return True
    cjk = is_cjk_text(text)
    widths = [line_width(normalize_space(text[a.start : a.end]), cjk) for a in atoms]
    seps = [0] + [1 if a.space_before else 0 for a in atoms[1:]]
    return _greedy_line_count(widths, seps, options.line_limit(cjk)) <= options.max_lines


# --------------------------------------------------------------------------- time


class _Timeline:
    """Speech time: the regions of a chunk laid end to end, gaps left out."""

    def __init__(self, regions: Sequence[tuple[float, float]]) -> None:
        spans = sorted((float(s), float(e)) for s, e in regions)
        merged: list[tuple[float, float]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, max(s, e)))
        nonempty = [span for span in merged if span[1] > span[0]] or merged[:1]
        self.starts = [s for s, _ in nonempty]
        self.cum = [0.0]
        for s, e in nonempty:
            self.cum.append(self.cum[-1] + (e - s))
        self.total = self.cum[-1]
        self.gaps = self.cum[1:-1]  # speech positions where a pause lies

    def start_at(self, pos: float) -> float:
        """Media time of speech position ``pos``; at a pause, the speech after it."""
        pos = min(max(pos, 0.0), self.total)
        k = min(bisect.bisect_right(self.cum, pos) - 1, len(self.starts) - 1)
        return self.starts[k] + (pos - self.cum[k])

    def end_at(self, pos: float) -> float:
        """Media time of speech position ``pos``; at a pause, the speech before it."""
        pos = min(max(pos, 0.0), self.total)
        k = max(bisect.bisect_left(self.cum, pos) - 1, 0)
        return self.starts[k] + (pos - self.cum[k])


# --------------------------------------------------------------------------- text


class _Pieces:
    """Atoms of one text with the sums needed to test and time candidate cues."""

    def __init__(self, text: str, options: CueOptions, timeline: _Timeline) -> None:
        self.text = text
        self.options = options
        self.timeline = timeline
        self.atoms = line_atoms(text, options.max_chars_cjk)
        self.words = [normalize_space(text[a.start : a.end]) for a in self.atoms]
        n = len(self.atoms)
        self.len_sum = [0] * (n + 1)
        self.sep_sum = [0] * (n + 1)
        self.weight_sum = [0.0] * (n + 1)
        self.letter_sum = [0] * (n + 1)  # non-CJK letters
        self.cjk_sum = [0.0] * (n + 1)  # weight of the CJK letters (see is_cjk_text)
        for k, (atom, word) in enumerate(zip(self.atoms, self.words, strict=True)):
            cjk = sum(char_weight(ch) for ch in word if is_cjk_letter(ch))
            letters = sum(1 for ch in word if ch.isalpha() and not is_cjk_letter(ch))
            self.len_sum[k + 1] = self.len_sum[k] + len(word)
            self.sep_sum[k + 1] = self.sep_sum[k] + (1 if atom.space_before and k else 0)
            self.weight_sum[k + 1] = self.weight_sum[k] + sum(char_weight(ch) for ch in word)
            self.letter_sum[k + 1] = self.letter_sum[k] + letters
            self.cjk_sum[k + 1] = self.cjk_sum[k] + cjk
        if self.weight_sum[-1] <= 0:  # only punctuation or symbols: count characters
            self.weight_sum = [float(x) for x in self.len_sum]
        self.reach = {cjk: self._reach(cjk) for cjk in (False, True)}

    def _reach(self, cjk: bool) -> list[int]:
        """reach[i]: the largest j such that atoms [i, j) fit in max_lines lines."""
        n = len(self.atoms)
        out = [0] * n
        limit = self.options.line_limit(cjk)
        widths = [line_width(word, cjk) for word in self.words]
        for i in range(n):
            lines = 1
            current = widths[i]
            j = i + 1
            while j < n:
                w = widths[j]
                sep = 1 if self.atoms[j].space_before else 0
                if current + sep + w <= limit:
                    current += sep + w
                else:
                    lines += 1
                    if lines > self.options.max_lines:
                        break
                    current = w
                j += 1
            out[i] = j
        return out

    def width(self, i: int, j: int) -> int:
        return self.len_sum[j] - self.len_sum[i] + self.sep_sum[j] - self.sep_sum[i + 1]

    def is_cjk(self, i: int, j: int) -> bool:
        """Whether atoms [i, j) are CJK text (as :func:`is_cjk_text` decides)."""
        return self.cjk_sum[j] - self.cjk_sum[i] > self.letter_sum[j] - self.letter_sum[i]

    def pos(self, k: int) -> float:
        """Speech position of the boundary before atom ``k``."""
        total_weight = self.weight_sum[-1]
        if total_weight <= 0:
            return 0.0
        return self.timeline.total * self.weight_sum[k] / total_weight

    def duration(self, i: int, j: int) -> float:
        return self.timeline.end_at(self.pos(j)) - self.timeline.start_at(self.pos(i))

    def text_fits(self, i: int, j: int) -> bool:
        return j <= self.reach[self.is_cjk(i, j)][i]

    def fits(self, i: int, j: int) -> bool:
        """A cue may hold atoms [i, j): one atom always, more if short enough."""
        if j - i <= 1:
            return True
        return self.text_fits(i, j) and self.duration(i, j) <= self.options.max_duration_s + 1e-9

    def piece_text(self, i: int, j: int) -> str:
        return _join_atoms(self.words, self.atoms, i, j)

    def cue_text(self, i: int, j: int) -> str:
        """The text of a cue, ending in the model's space where :func:`join_texts` needs it.

        Cues joined back must give the model's text. A space between two Latin
        words comes back by itself; one next to a Chinese character or a
        full-width mark ("使用 GLM") would be lost, so the cue keeps it at its end.
        """
        text = self.piece_text(i, j)
        if j < len(self.atoms) and self.atoms[j].space_before:
            nxt = self.words[j]
            if text and nxt and (is_wide(text[-1]) or is_wide(nxt[0])):
                text += " "
        return text

    # -- punctuation -------------------------------------------------------

    def boundaries(self) -> tuple[set[int], set[int]]:
        """Atom indices that start a new sentence, and those that start a new clause."""
        sentences: set[int] = set()
        clauses: set[int] = set()
        for k in range(1, len(self.atoms)):
            kind = self._mark_before(k)
            if kind == "sentence":
                sentences.add(k)
                clauses.add(k)
            elif kind == "clause":
                clauses.add(k)
        return sentences, clauses

    def _mark_before(self, k: int) -> str | None:
        word = self.words[k - 1].rstrip(_TRAILING_CLOSERS)
        if not word:
            return None
        mark = word[-1]
        nxt = self.words[k]
        separated = self.atoms[k].space_before or is_wide(nxt[0]) or is_wide(mark)
        if mark in SENTENCE_END_WIDE:
            return "sentence"
        if mark in CLAUSE_END_WIDE:
            return "clause"
        if not separated:
            return None
        lower_next = nxt[0].islower()
        if mark in SENTENCE_END_LATIN:
            if word.endswith(("...", "…")):
                return "clause" if lower_next else "sentence"
            if mark == ".":
                stem = word[:-1].lower()
                is_initial = len(stem) == 1 and stem.isalpha()
                if lower_next or stem in ABBREVIATIONS or is_initial:
                    return None
            return "sentence"
        if mark in CLAUSE_END_LATIN:
            return "clause"
        return None

    # -- splitting ----------------------------------------------------------

    def split(self) -> list[tuple[int, int]]:
        """Atom ranges of the cues: sentences, then clauses, then balanced word groups."""
        n = len(self.atoms)
        if n == 0:
            return []
        sentence_starts, clause_starts = self.boundaries()
        pieces: list[tuple[int, int]] = []
        for s0, s1 in _ranges(0, n, sentence_starts):
            if self.fits(s0, s1):
                pieces.append((s0, s1))
                continue
            units: list[tuple[int, int]] = []
            for c0, c1 in _ranges(s0, s1, clause_starts):
                if self.fits(c0, c1):
                    units.append((c0, c1))
                else:
                    units.extend(self.partition([(k, k + 1) for k in range(c0, c1)]))
            pieces.extend(self.partition(units))
        return self._attach_silent(pieces)

    def _attach_silent(self, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Join pieces that take no time to say (a lone "…" or "—") to their neighbour."""
        out: list[tuple[int, int]] = []
        for i, j in pieces:
            silent = self.weight_sum[j] - self.weight_sum[i] <= 0
            if out and (silent or self.weight_sum[out[-1][1]] - self.weight_sum[out[-1][0]] <= 0):
                out[-1] = (out[-1][0], j)
            else:
                out.append((i, j))
        return out

    def partition(self, units: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Group consecutive units into the fewest cues that fit, as even as possible."""
        m = len(units)
        if m <= 1:
            return list(units)
        o = self.options
        widest = o.max_lines * (max(o.max_chars_latin, 2 * o.max_chars_cjk) + 1)
        inf = (math.inf, math.inf)
        # best[j]: (cues, sum of squared widths) for units [0, j); back[j]: where the cue starts
        best: list[tuple[float, float]] = [inf] * (m + 1)
        back = [0] * (m + 1)
        best[0] = (0, 0.0)
        for j in range(1, m + 1):
            for i in range(j - 1, -1, -1):
                a, b = units[i][0], units[j - 1][1]
                w = self.width(a, b)
                if j - i > 1:
                    if w > widest:
                        break
                    if not self.fits(a, b):
                        continue
                if best[i] == inf:
                    continue
                cand = (best[i][0] + 1, best[i][1] + float(w * w))
                if cand < best[j]:
                    best[j] = cand
                    back[j] = i
        out: list[tuple[int, int]] = []
        j = m
        while j > 0:
            i = back[j]
            out.append((units[i][0], units[j - 1][1]))
            j = i
        out.reverse()
        return out


def _ranges(lo: int, hi: int, starts: set[int]) -> list[tuple[int, int]]:
    cuts = [lo, *sorted(k for k in starts if lo < k < hi), hi]
    return list(itertools.pairwise(cuts))


# --------------------------------------------------------------------------- timing


def _region_spans(regions: Sequence[Region]) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    for region in regions:
        if isinstance(region, tuple):
            start, end = region
        else:
            start, end = region.start, region.end
        spans.append((float(start), float(end)))
    return spans


def _snap_to_pauses(pieces: _Pieces, ranges: list[tuple[int, int]]) -> list[float]:
    """Speech positions of the cue boundaries, moved onto nearby pauses."""
    timeline = pieces.timeline
    bounds = [pieces.pos(i) for i, _ in ranges] + [pieces.pos(ranges[-1][1])]
    if not timeline.gaps:
        return bounds
    max_s = pieces.options.max_duration_s
    for k in range(1, len(bounds) - 1):
        pos = bounds[k]
        tol = min(_SNAP_MAX_S, _SNAP_FRACTION * min(pos - bounds[k - 1], bounds[k + 1] - pos))
        g = min(timeline.gaps, key=lambda gap: abs(gap - pos))
        if abs(g - pos) > tol or g == pos:
            continue
        before = timeline.end_at(g) - timeline.start_at(bounds[k - 1])
        after = timeline.end_at(bounds[k + 1]) - timeline.start_at(g)
        single_before = ranges[k - 1][1] - ranges[k - 1][0] <= 1
        single_after = ranges[k][1] - ranges[k][0] <= 1
        if (before <= max_s or single_before) and (after <= max_s or single_after):
            bounds[k] = g
    return bounds


def _merge_short(
    pieces: _Pieces, ranges: list[tuple[int, int]], bounds: list[float]
) -> tuple[list[tuple[int, int]], list[float]]:
    """Join a cue shorter than ``min_duration_s`` to a neighbour in the same run of speech.

    Only where the joined cue still fits (text and ``max_duration_s``) and no
    pause lies between the two; the shortest cues are joined first.
    """
    tl = pieces.timeline
    o = pieces.options
    ranges, bounds = list(ranges), list(bounds)
    while len(ranges) > 1:
        durations = [tl.end_at(bounds[k + 1]) - tl.start_at(bounds[k]) for k in range(len(ranges))]
        best: tuple[float, int] | None = None
        for k in sorted(range(len(ranges)), key=durations.__getitem__):
            if durations[k] >= o.min_duration_s - 1e-9:
                break
            for left in (k - 1, k):
                if left < 0 or left + 1 >= len(ranges):
                    continue
                joint = bounds[left + 1]
                if tl.start_at(joint) - tl.end_at(joint) > 1e-9:  # a pause between them
                    continue
                a, b = ranges[left][0], ranges[left + 1][1]
                duration = tl.end_at(bounds[left + 2]) - tl.start_at(bounds[left])
                if not pieces.text_fits(a, b) or duration > o.max_duration_s + 1e-9:
                    continue
                if best is None or duration < best[0]:
                    best = (duration, left)
            if best is not None:
                break
        if best is None:
            break
        left = best[1]
        ranges[left : left + 2] = [(ranges[left][0], ranges[left + 1][1])]
        del bounds[left + 1]
    return ranges, bounds


def _timed_pieces(pieces: _Pieces) -> list[Segment]:
    """Split, time, snap to pauses and join too-short cues (times not yet enforced)."""
    ranges = pieces.split()
    if not ranges:
        return []
    bounds = _snap_to_pauses(pieces, ranges)
    ranges, bounds = _merge_short(pieces, ranges, bounds)
    tl = pieces.timeline
    return [
        Segment(tl.start_at(bounds[k]), tl.end_at(bounds[k + 1]), pieces.cue_text(i, j))
        for k, (i, j) in enumerate(ranges)
    ]


def enforce_timing(
    segments: Sequence[_TimedText],
    options: CueOptions | None = None,
    media_duration: float | None = None,
    *,
    not_before: float = 0.0,
    not_after: float | None = None,
) -> list[Segment]:
    """Make cue times readable and valid, keeping order and text.

    Cues are clamped into ``[not_before, min(not_after, media_duration)]``,
    made monotonic and non-overlapping, capped at ``max_duration_s``, and
    lengthened to ``min_duration_s`` where there is room: first into the free
    time after the cue, then by taking spare time (above the minimum) from the
    next cue, then before it, then from the previous cue. A cue left with no
    time at all (only when cues are crowded against the end of the media) is
    merged into its neighbour so that no text is lost. Times are rounded to
    milliseconds.
    """
    options = options or CueOptions()
    lo = max(0.0, float(not_before))
    hi = math.inf
    if media_duration is not None:
        hi = float(media_duration)
    if not_after is not None:
        hi = min(hi, float(not_after))
    hi = max(hi, lo)
    texts = [_trim(s.text) for s in segments]
    times: list[list[float]] = []
    prev_end = lo
    for seg in segments:
        start = min(max(float(seg.start), prev_end), hi)
        end = min(max(float(seg.end), start), hi)
        end = min(end, start + options.max_duration_s)
        times.append([start, end])
        prev_end = end
    _lengthen_short(times, options.min_duration_s, lo, hi)
    _give_reading_time(times, texts, options, hi)
    speakers = [getattr(s, "speaker", None) for s in segments]
    return _finish(times, texts, hi, speakers)


def _trim(text: str) -> str:
    """Strip a cue's text, but keep one trailing space (not a new line) it ends in.

    That space is the model's, kept by :meth:`_Pieces.cue_text` so that cues
    join back into the exact text ("使用 " + "GLM-ASR"); no subtitle shows it.
    """
    core = text.strip()
    return core + " " if core and text[-1:] == " " else core


def _give_reading_time(
    times: list[list[float]], texts: list[str], options: CueOptions, hi: float
) -> None:
    """Keep a cue up until it can be read (the reading-speed limit), where the time is free.

    Only the end moves, into the pause after the cue, never past the next cue,
    the media or ``max_duration_s``: a subtitle never comes before its speech.
    """
    for i, (start, end) in enumerate(times):
        wanted = min(start + options.reading_seconds(texts[i]), start + options.max_duration_s)
        room = times[i + 1][0] if i + 1 < len(times) else hi
        if wanted > end:
            times[i][1] = max(end, min(wanted, room))


def _lengthen_short(times: list[list[float]], min_s: float, lo: float, hi: float) -> None:
    n = len(times)
    for i in range(n):
        start, end = times[i]
        short = min_s - (end - start)
        if short <= 1e-9:
            continue
        # 1. free time after the cue
        room = (times[i + 1][0] if i + 1 < n else hi) - end
        take = max(0.0, min(short, room))
        end += take
        short -= take
        # 2. spare time of the next cue
        if short > 1e-9 and i + 1 < n:
            nxt = times[i + 1]
            take = max(0.0, min(short, (nxt[1] - nxt[0]) - min_s))
            end += take
            nxt[0] += take
            short -= take
        # 3. free time before the cue
        if short > 1e-9:
            room = start - (times[i - 1][1] if i else lo)
            take = max(0.0, min(short, room))
            start -= take
            short -= take
        # 4. spare time of the previous cue
        if short > 1e-9 and i:
            prev = times[i - 1]
            take = max(0.0, min(short, (prev[1] - prev[0]) - min_s))
            start -= take
            prev[1] -= take
        times[i] = [start, end]


def _finish(
    times: list[list[float]],
    texts: list[str],
    hi: float = math.inf,
    speakers: Sequence[str | None] | None = None,
) -> list[Segment]:
    # round to milliseconds, never past the end (rounding is monotonic, so no overlap appears)
    last = math.floor(hi * 1000 + 1e-6) / 1000 if math.isfinite(hi) else math.inf
    rounded = [(min(round(s, 3), last), min(round(e, 3), last)) for s, e in times]
    out: list[list[Any]] = []
    pending = ""  # text of empty-time cues waiting for a following cue
    speakers = speakers or [None] * len(texts)
    for (start, end), text, speaker in zip(rounded, texts, speakers, strict=True):
        if not text:
            continue
        if end - start < _MS - 1e-9:
            if out:
                out[-1][2] = _join_cues(str(out[-1][2]), text)
            else:
                pending = _join_cues(pending, text)
            continue
        if pending:
            text = _join_cues(pending, text)
            pending = ""
        out.append([start, end, text, speaker])
    if pending:  # every cue was empty: nowhere to show it but at the start
        start = rounded[0][0] if rounded else 0.0
        out.append([start, start, pending, speakers[0] if speakers else None])
    return [Segment(float(s), float(e), str(t), sp) for s, e, t, sp in out]


def _join_cues(first: str, second: str) -> str:
    """Two cue texts as one, keeping a trailing space the second holds (see :func:`_trim`)."""
    return _trim(join_texts([first, second]) + (" " if second.endswith(" ") else ""))


def cues_for_chunk(
    text: str,
    regions: Sequence[Region],
    options: CueOptions | None = None,
    media_duration: float | None = None,
    *,
    not_before: float = 0.0,
    not_after: float | None = None,
) -> list[Segment]:
    """Cut one chunk's text into cues timed from its speech regions.

    ``regions`` are the speech regions inside the chunk (objects with
    ``start``/``end`` or ``(start, end)`` pairs, absolute times). Characters are
    mapped onto the regions laid end to end (pauses skipped), so cues start and
    end on speech; a boundary that falls close to a pause moves onto it.
    ``not_before``/``not_after`` bound the cues (e.g. the end of the previous
    chunk's cues and the start of the next chunk) so that lengthening a short
    cue never runs into a neighbouring chunk.
    """
    options = options or CueOptions()
    if not text.strip():
        return []
    spans = _region_spans(regions)
    if not spans:
        raise ValueError("cues_for_chunk needs at least one speech region")
    cues = _timed_pieces(_Pieces(text, options, _Timeline(spans)))
    return enforce_timing(cues, options, media_duration, not_before=not_before, not_after=not_after)


# How far from its proportional place (as a share of the smaller neighbouring
# piece's speech) a text cut between packed pieces may move to reach the end of
# a sentence or clause.
_SHARE_SNAP_FRACTION = 0.25


def share_text(text: str, weights: Sequence[float]) -> list[str]:
    """Cut ``text`` between words into ``len(weights)`` parts in proportion to ``weights``.

    The share of a part is measured in speaking time (:func:`char_weight`), so a part
    whose piece holds a third of the speech gets about a third of the spoken
    characters. A cut moves to a nearby sentence or clause end when there is one.
    Parts may be empty.
    """
    n = len(weights)
    if n == 0:
        return []
    atoms = split_atoms(text)
    words = [normalize_space(text[a.start : a.end]) for a in atoms]
    if n == 1 or not atoms:
        return [_join_atoms(words, atoms, 0, len(atoms)) if atoms else ""] + [""] * (n - 1)
    cum = [0.0]
    for word in words:
        cum.append(cum[-1] + sum(char_weight(ch) for ch in word))
    if cum[-1] <= 0:
        cum = [float(k) for k in range(len(words) + 1)]
    positive = [max(0.0, w) for w in weights]
    total = sum(positive)
    shares = [w / total for w in positive] if total > 0 else [1.0 / n] * n
    cuts = [0]
    acc = 0.0
    for k in range(n - 1):
        acc += shares[k]
        target = acc * cum[-1]
        tol = _SHARE_SNAP_FRACTION * min(shares[k], shares[k + 1]) * cum[-1]
        candidates = range(cuts[-1], len(atoms) + 1)
        best = min(candidates, key=lambda j: (abs(cum[j] - target), -j))
        ends = [
            j
            for j in candidates
            if 0 < j < len(atoms) and abs(cum[j] - target) <= tol and _ends_clause(words[j - 1])
        ]
        if ends:
            best = min(ends, key=lambda j: abs(cum[j] - target))
        cuts.append(best)
    cuts.append(len(atoms))
    return [_join_atoms(words, atoms, a, b) if b > a else "" for a, b in itertools.pairwise(cuts)]


def cut_text(text: str, cuts: Sequence[int]) -> list[str]:
    """``text`` cut near each of the character positions ``cuts`` (in order), each cut
    moved to the nearest place between two words: ``len(cuts) + 1`` parts, some maybe
    empty, which :func:`join_texts` joins back into ``text`` (spacing normalised)."""
    atoms = split_atoms(text)
    words = [normalize_space(text[a.start : a.end]) for a in atoms]
    between = [0] + [a.end for a in atoms[:-1]] + [len(text)]  # after atom j - 1
    out = [0]
    for cut in cuts:
        j = min(range(len(between)), key=lambda k: (abs(between[k] - cut), k))
        out.append(max(out[-1], min(j, len(atoms))))
    out.append(len(atoms))
    return [_join_atoms(words, atoms, a, b) if b > a else "" for a, b in itertools.pairwise(out)]


def cues_for_pieces(
    text: str,
    pieces: Sequence[Sequence[Region]],
    options: CueOptions | None = None,
    media_duration: float | None = None,
    *,
    not_before: float = 0.0,
    not_after: float | None = None,
    parts: Sequence[str] | None = None,
) -> list[Segment]:
    """Cues for the text of a chunk whose speech comes from several places (a packed
    window): ``pieces`` holds the speech regions of each piece, in order.

    ``parts`` is the text of each piece when it is known (where the model heard it);
    otherwise the text is shared among the pieces in proportion to their speech
    (:func:`share_text`). Each share is cut into cues with :func:`cues_for_chunk`,
    bounded by the midpoints of the pauses between pieces, so that no cue spans the long
    pause between two pieces. With one piece this is :func:`cues_for_chunk`.
    """
    if parts is not None and len(parts) != len(pieces):
        raise ValueError("cues_for_pieces needs one part per piece")
    kept = [k for k, regions in enumerate(pieces) if _region_spans(regions)]
    spans = [_region_spans(pieces[k]) for k in kept]
    if not spans:
        raise ValueError("cues_for_pieces needs at least one speech region")
    if parts is None:
        parts = share_text(text, [sum(e - s for s, e in piece) for piece in spans])
    else:
        # a piece without speech regions has no place for text: its words go to the next
        merged: list[str] = []
        carry = ""
        for k, part in enumerate(parts):
            if k in kept:
                merged.append(join_texts([carry, part]))
                carry = ""
            else:
                carry = join_texts([carry, part])
        if carry:
            merged[-1] = join_texts([merged[-1], carry])
        parts = merged
    out: list[Segment] = []
    for k, (part, piece) in enumerate(zip(parts, spans, strict=True)):
        lo = not_before if k == 0 else (spans[k - 1][-1][1] + piece[0][0]) / 2
        hi = not_after if k + 1 == len(spans) else (piece[-1][1] + spans[k + 1][0][0]) / 2
        if out:
            lo = max(lo, out[-1].end)
        out.extend(
            cues_for_chunk(part, piece, options, media_duration, not_before=lo, not_after=hi)
        )
    return out


def reshape(
    segments: Sequence[_TimedText],
    options: CueOptions | None = None,
    media_duration: float | None = None,
) -> list[Segment]:
    """Reshape finished (possibly edited) segments to new cue limits.

    Each segment that is too long for one cue (text or duration) is split like
    chunk text, its time shared in proportion to characters; nothing is merged
    across segments, order and every word are kept. Empty segments are dropped.
    Then :func:`enforce_timing` makes the times valid for the media.
    """
    options = options or CueOptions()
    cues: list[Segment] = []
    for seg in segments:
        if not seg.text.strip():
            continue
        start, end = float(seg.start), float(seg.end)
        pieces = _timed_pieces(_Pieces(seg.text, options, _Timeline([(start, end)])))
        speaker = getattr(seg, "speaker", None)
        cues.extend(Segment(p.start, p.end, p.text, speaker) for p in pieces)
    return enforce_timing(cues, options, media_duration)


def split_text(text: str, options: CueOptions | None = None) -> list[str]:
    """The cue texts of ``text`` by length alone (no timing), in order."""
    options = options or CueOptions()
    pieces = _Pieces(text, options, _Timeline([(0.0, 0.0)]))
    return [pieces.piece_text(i, j) for i, j in pieces.split()]


__all__ = [
    "CueOptions",
    "InvalidCueOptions",
    "cue_fits",
    "cues_for_chunk",
    "enforce_timing",
    "reshape",
    "split_text",
    "wrap_lines",
]
