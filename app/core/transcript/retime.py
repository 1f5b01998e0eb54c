"""Subtitle timing tools: shift, stretch, set to the playhead, gaps, and "fix common problems".

Each tool works out the new list of cues first (a *plan*, which a dialog can
preview) and turns it into ONE edit command (:func:`replace_changed`), so that a
whole retiming is a single undo step whose inverse restores every cue exactly.
Times are rounded to the millisecond, as SRT and VTT write them; rounding keeps
order, so it never creates an overlap.

What the tools do at the edges:

* **Shift** moves the chosen cues by one offset. The offset is reduced (never
  split up) so that no cue starts before 0, none ends past the media, and a
  shifted cue never runs into a cue that is not shifted; the plan says so.
* **Stretch** maps every time through ``t' = a·t + b`` from two anchors. Times
  before 0 or past the media are clipped; a cue that would lie entirely outside
  is refused (nothing changes) with a message naming it.
* **Set start / end to the playhead** also moves the neighbour's touching edge
  when the playhead lies inside it, as long as the neighbour keeps some time.
* **Fix common problems** removes empty cues, trims cues past the media end,
  resolves overlaps (the earlier cue ends where the next starts; two cues that
  start together are merged), splits a cue whose text does not fit its lines or
  cannot be read within the longest duration (and trims one that is merely
  held too long), lengthens cues that are too short or too fast to read into the
  free time around them, and opens gaps below the minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import replace as _replace

from app.core.transcript.checks import CheckLimits
from app.core.transcript.cues import CueOptions, cue_fits, reshape
from app.core.transcript.edits import ReplaceSegments
from app.core.transcript.model import Command, EditError, Segment
from app.core.transcript.text import join_texts
from app.core.transcript.timecode import format_time

_EPS = 1e-6
_MS = 0.001


def _ms(seconds: float) -> float:
    return round(seconds, 3)


def replace_changed(old: Sequence[Segment], new: Sequence[Segment], label: str) -> ReplaceSegments:
    """One command that turns ``old`` into ``new`` by replacing only the rows that differ."""
    first = 0
    limit = min(len(old), len(new))
    while first < limit and old[first] == new[first]:
        first += 1
    tail = 0
    while tail < limit - first and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    return ReplaceSegments(
        first, len(old) - first - tail, tuple(new[first : len(new) - tail]), label
    )


def _media_end(media_duration: float | None) -> float:
    return media_duration if media_duration and media_duration > 0 else math.inf


# --------------------------------------------------------------------------- shift


@dataclass(frozen=True)
class ShiftPlan:
    segments: tuple[Segment, ...]
    offset: float  # the offset applied (may be less than the one asked for)
    requested: float
    note: str  # why the offset was reduced, or ""

    def message(self, count: int) -> str:
        what = f"{count} cue{'s' if count != 1 else ''}"
        if self.note and not self.offset:
            return f"Not shifted: {self.note}"
        if self.note:
            return (
                f"Shifted {what} by {self.offset:+.3f} s, not {self.requested:+.3f} s: {self.note}"
            )
        return f"Shifted {what} by {self.offset:+.3f} s"


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted rows as inclusive runs of consecutive rows."""
    out: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if out and row == out[-1][1] + 1:
            out[-1] = (out[-1][0], row)
        else:
            out.append((row, row))
    return out


def plan_shift(
    segments: Sequence[Segment],
    rows: Sequence[int] | None,
    offset: float,
    media_duration: float | None = None,
) -> ShiftPlan:
    """Shift cues ``rows`` (all when None) by ``offset`` seconds, as far as there is room."""
    segments = list(segments)
    chosen = range(len(segments)) if rows is None else rows
    if any(not 0 <= r < len(segments) for r in chosen):
        raise EditError("Choose cues that exist to shift")
    runs = _runs(chosen)
    if not runs:
        raise EditError("Select the cues to shift")
    offset = _ms(offset)
    end = _media_end(media_duration)
    low, low_why = -math.inf, ""
    high, high_why = math.inf, ""
    for first, last in runs:
        if first == 0:
            room, why = segments[0].start, "the first cue would start before 0"
        else:
            room = segments[first].start - segments[first - 1].end
            why = f"cue {first + 1} would overlap cue {first}"
        if -max(0.0, room) > low:
            low, low_why = -max(0.0, room), why
        if last + 1 < len(segments):
            room = segments[last + 1].start - segments[last].end
            why = f"cue {last + 1} would overlap cue {last + 2}"
        else:
            room, why = end - segments[last].end, "the last cue would end past the media"
        if max(0.0, room) < high:
            high, high_why = max(0.0, room), why
    applied, note = offset, ""
    if offset < low - _EPS:
        applied, note = _ms(low), low_why
    elif offset > high + _EPS:
        applied, note = _ms(high), high_why
    new = list(segments)
    if applied:
        for first, last in runs:
            for r in range(first, last + 1):
                seg = segments[r]
                new[r] = _replace(
                    seg, start=max(0.0, _ms(seg.start + applied)), end=_ms(seg.end + applied)
                )
    return ShiftPlan(tuple(new), applied + 0.0, offset + 0.0, note)  # no -0.0


