"""The timeline's Qt-free geometry: mapping, zoom clamps, hit-testing, snapping, drags."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.core.transcript import Segment
from app.core.transcript.timeline import (
    MIN_DURATION_S,
    MIN_SPAN_S,
    Hit,
    Part,
    TimelineView,
    drag_times,
    hit_test,
    snap,
    snap_targets,
    visible_range,
)

CUES = [
    Segment(1.0, 2.0, "one"),
    Segment(2.0, 3.5, "two"),  # touches the first
    Segment(5.0, 5.05, "tiny"),  # 50 ms
    Segment(8.0, 9.5, "four"),
]


def view(start: float = 0.0, spp: float = 0.01, width: int = 1000, duration: float = 10.0):
    return TimelineView(duration=duration, width=width, start=start, seconds_per_px=spp).clamped()


def test_time_and_x_round_trip() -> None:
    v = view(start=2.5, spp=0.005)
    for x in (0.0, 1.0, 123.25, 999.0):
        assert v.x_of(v.time_at(x)) == pytest.approx(x)
    for t in (2.5, 3.0, 7.4):
        assert v.time_at(v.x_of(t)) == pytest.approx(t)
    assert v.x_of(2.5) == 0.0 and v.x_of(3.5) == pytest.approx(200.0)


def test_zoom_is_clamped_between_the_whole_file_and_two_seconds() -> None:
    v = TimelineView(duration=3 * 3600.0, width=1200).clamped()
    assert v.start == 0.0 and v.span == pytest.approx(3 * 3600.0)  # starts whole
    for _ in range(40):
        v = v.zoomed(2.0, anchor_x=300)
    assert v.span == pytest.approx(MIN_SPAN_S)
    for _ in range(40):
        v = v.zoomed(0.5, anchor_x=300)
    assert v.span == pytest.approx(3 * 3600.0) and v.start == 0.0
    # a file shorter than the closest zoom is shown whole at that zoom
    short = TimelineView(duration=1.0, width=500).clamped()
    assert short.span == pytest.approx(MIN_SPAN_S) and short.start == 0.0


def test_zoom_keeps_the_time_under_the_anchor() -> None:
    v = view(start=3.0, spp=0.005)  # 3 s - 8 s
    anchor_x = 400.0
    t = v.time_at(anchor_x)
    zoomed = v.zoomed(1.5, anchor_x)
    assert zoomed.seconds_per_px == pytest.approx(0.005 / 1.5)
    assert zoomed.time_at(anchor_x) == pytest.approx(t)
    out = zoomed.zoomed(1 / 1.5, anchor_x)
    assert out.start == pytest.approx(3.0) and out.seconds_per_px == pytest.approx(0.005)


def test_scrolling_stays_inside_the_media() -> None:
    v = view(start=0.0, spp=0.005)  # 5 s of 10 s
    assert v.scrolled_by(-100).start == 0.0
    assert v.scrolled_by(10_000).start == pytest.approx(5.0)
    assert v.scrolled_to(2.0).start == pytest.approx(2.0)
    assert v.centered_on(9.9).end == pytest.approx(10.0)
    assert v.with_width(500).seconds_per_px == pytest.approx(0.005)
    whole = TimelineView(duration=10.0, width=1000).clamped()
    assert whole.with_width(400).span == pytest.approx(10.0)  # whole stays whole


def test_following_the_playhead_pages_forward() -> None:
    v = view(start=0.0, spp=0.002)  # 0-2 s
    assert v.following(1.0) is v
    moved = v.following(2.5)
    assert moved.start < 2.5 < moved.end and moved.start == pytest.approx(2.5 - 0.05 * v.span)
    back = moved.following(0.3)
    assert back.start <= 0.3 <= back.end


def test_visible_range_finds_overlapping_cues() -> None:
    assert list(visible_range(CUES, 0.0, 0.5)) == []
    assert list(visible_range(CUES, 1.5, 2.0)) == [0, 1]
    assert list(visible_range(CUES, 3.6, 4.9)) == []
    assert list(visible_range(CUES, 4.0, 8.0)) == [2, 3]
    assert list(visible_range(CUES, 0.0, 100.0)) == [0, 1, 2, 3]


def test_hit_testing_edges_bodies_and_gaps() -> None:
    v = view(spp=0.01)  # 1 px = 10 ms; cue 0 spans x 100-200
    assert hit_test(CUES, v, 150) == Hit(0, Part.BODY)
    assert hit_test(CUES, v, 103) == Hit(0, Part.START)
    assert hit_test(CUES, v, 97) == Hit(0, Part.START)  # just outside, within tolerance
    assert hit_test(CUES, v, 94) is None  # in the gap, beyond 5 px
    assert hit_test(CUES, v, 300) == Hit(1, Part.BODY)
    assert hit_test(CUES, v, 353) == Hit(1, Part.END)
    assert hit_test(CUES, v, 420) is None
    # where cue 0 ends and cue 1 starts (x = 200), the side of the boundary decides
    assert hit_test(CUES, v, 198) == Hit(0, Part.END)
    assert hit_test(CUES, v, 202) == Hit(1, Part.START)
    # a 5 px cue: its edges take a third each, the middle is its body
    assert hit_test(CUES, v, 502.5) == Hit(2, Part.BODY)
    assert hit_test(CUES, v, 500.5) == Hit(2, Part.START)
    assert hit_test(CUES, v, 504.5) == Hit(2, Part.END)
    # zoomed out, the tolerance in pixels is more time
    far = view(spp=0.1, width=100)
    assert hit_test(CUES, far, 7.5) == Hit(0, Part.START)  # 1.0 s is at x = 10
    assert hit_test(CUES, v, 75) is None  # the same time, zoomed in


def test_snap_targets_are_the_neighbours_and_the_speech() -> None:
    speech = [(0.9, 3.4), (4.95, 5.2), (7.9, 9.6)]
    assert snap_targets(CUES, 2, speech) == [0.9, 2.0, 3.4, 3.5, 4.95, 5.2, 7.9, 8.0, 9.5, 9.6]
    assert snap_targets(CUES, 0, []) == [2.0, 3.5]


def test_snap_within_tolerance_only_and_never_with_shift() -> None:
    targets = [1.0, 2.0, 3.5]
    assert snap(2.04, targets, 0.05) == 2.0
    assert snap(1.96, targets, 0.05) == 2.0
    assert snap(2.06, targets, 0.05) == 2.06
    assert snap(2.04, targets, 0.05, enabled=False) == 2.04  # Shift held
    assert snap(3.0, [], 1.0) == 3.0
    assert snap(1.4, targets, 1.0) == 1.0  # the nearest wins


def test_edge_drags_snap_and_clamp() -> None:
    speech = [(0.9, 3.4), (4.95, 5.2), (7.9, 9.6)]
    targets = snap_targets(CUES, 3, speech)
    # dragging cue 3's start from 8.0 to 7.93: snaps to the speech start at 7.9
    assert drag_times(
        CUES, 3, Part.START, -0.07, duration=10.0, targets=targets, snap_tolerance_s=0.05
    ) == (7.9, 9.5)
    # ... unless Shift is held (no targets given): kept to the millisecond
    assert drag_times(CUES, 3, Part.START, -0.07, duration=10.0) == (pytest.approx(7.93), 9.5)
    # past the previous cue's end: stops there
    assert drag_times(CUES, 3, Part.START, -10.0, duration=10.0) == (5.05, 9.5)
    # past its own end: keeps the minimum duration
    assert drag_times(CUES, 3, Part.START, 5.0, duration=10.0) == (
        pytest.approx(9.5 - MIN_DURATION_S),
        9.5,
    )
    # the end: not past the media, not before start + minimum
    assert drag_times(CUES, 3, Part.END, 5.0, duration=10.0) == (8.0, 10.0)
    assert drag_times(CUES, 3, Part.END, -5.0, duration=10.0) == (8.0, pytest.approx(8.1))
    # a touching neighbour blocks at once
    assert drag_times(CUES, 0, Part.END, 0.5, duration=10.0) == (1.0, 2.0)
    # a cue shorter than the minimum can't be made shorter, and keeps its length
    assert drag_times(CUES, 2, Part.END, -1.0, duration=10.0) == (5.0, pytest.approx(5.05))


def test_body_drags_keep_the_length_and_snap_either_edge() -> None:
    speech = [(5.6, 7.0)]
    targets = snap_targets(CUES, 2, speech)  # 3.5 (prev end), 5.6, 7.0, 8.0, 9.5
    # moved 0.52 s: its start 5.52 snaps to 5.6? no, beyond 0.05; its end 5.57 -> 5.6
    start, end = drag_times(
        CUES, 2, Part.BODY, 0.52, duration=10.0, targets=targets, snap_tolerance_s=0.05
    )
    assert (start, end) == (pytest.approx(5.55), pytest.approx(5.6))
    # blocked by the neighbours on both sides
    assert drag_times(CUES, 2, Part.BODY, -5.0, duration=10.0) == (3.5, pytest.approx(3.55))
    assert drag_times(CUES, 2, Part.BODY, 5.0, duration=10.0) == (
        pytest.approx(7.95),
        pytest.approx(8.0),
    )
    # the last cue stops at the end of the media
    assert drag_times(CUES, 3, Part.BODY, 3.0, duration=10.0) == (
        pytest.approx(8.5),
        pytest.approx(10.0),
    )


@pytest.mark.parametrize("seed", range(5))
def test_random_drags_never_overlap_leave_the_media_or_get_too_short(seed: int) -> None:
    rng = np.random.default_rng(seed)
    duration = 60.0
    cuts = np.sort(rng.uniform(0, duration, 40))
    cues = [
        Segment(float(a), float(a + (b - a) * rng.uniform(0.3, 1.0)), "x")
        for a, b in itertools.pairwise(cuts)
    ]
    speech = [(float(c.start) - 0.03, float(c.end) + 0.02) for c in cues[::3]]
    for _ in range(400):
        i = int(rng.integers(len(cues)))
        part = [Part.START, Part.END, Part.BODY][int(rng.integers(3))]
        delta = float(rng.normal(0, 3))
        use_snap = bool(rng.integers(2))
        targets = snap_targets(cues, i, speech) if use_snap else []
        start, end = drag_times(
            cues, i, part, delta, duration=duration, targets=targets, snap_tolerance_s=0.2
        )
        old = cues[i]
        assert 0.0 <= start < end <= duration
        assert end - start >= min(MIN_DURATION_S, old.duration) - 1e-9
        if i > 0:
            assert start >= cues[i - 1].end - 1e-9
        if i + 1 < len(cues):
            assert end <= cues[i + 1].start + 1e-9
        if part is Part.BODY:
            assert end - start == pytest.approx(old.duration)
        elif part is Part.START:
            assert end == old.end
        else:
            assert start == old.start
        cues[i] = Segment(start, end, old.text)
