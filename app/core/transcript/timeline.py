"""The geometry of the editor's waveform timeline, without Qt.

- :class:`TimelineView`: which stretch of the media is shown on how many pixels; maps
  time to x and back, zooms about a point and scrolls, clamped between the whole file
  and ``MIN_SPAN_S`` across.
- :func:`hit_test`: which cue, and which part of it (start edge, end edge, body), lies
  under an x position, with an edge tolerance in pixels.
- :func:`snap_targets` / :func:`snap`: the neighbouring cues' edges and the speech
  edges found by detection, within a tolerance in pixels (no snapping with Shift).
- :func:`drag_times`: the new (start, end) of a cue dragged by an edge or by its body;
  never overlapping its neighbours, inside the media, and at least ``min_duration``.

Times are float seconds from the start of the media; ``cues`` are any sequence of
objects with ``start`` and ``end`` (transcript segments), sorted and not overlapping.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

MIN_SPAN_S = 2.0  # the closest zoom shows this many seconds across the view
EDGE_TOLERANCE_PX = 5.0
SNAP_TOLERANCE_PX = 8.0
MIN_DURATION_S = 0.1  # a drag never makes a cue shorter than this
TIME_DECIMALS = 3  # dragged times are kept to the millisecond (as shown)


class Timed(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


@dataclass(frozen=True)
class TimelineView:
    """``width`` pixels showing the media from ``start`` at ``seconds_per_px``."""

    duration: float
    width: int
    start: float = 0.0
    seconds_per_px: float = 0.0  # 0: the whole file (see :meth:`clamped`)

    # -- limits -----------------------------------------------------------------
    @property
    def min_seconds_per_px(self) -> float:
        return MIN_SPAN_S / max(1, self.width)

    @property
    def max_seconds_per_px(self) -> float:
        return max(self.duration, MIN_SPAN_S) / max(1, self.width)

    @property
    def span(self) -> float:
        return self.seconds_per_px * max(1, self.width)

    @property
    def end(self) -> float:
        return self.start + self.span

    def clamped(self) -> TimelineView:
        """Zoom within [2 s across, the whole file] and scroll within the media."""
        spp = self.seconds_per_px or self.max_seconds_per_px
        spp = min(max(spp, self.min_seconds_per_px), self.max_seconds_per_px)
        span = spp * max(1, self.width)
        start = min(max(self.start, 0.0), max(0.0, self.duration - span))
        return replace(self, start=start, seconds_per_px=spp)

    # -- mapping ------------------------------------------------------------------
    def x_of(self, seconds: float) -> float:
        return (seconds - self.start) / self.seconds_per_px

    def time_at(self, x: float) -> float:
        return self.start + x * self.seconds_per_px

    def visible(self, seconds: float) -> bool:
        return self.start <= seconds <= self.end

    # -- changes (each returns a clamped view) ------------------------------------------
    def with_width(self, width: int) -> TimelineView:
        """Resized: keeps the start and the zoom (the whole file stays whole)."""
        whole = self.seconds_per_px >= self.max_seconds_per_px - 1e-12
        view = replace(self, width=max(1, width))
        if whole:
            view = replace(view, seconds_per_px=0.0)
        return view.clamped()

    def with_duration(self, duration: float) -> TimelineView:
        return replace(self, duration=max(0.0, duration)).clamped()

    def zoomed(self, factor: float, anchor_x: float | None = None) -> TimelineView:
        """Zoom in (``factor`` > 1) or out about ``anchor_x`` (default: the middle).

        The time under the anchor stays under it, unless the clamps move it.
        """
        if anchor_x is None:
            anchor_x = self.width / 2
        anchor = self.time_at(anchor_x)
        spp = min(
            max(self.seconds_per_px / factor, self.min_seconds_per_px), self.max_seconds_per_px
        )
        return replace(self, seconds_per_px=spp, start=anchor - anchor_x * spp).clamped()

    def scrolled_to(self, start: float) -> TimelineView:
        return replace(self, start=start).clamped()

    def scrolled_by(self, pixels: float) -> TimelineView:
        return self.scrolled_to(self.start + pixels * self.seconds_per_px)

    def centered_on(self, seconds: float) -> TimelineView:
        return self.scrolled_to(seconds - self.span / 2)

    def following(self, seconds: float, margin: float = 0.05) -> TimelineView:
        """Scrolled, if needed, so that a playhead at ``seconds`` is in view.

        When the playhead leaves the view (or is about to, within ``margin`` of the
        width from the right edge), the view pages so that it sits ``margin`` from the
        left edge, as subtitle editors do during playback.
        """
        lead = margin * self.span
        if self.start <= seconds <= self.end - lead:
            return self
        return self.scrolled_to(seconds - lead)


# -- hit-testing ---------------------------------------------------------------------------------
class Part(enum.Enum):
    START = "start"  # the left edge
    END = "end"  # the right edge
    BODY = "body"


@dataclass(frozen=True)
class Hit:
    index: int
    part: Part


def _first_ending_after(cues: Sequence[Timed], seconds: float) -> int:
    """Index of the first cue whose end is >= ``seconds`` (cues are sorted)."""
    lo, hi = 0, len(cues)
    while lo < hi:
        mid = (lo + hi) // 2
        if cues[mid].end < seconds:
            lo = mid + 1
        else:
            hi = mid
    return lo


def visible_range(cues: Sequence[Timed], start: float, end: float) -> range:
    """Indices of the cues that overlap [start, end], found by bisection."""
    first = _first_ending_after(cues, start)
    lo, hi = first, len(cues)
    while lo < hi:  # first cue starting after ``end``
        mid = (lo + hi) // 2
        if cues[mid].start <= end:
            lo = mid + 1
        else:
            hi = mid
    return range(first, lo)


def hit_test(
    cues: Sequence[Timed],
    view: TimelineView,
    x: float,
    tolerance_px: float = EDGE_TOLERANCE_PX,
) -> Hit | None:
    """The cue part under ``x``: the nearest edge within ``tolerance_px``, else a body.

    On a cue narrower than three tolerances, the edges take a third of its width each,
    so its body can still be grabbed. Where one cue ends exactly where the next starts,
    the side of the boundary that ``x`` is on decides which edge it is.
    """
    t = view.time_at(x)
    slack = tolerance_px * view.seconds_per_px
    best: tuple[float, int, Hit] | None = None
    for i in visible_range(cues, t - slack, t + slack):
        cue = cues[i]
        width_px = (cue.end - cue.start) / view.seconds_per_px
        tol = min(tolerance_px, width_px / 3)
        for part, edge, inside in (
            (Part.START, cue.start, x >= view.x_of(cue.start)),
            (Part.END, cue.end, x <= view.x_of(cue.end)),
        ):
            distance = abs(x - view.x_of(edge))
            if distance <= tol:
                key = (distance, 0 if inside else 1, Hit(i, part))
                if best is None or key[:2] < best[:2]:
                    best = key
    if best is not None:
        return best[2]
    for i in visible_range(cues, t, t):
        if cues[i].start <= t <= cues[i].end:
            return Hit(i, Part.BODY)
    return None


# -- snapping --------------------------------------------------------------------------------------
def snap_targets(
    cues: Sequence[Timed],
    index: int,
    speech: Iterable[tuple[float, float]] = (),
) -> list[float]:
    """Where cue ``index`` may snap: the neighbouring cues' edges and the speech edges."""
    targets: list[float] = []
    for j in (index - 1, index + 1):
        if 0 <= j < len(cues):
            targets += [cues[j].start, cues[j].end]
    for start, end in speech:
        targets += [start, end]
    return sorted(set(targets))