def shift_command(
    segments: Sequence[Segment],
    rows: Sequence[int] | None,
    offset: float,
    media_duration: float | None = None,
) -> tuple[Command, str]:
    """The one command for :func:`plan_shift`, and the message to show."""
    plan = plan_shift(segments, rows, offset, media_duration)
    count = len(segments) if rows is None else len(set(rows))
    label = "Shift all cues" if rows is None else f"Shift {count} cue(s)"
    return replace_changed(segments, plan.segments, label), plan.message(count)


# --------------------------------------------------------------------------- stretch


def linear_map(t1: float, new1: float, t2: float, new2: float) -> tuple[float, float]:
    """(a, b) of ``t' = a·t + b`` taking ``t1`` to ``new1`` and ``t2`` to ``new2``."""
    if abs(t2 - t1) < _MS:
        raise EditError("The two anchor cues start at the same time: choose two others")
    a = (new2 - new1) / (t2 - t1)
    if a <= 0:
        raise EditError("The anchors' new times must be in the same order as the cues")
    return a, new1 - a * t1


def plan_stretch(
    segments: Sequence[Segment],
    row1: int,
    new_start1: float,
    row2: int,
    new_start2: float,
    media_duration: float | None = None,
) -> tuple[Segment, ...]:
    """Every cue mapped linearly so that cue ``row1`` starts at ``new_start1`` and ``row2`` at
    ``new_start2`` (for subtitles timed against another cut or frame rate)."""
    n = len(segments)
    if not (0 <= row1 < n and 0 <= row2 < n):
        raise EditError("Choose two cues that exist as anchors")
    if row1 == row2:
        raise EditError("Choose two different cues as anchors")
    a, b = linear_map(segments[row1].start, new_start1, segments[row2].start, new_start2)
    end = _media_end(media_duration)
    out: list[Segment] = []
    for k, seg in enumerate(segments):
        start = min(max(0.0, _ms(a * seg.start + b)), end)
        stop = min(max(0.0, _ms(a * seg.end + b)), end)
        if stop - start < _MS and seg.end > seg.start:
            where = "before the start" if a * seg.end + b <= 0 else "past the end"
            raise EditError(
                f"The stretch puts cue {k + 1} {where} of the media: choose other anchors"
            )
        out.append(_replace(seg, start=start, end=max(stop, start)))
    return tuple(out)


# --------------------------------------------------------------------------- playhead


def set_edge_command(
    segments: Sequence[Segment],
    row: int,
    edge: str,
    seconds: float,
    media_duration: float | None = None,
) -> Command:
    """Set the ``"start"`` or ``"end"`` of cue ``row`` to ``seconds`` (the playhead).

    A start after the cue's end keeps the cue's duration (as far as the next cue
    allows). Where the playhead lies inside the neighbour, the neighbour's
    touching edge moves too, when it keeps at least a millisecond.
    """
    if not 0 <= row < len(segments):
        raise EditError("Select a cue first")
    new = list(segments)
    seg = segments[row]
    end_limit = _media_end(media_duration)
    t = min(max(0.0, _ms(seconds)), end_limit)
    prev = segments[row - 1] if row > 0 else None
    nxt = segments[row + 1] if row + 1 < len(segments) else None
    here = format_time(t)
    if edge == "start":
        stop = seg.end
        if t > seg.end - _MS:
            stop = min(_ms(t + max(seg.duration, _MS)), nxt.start if nxt else end_limit)
            if stop - t < _MS:
                raise EditError(f"No room for cue {row + 1} at {here}: the next cue starts there")
        if prev is not None and prev.end > t + _EPS:
            if t - prev.start < _MS:
                raise EditError(
                    f"The playhead ({here}) is at the start of cue {row}: select that cue"
                )
            new[row - 1] = _replace(prev, end=t)
        new[row] = _replace(seg, start=t, end=stop)
        label = f"Set start of cue {row + 1} to {here}"
    elif edge == "end":
        if t - seg.start < _MS:
            raise EditError(
                f"The playhead ({here}) is before the start of cue {row + 1} "
                f"({format_time(seg.start)})"
            )
        if nxt is not None and nxt.start < t - _EPS:
            if nxt.end - t < _MS:
                raise EditError(f"The playhead ({here}) is past the end of cue {row + 2}")
            new[row + 1] = _replace(nxt, start=t)
        new[row] = _replace(seg, end=t)
        label = f"Set end of cue {row + 1} to {here}"
    else:
        raise ValueError(f"edge must be 'start' or 'end', not {edge!r}")
    return replace_changed(segments, new, label)


