"""Subtitle cue shaping: splitting, wrapping, timing from speech regions, reshaping."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from app.core.errors import SettingsError
from app.core.transcript import Segment
from app.core.transcript.cues import (
    CueOptions,
    InvalidCueOptions,
    cue_fits,
    cues_for_chunk,
    enforce_timing,
    reshape,
    split_text,
    wrap_lines,
)
from app.core.transcript.text import is_cjk_text

EPS = 1e-6

LATIN = (
    "So this is the first thing I wanted to talk about today. We have been working on "
    "the new release for quite a while now, and honestly, it took much longer than any of "
    "us expected when we started planning it last spring. But the results are worth it: "
    "the app is faster, it uses less memory, and people seem to like the new design a lot."
)
CHINESE = (
    "今天我们来谈一谈这个项目的进展情况。经过几个月的努力，我们终于完成了第一个版本，"
    "并且在测试中表现得非常稳定。接下来我们会继续优化性能，同时改进用户界面，"
    "希望大家能够喜欢这些新的变化。"
)


DEFAULTS = CueOptions()


def assert_valid(
    cues: Sequence[Segment], media_duration: float, options: CueOptions = DEFAULTS
) -> None:
    """Monotonic, non-overlapping, inside the media, not longer than the maximum."""
    assert cues
    previous_end = 0.0
    for cue in cues:
        # stripped, except one trailing space the model wrote next to a CJK
        # character, kept so that cues join back into the model's exact text
        assert cue.text.lstrip() == cue.text and cue.text.strip()
        assert cue.text.rstrip() == cue.text or cue.text[:-1] == cue.text.strip()
        assert 0.0 <= cue.start < cue.end <= media_duration + EPS
        assert cue.start >= previous_end - EPS, "cues overlap"
        assert cue.end - cue.start <= options.max_duration_s + EPS
        previous_end = cue.end


def words(texts: Sequence[str]) -> list[str]:
    return " ".join(texts).split()


def no_spaces(texts: Sequence[str]) -> str:
    return "".join("".join(t.split()) for t in texts)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_lines": 0},
        {"max_chars_latin": 0},
        {"max_chars_cjk": -3},
        {"max_lines": 1.5},
        {"min_duration_s": 5.0, "max_duration_s": 2.0},
        {"max_duration_s": 0.0, "min_duration_s": 0.0},
        {"min_duration_s": -1.0},
        {"max_duration_s": float("nan")},
    ],
)
def test_nonsense_options_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidCueOptions) as info:
        CueOptions(**kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SettingsError)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- wrapping


def test_short_text_stays_on_one_line() -> None:
    assert wrap_lines("Hello there.") == ["Hello there."]
    assert wrap_lines("   ") == []


def test_latin_lines_are_balanced_and_words_whole() -> None:
    text = "This is a fairly long subtitle line that should be wrapped into two lines nicely."
    lines = wrap_lines(text)
    assert len(lines) == 2
    assert all(len(line) <= 42 for line in lines)
    assert " ".join(lines) == text
    assert abs(len(lines[0]) - len(lines[1])) <= 10


def test_line_break_prefers_punctuation() -> None:
    lines = wrap_lines("这是一个非常长的中文句子，没有什么特别的意思，")
    assert lines == ["这是一个非常长的中文句子，", "没有什么特别的意思，"]


def test_cjk_wraps_between_characters_never_before_closing_punctuation() -> None:
    text = "我们终于完成了第一个版本，并且在测试中表现得非常稳定。"
    assert is_cjk_text(text)
    assert wrap_lines(text) == ["我们终于完成了第一个版本，", "并且在测试中表现得非常稳定。"]


def test_cjk_line_never_starts_with_closing_mark_even_when_tight() -> None:
    options = CueOptions(max_chars_cjk=5, max_lines=3)
    text = "你好吗？我很好。谢谢！"
    # 5 characters a line: "你好吗？我" would fit, but the mark stays with its sentence
    assert wrap_lines(text, options) == ["你好吗？", "我很好。", "谢谢！"]


def test_text_too_long_for_a_cue_is_kept_in_max_lines() -> None:
    text = " ".join(["word"] * 60)
    lines = wrap_lines(text)
    assert len(lines) == 2
    assert " ".join(lines) == text
    assert not cue_fits(text)
    assert cue_fits("Just a few words.")


def test_long_word_is_never_cut() -> None:
    url = "https://example.com/" + "a" * 60
    lines = wrap_lines(f"See {url} now", CueOptions(max_lines=3))
    assert url in lines


# --------------------------------------------------------------------------- splitting


def test_split_at_sentences_and_keep_abbreviations_and_numbers() -> None:
    text = "Mr. Smith paid 3.5 dollars, e.g. not much. Then he left! Did he? Yes."
    pieces = split_text(text)
    assert pieces[0].startswith("Mr. Smith paid 3.5 dollars, e.g. not much.")
    assert pieces[1:] == ["Then he left!", "Did he?", "Yes."]


def test_long_sentence_splits_at_clauses_then_words() -> None:
    pieces = split_text(LATIN)
    assert words(pieces) == LATIN.split()
    for piece in pieces:
        assert cue_fits(piece), piece
    # the sentence that is too long is cut after its clause punctuation
    assert any(p.endswith("a while now,") or p.endswith("honestly,") for p in pieces)


def test_chinese_splits_between_words_with_at_most_16_per_line() -> None:
    text = "我们" * 40 + "。"  # no punctuation inside: must split between words (我们)
    # three near-even pieces (a cue holds 2 lines of 16), no word cut, none starting with 。
    assert split_text(text) == ["我们" * 14, "我们" * 13, "我们" * 13 + "。"]
    assert wrap_lines("我们" * 13 + "。") == ["我们" * 7, "我们" * 6 + "。"]


# --------------------------------------------------------------------------- timing


def test_empty_text_gives_no_cues() -> None:
    assert cues_for_chunk("", [(0.0, 2.0)]) == []
    assert cues_for_chunk("  \n ", [(0.0, 2.0)]) == []


def test_no_regions_is_an_error() -> None:
    with pytest.raises(ValueError):
        cues_for_chunk("Hello.", [])


def test_second_sentence_starts_at_second_region() -> None:
    # The first sentence has fewer characters than its share of speech time:
    # the boundary by characters falls 0.3 s before the pause, and moves onto it.
    text = "Hello there, how are you? I am fine, thank you for asking me."
    regions = [(1.0, 3.0), (3.8, 6.0)]
    cues = cues_for_chunk(text, regions, media_duration=10.0)
    assert [c.text for c in cues] == [
        "Hello there, how are you?",
        "I am fine, thank you for asking me.",
    ]
    assert abs(cues[1].start - 3.8) <= 0.3
    assert abs(cues[0].start - 1.0) <= 0.3
    assert cues[0].end <= 3.0 + EPS
    assert abs(cues[-1].end - 6.0) <= 0.3
    assert_valid(cues, 10.0)


def test_cues_follow_speech_not_pauses() -> None:
    regions = [(0.5, 4.0), (6.0, 9.5), (12.0, 15.0)]
    text = (
        "The first part of the talk is about the weather. "
        "The second part is about the trains running late. "
        "And the third part is about what we will do next."
    )
    cues = cues_for_chunk(text, regions, media_duration=20.0)
    assert_valid(cues, 20.0)
    assert len(cues) == 3
    for cue, (start, end) in zip(cues, regions, strict=True):
        assert abs(cue.start - start) < 0.3
        assert abs(cue.end - end) < 0.3


def test_time_is_shared_in_proportion_to_characters() -> None:
    text = "Short one. " + "This sentence is clearly a great deal longer than the first."
    cues = cues_for_chunk(text, [(0.0, 8.0)], media_duration=8.0)
    assert len(cues) == 2
    share = (cues[0].end - cues[0].start) / 8.0
    letters = sum(ch.isalpha() for ch in text)
    assert share == pytest.approx(len("Shortone") / letters, abs=0.01)


def test_chinese_cues_lines_and_times() -> None:
    cues = cues_for_chunk(CHINESE, [(0.0, 9.0), (9.6, 20.0)], media_duration=21.0)
    assert_valid(cues, 21.0)
    assert [c.text for c in cues] == [
        "今天我们来谈一谈这个项目的进展情况。",
        "经过几个月的努力，我们终于完成了第一个版本，",
        "并且在测试中表现得非常稳定。",
        "接下来我们会继续优化性能，同时改进用户界面，",
        "希望大家能够喜欢这些新的变化。",
    ]
    # the first two share the first region, the last three the second one
    assert [cues[0].start, cues[1].end, cues[2].start, cues[4].end] == [0.0, 9.0, 9.6, 20.0]
    assert all(cue.end - cue.start >= 1.0 - EPS for cue in cues)


def test_long_speech_is_split_to_max_duration() -> None:
    text = " ".join(["talking"] * 40) + "."  # ~320 characters over 30 seconds
    cues = cues_for_chunk(text, [(0.0, 30.0)], media_duration=30.0)
    assert_valid(cues, 30.0)
    assert len(cues) >= 5
    assert all(1.0 - EPS <= c.end - c.start <= 7.0 + EPS for c in cues)
    assert words([c.text for c in cues]) == text.split()


def test_short_sentence_fits_but_long_in_time_is_split() -> None:
    text = "Well, I was thinking, maybe we could go there."
    cues = cues_for_chunk(text, [(0.0, 16.0)], media_duration=16.0)
    assert len(cues) >= 3
    assert all(c.end - c.start <= 7.0 + EPS for c in cues)
    assert words([c.text for c in cues]) == text.split()


def test_single_word_too_long_in_time_is_capped() -> None:
    cues = cues_for_chunk("Hmmmm.", [(2.0, 14.0)], media_duration=20.0)
    assert len(cues) == 1
    assert cues[0].start == pytest.approx(2.0)
    assert cues[0].end == pytest.approx(9.0)


def test_short_cue_is_lengthened_to_minimum_inside_media() -> None:
    cues = cues_for_chunk("Yes.", [(9.6, 9.9)], media_duration=10.0)
    assert len(cues) == 1
    assert cues[0].end <= 10.0
    assert cues[0].end - cues[0].start == pytest.approx(1.0)
    assert cues[0].start <= 9.6


def test_short_sentences_in_one_breath_are_joined() -> None:
    text = "Yes. No. Maybe. Then we will see what happens next week when everyone is back."
    cues = cues_for_chunk(text, [(0.0, 6.0)], media_duration=6.0)
    assert cues[0].text.startswith("Yes. No.")
    assert all(c.end - c.start >= 1.0 - EPS for c in cues)
    assert words([c.text for c in cues]) == text.split()


def test_cues_stay_between_bounds() -> None:
    cues = cues_for_chunk("Hi.", [(5.0, 5.2)], media_duration=60.0, not_before=4.9, not_after=5.5)
    assert 4.9 - EPS <= cues[0].start < cues[0].end <= 5.5 + EPS
    assert cues[0].end - cues[0].start == pytest.approx(0.6)


def test_regions_beyond_media_are_clipped() -> None:
    cues = cues_for_chunk(LATIN, [(0.0, 30.0)], media_duration=20.0)
    assert_valid(cues, 20.0)
    assert words([c.text for c in cues]) == LATIN.split()


def test_region_objects_with_start_and_end_are_accepted() -> None:
    class Region:
        def __init__(self, start: float, end: float) -> None:
            self.start, self.end = start, end

    cues = cues_for_chunk("One. Two three four.", [Region(0.0, 1.5), Region(2.0, 4.0)])
    assert cues[0].start == 0.0
    assert cues[-1].end == pytest.approx(4.0)


def test_random_chunks_always_give_valid_cues() -> None:
    rng = random.Random(1234)
    vocabulary = ["a", "speech", "model", "is", "fast,", "really.", "我们", "好。", "ok?", "yes!"]
    for _ in range(60):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 60)))
        t = rng.uniform(0.0, 5.0)
        regions = []
        for _ in range(rng.randint(1, 5)):
            start = t + rng.uniform(0.0, 1.5)
            end = start + rng.uniform(0.05, 6.0)
            regions.append((start, end))
            t = end
        media = t + rng.uniform(0.0, 1.0)
        cues = cues_for_chunk(text, regions, media_duration=media)
        assert_valid(cues, media)
        assert words([c.text for c in cues]) == text.split()


# --------------------------------------------------------------------------- reshape


def test_reshape_keeps_text_order_and_fitting_segments() -> None:
    segments = [
        Segment(0.0, 2.0, "A short one."),
        Segment(2.5, 20.0, LATIN),
        Segment(21.0, 30.0, CHINESE),
        Segment(30.5, 31.0, "Hi."),
    ]
    options = CueOptions()
    cues = reshape(segments, options, media_duration=31.2)
    assert_valid(cues, 31.2, options)
    assert cues[0] == segments[0]
    assert no_spaces([c.text for c in cues]) == no_spaces([s.text for s in segments])
    # nothing merged across segments: every cue lies inside one segment's text
    inside_second = [c for c in cues if c.start >= 2.5 - EPS and c.end <= 20.0 + EPS]
    assert words([c.text for c in inside_second]) == LATIN.split()
    assert cues[-1].text == "Hi." and cues[-1].end - cues[-1].start == pytest.approx(1.0)


def test_reshape_to_narrower_limits() -> None:
    segment = Segment(0.0, 6.0, "One two three four five six seven eight nine ten eleven twelve.")
    options = CueOptions(max_chars_latin=20, max_lines=1)
    cues = reshape([segment], options, media_duration=6.0)
    assert len(cues) >= 4
    for cue in cues:
        assert len(wrap_lines(cue.text, options)) == 1
        assert len(cue.text) <= 20
    assert words([c.text for c in cues]) == segment.text.split()
    assert cues[0].start == 0.0 and cues[-1].end == pytest.approx(6.0)
    # time in proportion to characters
    for cue in cues:
        share = (cue.end - cue.start) / 6.0
        chars = len(cue.text.replace(" ", "").rstrip(".")) / len("".join(segment.text.split()))
        assert share == pytest.approx(chars, abs=0.04)


def test_reshape_drops_empty_and_fixes_overlaps() -> None:
    segments = [
        Segment(0.0, 3.0, "First."),
        Segment(2.0, 4.0, "  "),
        Segment(2.5, 5.0, "Second overlaps the first."),
    ]
    cues = reshape(segments, media_duration=5.0)
    assert [c.text for c in cues] == ["First.", "Second overlaps the first."]
    assert_valid(cues, 5.0)


def test_enforce_timing_takes_spare_time_from_neighbours() -> None:
    segments = [
        Segment(0.0, 3.0, "Long one."),
        Segment(3.0, 3.3, "Tiny."),
        Segment(3.3, 6.0, "Next."),
    ]
    cues = enforce_timing(segments, CueOptions(), media_duration=6.0)
    assert_valid(cues, 6.0)
    assert all(c.end - c.start >= 1.0 - EPS for c in cues)


def test_closing_mark_after_a_space_stays_with_its_word() -> None:
    options = CueOptions(max_chars_latin=12, max_lines=3)
    lines = wrap_lines("Ça marche très bien ! Et toi ?", options)
    assert " ".join(lines) == "Ça marche très bien ! Et toi ?"
    assert all(line[0] not in "!?" for line in lines)
    assert all(not p.startswith(("!", "?")) for p in split_text("Oui ! Non ? Peut-être ."))
