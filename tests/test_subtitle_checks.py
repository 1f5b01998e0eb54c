"""Subtitle checks: reading speed, line length, duration, overlaps and gaps per cue."""

from __future__ import annotations

import math

import pytest

from app.core.settings import Settings
from app.core.transcript import Segment
from app.core.transcript.checks import CheckLimits, check_cue, check_cues, cue_stats, next_flagged
from app.core.transcript.cues import CueOptions

LIMITS = CheckLimits(
    CueOptions(max_chars_latin=42, max_chars_cjk=16, max_lines=2, min_duration_s=1.0,
               max_duration_s=7.0, max_cps_latin=17.0, max_cps_cjk=9.0),
    min_gap_s=0.08,
)  # fmt: skip
WORDS_20 = " ".join(["word"] * 20)  # 99 characters


def messages(segments: list[Segment], row: int, limits: CheckLimits = LIMITS) -> list[str]:
    return [p.message for p in check_cue(segments, row, limits)]


def test_stats_of_a_plain_cue() -> None:
    stats = cue_stats(Segment(0.0, 2.0, "Hello world."), LIMITS.cues)
    assert (stats.characters, stats.duration, stats.cps) == (12, 2.0, 6.0)
    assert (stats.lines, stats.longest_line, stats.line_limit, stats.cps_limit) == (1, 12, 42, 17)


def test_stats_count_lines_as_exported() -> None:
    stats = cue_stats(Segment(0.0, 10.0, WORDS_20), LIMITS.cues)
    # two lines of ten words (49 characters each): more than two lines of 42 need
    assert (stats.characters, stats.lines, stats.longest_line) == (99, 2, 49)
    fits = cue_stats(Segment(0.0, 10.0, " ".join(["word"] * 12)), LIMITS.cues)  # 59 chars
    assert (fits.lines, fits.longest_line) == (2, 29)


def test_stats_of_chinese_count_characters_and_cells() -> None:
    text = "我们今天讨论语音识别技术的发展"  # 15 characters, one line of 16 cells
    stats = cue_stats(Segment(0.0, 1.0, text), LIMITS.cues)
    assert (stats.characters, stats.cps, stats.cps_limit) == (15, 15.0, 9.0)
    assert (stats.lines, stats.longest_line, stats.line_limit) == (1, 15, 16)


def test_a_cue_without_time_reads_infinitely_fast() -> None:
    stats = cue_stats(Segment(3.0, 3.0, "Hi"), LIMITS.cues)
    assert math.isinf(stats.cps)
    assert (
        messages([Segment(3.0, 3.0, "Hi")], 0)[0] == "Reading speed no time to read it (limit 17)"
    )


def test_each_limit_gives_its_message() -> None:
    segments = [
        Segment(0.0, 1.0, "This is a rather fast cue"),  # 25 characters in 1 s
        Segment(2.0, 8.0, WORDS_20),  # 16.5 characters a second
        Segment(13.0, 13.5, "Ok."),
        Segment(14.0, 22.0, "Long."),
        Segment(22.05, 23.5, "Close."),
        Segment(23.0, 25.0, "Overlap."),
        Segment(26.0, 27.0, "  "),
    ]
    assert messages(segments, 0) == ["Reading speed 25.0 characters/s (limit 17)"]
    assert messages(segments, 1) == ["Longest line 49 characters (limit 42 × 2 lines)"]
    assert messages(segments, 2) == ["Too short: 0.500 s (minimum 1 s)"]
    assert messages(segments, 3) == [
        "Too long: 8.000 s (maximum 7 s)",
        "Gap to cue 5 is 0.050 s (minimum 0.08 s)",
    ]
    assert messages(segments, 4) == ["Overlaps cue 6 (it starts 0:00:23.000)"]
    assert messages(segments, 5) == ["Overlaps cue 5 (it ends 0:00:23.500)"]
    assert messages(segments, 6) == ["Empty cue: no text"]
    kinds = {
        row: [p.kind for p in problems] for row, problems in check_cues(segments, LIMITS).items()
    }
    assert kinds == {
        0: ["reading_speed"],
        1: ["line_length"],
        2: ["too_short"],
        3: ["too_long", "gap"],
        4: ["overlap"],
        5: ["overlap"],
        6: ["empty"],
    }


def test_good_cues_are_not_flagged_and_zero_gap_limit_allows_touching() -> None:
    segments = [Segment(0.0, 2.0, "Hello world."), Segment(2.0, 4.0, "Fine too.")]
    assert check_cues(segments, CheckLimits(LIMITS.cues, min_gap_s=0.0)) == {}
    assert list(check_cues(segments, LIMITS)) == [0]  # touching is below 0.08 s


def test_chinese_reading_speed_uses_its_own_limit() -> None:
    segments = [Segment(0.0, 1.0, "我们今天讨论语音识别技术的发展")]
    assert messages(segments, 0) == ["Reading speed 15.0 characters/s (limit 9)"]
    assert messages([Segment(0.0, 2.0, "我们今天讨论语音识别技术的发展")], 0) == []


def test_no_reading_speed_limit_means_no_flag() -> None:
    limits = CheckLimits(CueOptions(max_cps_latin=0.0), min_gap_s=0.0)
    assert check_cues([Segment(0.0, 1.0, "This is a rather fast cue")], limits) == {}


def test_settings_give_the_check_limits() -> None:
    limits = Settings(max_cps_latin=20.0, max_chars_latin=37, min_gap_s=0.1).check_limits()
    assert (limits.cues.max_cps_latin, limits.cues.max_chars_latin, limits.min_gap_s) == (
        20.0,
        37,
        0.1,
    )
    assert "Least gap between cues: between 0 and 1 s." in Settings(min_gap_s=2.0).validate()


@pytest.mark.parametrize(
    ("row", "forward", "expected"),
    [(5, True, 9), (9, True, 2), (-1, True, 2), (5, False, 2), (2, False, 9), (-1, False, 9),
     (3, True, 5), (3, False, 2), (10, False, 9)],
)  # fmt: skip
def test_next_flagged_wraps_around(row: int, forward: bool, expected: int) -> None:
    assert next_flagged([2, 5, 9], row, forward) == expected


def test_next_flagged_without_flags() -> None:
    assert next_flagged([], 3) is None