# --------------------------------------------------------------------------- gaps


def close_gaps(
    segments: Sequence[Segment], shorter_than: float, leave: float = 0.0
) -> tuple[Segment, ...]:
    """Extend each cue's end across a following gap shorter than ``shorter_than``,
    to ``leave`` seconds before the next cue starts (0: up to its start)."""
    if leave < 0 or shorter_than < 0:
        raise EditError("Gap lengths can't be negative")
    out = list(segments)
    for i in range(len(out) - 1):
        cur, nxt = out[i], out[i + 1]
        gap = nxt.start - cur.end
        if leave + _EPS < gap < shorter_than - _EPS:
            out[i] = _replace(cur, end=_ms(nxt.start - leave))
    return tuple(out)


def enforce_min_gap(
    segments: Sequence[Segment], min_gap: float, min_duration: float = 0.0
) -> tuple[tuple[Segment, ...], list[int]]:
    """Open every gap (not overlaps) below ``min_gap`` seconds.

    The earlier cue's end moves back, as long as that cue keeps ``min_duration``;
    what is still missing comes from the next cue's start (same rule). Returns
    the cues and the rows (0-based) where there was not enough room.
    """
    out = list(segments)
    stuck: list[int] = []
    for i in range(len(out) - 1):
        cur, nxt = out[i], out[i + 1]
        gap = nxt.start - cur.end
        if gap < -_EPS or gap >= min_gap - _EPS:
            continue
        need = min_gap - gap
        take = min(need, max(0.0, cur.duration - min_duration))
        out[i] = cur = _replace(cur, end=_ms(cur.end - take))
        need -= take
        if need > _EPS:
            take = min(need, max(0.0, nxt.duration - min_duration))
            out[i + 1] = _replace(nxt, start=_ms(nxt.start + take))
            need -= take
        if need > 1e-4:
            stuck.append(i)
    return tuple(out), stuck


# --------------------------------------------------------------------------- fix problems


@dataclass(frozen=True)
class Fix:
    """One cue's change: its number before the fix, the cue, what it became, and why."""

    cue: int  # 1-based
    before: Segment
    after: tuple[Segment, ...]  # () when removed, several when split
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FixPlan:
    segments: tuple[Segment, ...]
    fixes: tuple[Fix, ...]


@dataclass
class _Item:
    seg: Segment
    origin: int
    reasons: list[str] = field(default_factory=list)


def _secs(value: float) -> str:
    return f"{value:.3f} s"


def _split_long(item: _Item, options: CueOptions) -> list[_Item]:
    """Split a cue whose text is too much for one cue; trim one that is only held too long."""
    seg = item.seg
    too_long = seg.duration > options.max_duration_s + _EPS
    readable = options.reading_seconds(seg.text) <= options.max_duration_s + _EPS
    fits = cue_fits(seg.text, options)
    if fits and (readable or not too_long):
        if too_long:
            item.seg = _replace(seg, end=_ms(seg.start + options.max_duration_s))
            item.reasons.append(
                f"too long ({_secs(seg.duration)}): end trimmed to {options.max_duration_s:g} s"
            )
        return [item]
    pieces = [
        _replace(p, start=max(p.start, seg.start), end=min(p.end, seg.end))
        for p in reshape([seg], options)
    ]
    if len(pieces) < 2 or any(p.end - p.start < _MS for p in pieces):
        if too_long:  # cannot split it sensibly: trim it at least
            item.seg = _replace(seg, end=_ms(seg.start + options.max_duration_s))
            item.reasons.append(f"too long ({_secs(seg.duration)}): end trimmed")
        return [item]
    why = "text does not fit its lines" if not fits else f"too long ({_secs(seg.duration)})"
    item.reasons.append(f"{why}: split into {len(pieces)} cues")
    return [_Item(p, item.origin, item.reasons) for p in pieces]


def _fix_overlaps(items: list[_Item]) -> list[_Item]:
    out: list[_Item] = []
    for item in items:
        if out and out[-1].seg.end > item.seg.start + _EPS:
            prev = out[-1]
            if item.seg.start - prev.seg.start >= _MS:
                prev.reasons.append(
                    f"overlapped the next cue: end moved to {format_time(item.seg.start)}"
                )
                prev.seg = _replace(prev.seg, end=item.seg.start)
            else:  # they start together: one cue
                prev.reasons.append(f"started with cue {item.origin + 1}: merged with it")
                item.reasons.append(f"started with cue {prev.origin + 1}: merged into it")
                prev.seg = _replace(
                    prev.seg,
                    end=max(prev.seg.end, item.seg.end),
                    text=join_texts([prev.seg.text, item.seg.text]),
                )
                continue
        out.append(item)
    return out


