"""Retiming tools: shift, stretch, playhead edges, gaps and "fix common problems"."""

from __future__ import annotations

import pytest

from app.core.transcript import EditError, Segment, Transcript, TranscriptMeta
from app.core.transcript.checks import CheckLimits, check_cues
from app.core.transcript.cues import CueOptions
from app.core.transcript.edits import ReplaceSegments
from app.core.transcript.retime import (
    close_gaps,
    enforce_min_gap,
    linear_map,
    plan_fixes,
    plan_shift,
    plan_stretch,
    replace_changed,
    set_edge_command,
    shift_command,
)

S = Segment
SEGS = (S(0.5, 1.5, "One."), S(2.0, 3.0, "Two."), S(5.0, 6.0, "Three."))


def times(segments: tuple[Segment, ...] | list[Segment]) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in segments]


def test_replace_changed_touches_only_the_rows_that_differ() -> None:
    new = (SEGS[0], S(2.5, 3.0, "Two."), SEGS[2])
    assert replace_changed(SEGS, new, "x") == ReplaceSegments(1, 1, (new[1],), "x")
    assert replace_changed(SEGS, SEGS[:2], "x") == ReplaceSegments(2, 1, (), "x")
    assert replace_changed(SEGS, SEGS, "x") == ReplaceSegments(3, 0, (), "x")


def test_shift_all_within_the_media() -> None:
    plan = plan_shift(SEGS, None, 1.25, media_duration=10.0)
    assert times(plan.segments) == [(1.75, 2.75), (3.25, 4.25), (6.25, 7.25)]
    assert (plan.offset, plan.note) == (1.25, "")
    assert plan.message(3) == "Shifted 3 cues by +1.250 s"


def test_shift_all_is_limited_by_zero_and_the_media_end() -> None:
    later = plan_shift(SEGS, None, 5.0, media_duration=10.0)
    assert times(later.segments) == [(4.5, 5.5), (6.0, 7.0), (9.0, 10.0)]
    assert later.message(3) == (
        "Shifted 3 cues by +4.000 s, not +5.000 s: the last cue would end past the media"
    )
    earlier = plan_shift(SEGS, None, -1.0)
    assert times(earlier.segments) == [(0.0, 1.0), (1.5, 2.5), (4.5, 5.5)]
    assert earlier.note == "the first cue would start before 0"
    none = plan_shift(earlier.segments, None, -1.0)
    assert none.segments == earlier.segments
    assert none.message(3) == "Not shifted: the first cue would start before 0"


def test_shift_selected_never_overlaps_unshifted_neighbours() -> None:
    assert times(plan_shift(SEGS, [1], 0.5).segments)[1] == (2.5, 3.5)
    later = plan_shift(SEGS, [1], 3.0)
    assert times(later.segments) == [(0.5, 1.5), (4.0, 5.0), (5.0, 6.0)]
    assert later.note == "cue 2 would overlap cue 3"
    earlier = plan_shift(SEGS, [1], -2.0)
    assert times(earlier.segments) == [(0.5, 1.5), (1.5, 2.5), (5.0, 6.0)]
    assert earlier.note == "cue 2 would overlap cue 1"
    # two separate runs move together, by what the tighter one allows
    both = plan_shift(SEGS, [0, 2], 1.5, media_duration=10.0)
    assert times(both.segments) == [(1.0, 2.0), (2.0, 3.0), (5.5, 6.5)]


def test_shift_command_is_one_undoable_edit() -> None:
    transcript = Transcript(list(SEGS), TranscriptMeta(duration=10.0))
    command, message = shift_command(transcript.segments, [1, 2], 0.5, 10.0)
    assert message == "Shifted 2 cues by +0.500 s"
    inverse = transcript.apply(command)
    assert times(transcript.segments) == [(0.5, 1.5), (2.5, 3.5), (5.5, 6.5)]
    transcript.apply(inverse)
    assert transcript.segments == SEGS
    with pytest.raises(EditError):
        shift_command(SEGS, [], 1.0)