def snap(
    seconds: float, targets: Sequence[float], tolerance_s: float, enabled: bool = True
) -> float:
    """The nearest target within ``tolerance_s`` of ``seconds``, else ``seconds``."""
    if not enabled or not targets:
        return seconds
    i = bisect.bisect_left(targets, seconds)
    best = seconds
    best_distance = tolerance_s
    for j in (i - 1, i):
        if 0 <= j < len(targets):
            distance = abs(targets[j] - seconds)
            if distance <= best_distance:
                best, best_distance = targets[j], distance
    return best


# -- dragging -------------------------------------------------------------------------------------
def _step(seconds: float) -> float:
    return round(seconds, TIME_DECIMALS)


def drag_limits(cues: Sequence[Timed], index: int, duration: float) -> tuple[float, float]:
    """The free slot cue ``index`` may occupy: after the previous cue, before the next."""
    cue = cues[index]
    lower = cues[index - 1].end if index > 0 else 0.0
    upper = cues[index + 1].start if index + 1 < len(cues) else math.inf
    if duration > 0:
        upper = min(upper, max(duration, cue.end))
    # data that already overlaps (e.g. an imported file) never makes a drag impossible
    return min(lower, cue.start), max(upper, cue.end)


def drag_times(
    cues: Sequence[Timed],
    index: int,
    part: Part,
    delta: float,
    *,
    duration: float,
    targets: Sequence[float] = (),
    snap_tolerance_s: float = 0.0,
    min_duration: float = MIN_DURATION_S,
) -> tuple[float, float]:
    """The (start, end) of cue ``index`` after moving ``part`` by ``delta`` seconds.

    The moved edge (for a body drag: whichever edge lands nearer a target) snaps to
    ``targets`` within ``snap_tolerance_s``; then the result is kept to the millisecond,
    inside the free slot between the neighbours and the media, and (for an edge drag)
    at least ``min_duration`` long, or as long as the cue already was if shorter.
    """
    cue = cues[index]
    lower, upper = drag_limits(cues, index, duration)
    length = cue.end - cue.start
    shortest = min(min_duration, length)
    if part is Part.START:
        start = _step(snap(cue.start + delta, targets, snap_tolerance_s))
        start = min(max(start, lower), cue.end - shortest)
        return start, cue.end
    if part is Part.END:
        end = _step(snap(cue.end + delta, targets, snap_tolerance_s))
        end = max(min(end, upper), cue.start + shortest)
        return cue.start, end
    start = cue.start + delta
    by_start = snap(start, targets, snap_tolerance_s) - start
    by_end = snap(start + length, targets, snap_tolerance_s) - (start + length)
    moves = [m for m in (by_start, by_end) if m != 0.0]
    if moves:
        start += min(moves, key=abs)
    start = _step(start)
    start = min(max(start, lower), upper - length)
    return start, start + length