def _wanted(seg: Segment, options: CueOptions) -> float:
    """How long a cue should last: the minimum, or its reading time, at most the maximum."""
    reading = options.reading_seconds(seg.text)
    return min(max(options.min_duration_s, reading), options.max_duration_s)


def _lengthen(items: list[_Item], options: CueOptions, min_gap: float, end: float) -> None:
    """Lengthen cues that are too short, or too fast to read: into the free time after
    them, then into the spare time of the next cue (above what it needs), then into
    the free time before them."""
    for k, item in enumerate(items):
        seg = item.seg
        target = _wanted(seg, options)
        if seg.duration >= target - _EPS:
            continue
        nxt = items[k + 1] if k + 1 < len(items) else None
        after = nxt.seg.start - min_gap if nxt is not None else end
        stop = max(seg.end, min(seg.start + target, after))
        if nxt is not None and stop - seg.start < target - _EPS:
            spare = nxt.seg.duration - _wanted(nxt.seg, options)
            push = min(target - (stop - seg.start), max(0.0, spare))
            if push > _MS and stop >= after - _EPS:
                nxt.seg = _replace(nxt.seg, start=_ms(nxt.seg.start + push))
                nxt.reasons.append(
                    f"start moved {_secs(push)} later to make room for the cue before"
                )
                stop = _ms(stop + push)
        before = items[k - 1].seg.end + min_gap if k else 0.0
        start = min(seg.start, max(stop - target, before))
        if stop - start <= seg.duration + _EPS:
            continue
        short = seg.duration < options.min_duration_s - _EPS
        why = "too short" if short else "too fast to read"
        item.seg = _replace(seg, start=_ms(start), end=_ms(stop))
        item.reasons.append(f"{why} ({_secs(seg.duration)}): lengthened to {_secs(stop - start)}")


def plan_fixes(
    segments: Sequence[Segment],
    limits: CheckLimits | None = None,
    media_duration: float | None = None,
) -> FixPlan:
    """Fix empty, overlapping, too long, too short and over-long-line cues (see the module doc)."""
    limits = limits or CheckLimits()
    options = limits.cues
    end = _media_end(media_duration)
    items: list[_Item] = []
    removed: dict[int, str] = {}
    for k, seg in enumerate(segments):
        if not seg.text.strip():
            removed[k] = "empty: removed"
            continue
        item = _Item(seg, k)
        if seg.end > end + _EPS:
            if seg.start >= end - _MS:
                removed[k] = "starts after the end of the media: removed"
                continue
            item.seg = _replace(seg, end=end)
            item.reasons.append("ran past the end of the media: end trimmed")
        items.append(item)
    items = _fix_overlaps(items)
    items = [piece for item in items for piece in _split_long(item, options)]
    _lengthen(items, options, limits.min_gap_s, end)
    if limits.min_gap_s > 0:
        spaced, _stuck = enforce_min_gap(
            [it.seg for it in items], limits.min_gap_s, options.min_duration_s
        )
        for item, seg in zip(items, spaced, strict=True):
            if seg != item.seg:
                item.reasons.append(f"gap below {limits.min_gap_s:g} s: opened")
                item.seg = seg
    new = tuple(_replace(it.seg, start=_ms(it.seg.start), end=_ms(it.seg.end)) for it in items)
    fixes: list[Fix] = []
    by_origin: dict[int, list[int]] = {}
    for pos, item in enumerate(items):
        by_origin.setdefault(item.origin, []).append(pos)
    merged_away = {it.origin for it in items}
    for k, seg in enumerate(segments):
        if k in removed:
            fixes.append(Fix(k + 1, seg, (), (removed[k],)))
            continue
        positions = by_origin.get(k, [])
        after = tuple(new[p] for p in positions)
        if k not in merged_away:
            reasons = _merged_reasons(items, k)
            fixes.append(Fix(k + 1, seg, (), reasons))
        elif after != (seg,):
            reasons = tuple(dict.fromkeys(r for p in positions for r in items[p].reasons))
            fixes.append(Fix(k + 1, seg, after, reasons or ("times rounded",)))
    return FixPlan(new, tuple(fixes))


def _merged_reasons(items: list[_Item], origin: int) -> tuple[str, ...]:
    for item in items:
        for reason in item.reasons:
            if reason == f"started with cue {origin + 1}: merged with it":
                return (f"started with cue {item.origin + 1}: merged into it",)
    return ("merged into the previous cue",)


__all__ = [
    "Fix",
    "FixPlan",
    "ShiftPlan",
    "close_gaps",
    "enforce_min_gap",
    "linear_map",
    "plan_fixes",
    "plan_shift",
    "plan_stretch",
    "replace_changed",
    "set_edge_command",
    "shift_command",
]