def test_linear_map_from_two_anchors() -> None:
    assert linear_map(10.0, 12.0, 20.0, 22.0) == (1.0, 2.0)
    assert linear_map(0.5, 1.0, 5.0, 10.0) == (2.0, 0.0)
    a, b = linear_map(0.0, 0.0, 1001.0, 1000.0)  # 25 -> 24.975 fps kind of drift
    assert a == pytest.approx(1000 / 1001) and b == 0.0
    with pytest.raises(EditError, match="same order"):
        linear_map(1.0, 5.0, 2.0, 4.0)
    with pytest.raises(EditError, match="same time"):
        linear_map(1.0, 5.0, 1.0, 6.0)


def test_stretch_maps_every_cue() -> None:
    stretched = plan_stretch(SEGS, 0, 1.0, 2, 10.0)  # t' = 2t
    assert times(stretched) == [(1.0, 3.0), (4.0, 6.0), (10.0, 12.0)]
    assert [s.text for s in stretched] == ["One.", "Two.", "Three."]
    clipped = plan_stretch(SEGS, 0, 1.0, 2, 10.0, media_duration=11.0)
    assert times(clipped)[2] == (10.0, 11.0)
    with pytest.raises(EditError, match="cue 3 past the end of the media"):
        plan_stretch(SEGS, 0, 1.0, 2, 10.0, media_duration=9.5)
    with pytest.raises(EditError, match="different cues"):
        plan_stretch(SEGS, 1, 1.0, 1, 2.0)


def test_set_start_to_the_playhead() -> None:
    def apply(row: int, edge: str, t: float) -> list[tuple[float, float]]:
        transcript = Transcript(list(SEGS), TranscriptMeta(duration=10.0))
        transcript.apply(set_edge_command(transcript.segments, row, edge, t, 10.0))
        return times(transcript.segments)

    assert apply(1, "start", 1.8) == [(0.5, 1.5), (1.8, 3.0), (5.0, 6.0)]
    # inside the previous cue: its end moves to the playhead too
    assert apply(1, "start", 1.2) == [(0.5, 1.2), (1.2, 3.0), (5.0, 6.0)]
    # after the cue's end: the cue keeps its duration
    assert apply(1, "start", 3.5) == [(0.5, 1.5), (3.5, 4.5), (5.0, 6.0)]
    assert apply(1, "end", 4.0) == [(0.5, 1.5), (2.0, 4.0), (5.0, 6.0)]
    assert apply(1, "end", 5.5) == [(0.5, 1.5), (2.0, 5.5), (5.5, 6.0)]
    with pytest.raises(EditError, match=r"before the start of cue 2 \(0:00:02.000\)"):
        set_edge_command(SEGS, 1, "end", 1.9)
    with pytest.raises(EditError, match="past the end of cue 3"):
        set_edge_command(SEGS, 1, "end", 6.5)
    with pytest.raises(EditError, match=r"at the start of cue 1: select that cue"):
        set_edge_command(SEGS, 1, "start", 0.5)
    label = set_edge_command(SEGS, 0, "start", 0.25).label
    assert label == "Set start of cue 1 to 0:00:00.250"


def test_close_gaps_shorter_than_a_minimum() -> None:
    segments = [S(0.0, 1.0, "a"), S(1.3, 2.0, "b"), S(4.0, 5.0, "c")]
    assert times(close_gaps(segments, 0.5)) == [(0.0, 1.3), (1.3, 2.0), (4.0, 5.0)]
    assert times(close_gaps(segments, 0.5, leave=0.08)) == [(0.0, 1.22), (1.3, 2.0), (4.0, 5.0)]
    assert times(close_gaps(segments, 2.5)) == [(0.0, 1.3), (1.3, 4.0), (4.0, 5.0)]


def test_enforce_min_gap_takes_from_the_earlier_cue_then_the_next() -> None:
    spaced, stuck = enforce_min_gap([S(0.0, 2.0, "a"), S(2.0, 4.0, "b")], 0.1, 1.0)
    assert (times(spaced), stuck) == ([(0.0, 1.9), (2.0, 4.0)], [])
    spaced, stuck = enforce_min_gap([S(0.0, 1.05, "a"), S(1.05, 3.0, "b")], 0.1, 1.0)
    assert (times(spaced), stuck) == ([(0.0, 1.0), (1.1, 3.0)], [])
    spaced, stuck = enforce_min_gap([S(0.0, 1.0, "a"), S(1.0, 2.0, "b")], 0.1, 1.0)
    assert (times(spaced), stuck) == ([(0.0, 1.0), (1.0, 2.0)], [0])


FIX_LIMITS = CheckLimits(
    CueOptions(max_chars_latin=42, max_lines=2, min_duration_s=1.0, max_duration_s=7.0,
               max_cps_latin=0.0, max_cps_cjk=0.0),
    min_gap_s=0.1,
)  # fmt: skip
WORDS_20 = " ".join(["word"] * 20)
WORDS_10 = " ".join(["word"] * 10)


def test_fix_common_problems_plan() -> None:
    segments = [
        S(0.0, 2.0, "First cue."),
        S(1.5, 3.0, "Overlapping cue."),
        S(3.5, 3.5, ""),
        S(4.0, 4.3, "Short."),
        S(6.0, 16.0, "Held far too long."),
        S(20.0, 24.0, WORDS_20),
        S(24.0, 25.5, "After."),
        S(26.0, 27.0, "A."),
        S(26.0, 28.0, "B."),
        S(29.0, 31.0, "End."),
    ]
    plan = plan_fixes(segments, FIX_LIMITS, media_duration=30.0)
    assert [(s.start, s.end, s.text) for s in plan.segments] == [
        (0.0, 1.4, "First cue."),
        (1.5, 3.0, "Overlapping cue."),
        (4.0, 5.0, "Short."),
        (6.0, 13.0, "Held far too long."),
        (20.0, 21.9, WORDS_10),
        (22.0, 23.9, WORDS_10),
        (24.0, 25.5, "After."),
        (26.0, 28.0, "A. B."),
        (29.0, 30.0, "End."),
    ]
    fixes = {f.cue: (len(f.after), f.reasons) for f in plan.fixes}
    assert fixes == {
        1: (1, ("overlapped the next cue: end moved to 0:00:01.500", "gap below 0.1 s: opened")),
        3: (0, ("empty: removed",)),
        4: (1, ("too short (0.300 s): lengthened to 1.000 s",)),
        5: (1, ("too long (10.000 s): end trimmed to 7 s",)),
        6: (2, ("text does not fit its lines: split into 2 cues", "gap below 0.1 s: opened")),
        8: (1, ("started with cue 9: merged with it",)),
        9: (0, ("started with cue 8: merged into it",)),
        10: (1, ("ran past the end of the media: end trimmed",)),
    }
    # what is left breaks no limit (the gap after cue 2 was wide enough already)
    assert check_cues(plan.segments, FIX_LIMITS) == {}


def test_fix_lengthens_fast_cues_into_spare_time_of_the_next() -> None:
    limits = CheckLimits(CueOptions(max_cps_latin=17.0, min_duration_s=1.0), min_gap_s=0.0)
    text = "This cue has thirty-four letters."  # 33 characters: 1.941 s to read
    plan = plan_fixes([S(0.0, 1.0, text), S(1.0, 6.0, "Plenty of time.")], limits)
    assert times(plan.segments) == [(0.0, 1.941), (1.941, 6.0)]
    assert plan.fixes[0].reasons == ("too fast to read (1.000 s): lengthened to 1.941 s",)
    assert plan.fixes[1].reasons == ("start moved 0.941 s later to make room for the cue before",)


def test_fix_plan_of_good_cues_changes_nothing() -> None:
    segments = [S(0.0, 2.0, "Hello there."), S(2.5, 4.0, "Fine.")]
    plan = plan_fixes(segments, FIX_LIMITS)
    assert plan.fixes == () and plan.segments == tuple(segments)
