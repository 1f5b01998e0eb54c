"""Tests for the editable transcript model and its edit commands (Qt-free)."""

from __future__ import annotations

import json
import random

import pytest

from app.core.errors import MurmurError
from app.core.transcript import (
    Segment,
    Transcript,
    TranscriptChange,
    TranscriptError,
    TranscriptMeta,
)
from app.core.transcript.edits import (
    Batch,
    Delete,
    EditError,
    Insert,
    Merge,
    ReplaceAll,
    ReplaceSegments,
    SetText,
    SetTimes,
    Split,
    find_matches,
)


def make() -> Transcript:
    return Transcript(
        [
            Segment(0.0, 2.0, "Hello world."),
            Segment(2.5, 4.0, "The cat sat on the mat."),
            Segment(4.0, 6.0, "Concatenate the CAT."),
            Segment(7.0, 9.0, "你好世界"),
        ],
        TranscriptMeta(source="a.wav", duration=10.0),
    )


def test_segments_are_read_only_copies() -> None:
    t = make()
    segs = t.segments
    assert isinstance(segs, tuple)
    assert len(t) == 4 and t[0].text == "Hello world."
    # no space is added next to a Chinese character (issue #17)
    assert t.text() == "Hello world. The cat sat on the mat. Concatenate the CAT.你好世界"


def test_revision_dirty_and_mark_saved() -> None:
    t = make()
    assert not t.dirty and t.revision == 0
    t.apply(SetText(0, "Hi."))
    assert t.dirty and t.revision > 0
    t.mark_saved()
    assert not t.dirty
    t.append([Segment(9.0, 9.5, "end")])
    assert t.dirty and t[-1].text == "end"


def test_subscribe_gets_precise_changes() -> None:
    t = make()
    seen: list[TranscriptChange] = []
    t.subscribe(seen.append)
    t.apply(SetText(1, "x"))
    t.apply(Split(0, 6))
    t.apply(Delete(2))
    t.append([Segment(9.5, 9.8, "tail")])
    assert seen == [
        TranscriptChange("changed", 1, 1),
        TranscriptChange("changed", 0, 0),
        TranscriptChange("inserted", 1, 1),
        TranscriptChange("removed", 2, 2),
        TranscriptChange("inserted", 4, 4),
    ]
    t.unsubscribe(seen.append)
    t.apply(SetText(0, "y"))
    assert len(seen) == 5


def test_before_listeners_see_the_old_state() -> None:
    t = make()
    log: list[tuple[str, int, TranscriptChange]] = []
    t.subscribe(lambda c: log.append(("before", len(t), c)), before=True)
    t.subscribe(lambda c: log.append(("after", len(t), c)))
    t.apply(Delete(0))
    t.append([Segment(9.0, 9.5, "x")])
    removed, inserted = TranscriptChange("removed", 0, 0), TranscriptChange("inserted", 3, 3)
    assert log == [
        ("before", 4, removed),
        ("after", 3, removed),
        ("before", 3, inserted),
        ("after", 4, inserted),
    ]


def test_set_text_and_undo() -> None:
    t = make()
    inverse = t.apply(SetText(1, "A dog."))
    assert t[1] == Segment(2.5, 4.0, "A dog.")
    t.apply(inverse)
    assert t == make()


@pytest.mark.parametrize(
    ("index", "start", "end", "fragment"),
    [
        (1, 1.5, 3.0, "overlaps the previous"),
        (1, 2.5, 4.5, "overlaps the next"),
        (1, 3.0, 3.0, "must be after start"),
        (0, -1.0, 1.0, "before 0"),
        (3, 7.0, 11.0, "past the end of the media"),
        (9, 0.0, 1.0, "does not exist"),
    ],
)
def test_set_times_is_validated(index: int, start: float, end: float, fragment: str) -> None:
    t = make()
    with pytest.raises(EditError, match=fragment) as info:
        t.apply(SetTimes(index, start, end))
    assert isinstance(info.value, MurmurError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)
    assert t == make() and t.revision == 0


def test_set_times_valid_and_touching_neighbours() -> None:
    t = make()
    inverse = t.apply(SetTimes(1, 2.0, 4.0))  # touches both neighbours
    assert (t[1].start, t[1].end) == (2.0, 4.0)
    t.apply(inverse)
    assert t == make()


def test_unknown_duration_allows_any_end() -> None:
    t = Transcript([Segment(0, 1, "a")])
    t.apply(SetTimes(0, 0.0, 5000.0))
    assert t[0].end == 5000.0


def test_split_in_proportion_to_characters() -> None:
    t = Transcript([Segment(0.0, 10.0, "aaaa bbbbbb")])
    t.apply(Split(0, 4))
    assert t.segments == (Segment(0.0, 4.0, "aaaa"), Segment(4.0, 10.0, "bbbbbb"))


def test_split_cjk_and_refusals() -> None:
    t = Transcript([Segment(0.0, 4.0, "你好世界")])
    t.apply(Split(0, 1))
    assert t.segments == (Segment(0.0, 1.0, "你"), Segment(1.0, 4.0, "好世界"))
    for pos in (0, 1, 99):
        with pytest.raises(EditError):
            t.apply(Split(0, pos))  # one side would be empty
    assert len(t) == 2


def test_merge_joins_latin_with_space_and_cjk_without() -> None:
    t = make()
    t.apply(Merge(0))
    assert t[0] == Segment(0.0, 4.0, "Hello world. The cat sat on the mat.")
    t2 = Transcript([Segment(0, 1, "你好"), Segment(1, 2, "世界"), Segment(2, 3, "ok")])
    t2.apply(Merge(0))
    assert t2[0] == Segment(0, 2, "你好世界")
    t2.apply(Merge(0))
    # no space is added next to a Chinese character (issue #17): the model
    # writes "第一个例子：GLM-ASR", and joining must not make it "例子： GLM-ASR"
    assert t2[0].text == "你好世界ok"
    with pytest.raises(EditError, match="no next segment"):
        t2.apply(Merge(0))
    # ... but a space the text holds at the joint is the model's, and is kept
    t4 = Transcript([Segment(0, 1, "我们使用 "), Segment(1, 2, "GLM-ASR 模型")])
    t4.apply(Merge(0))
    assert t4[0].text == "我们使用 GLM-ASR 模型"
    t3 = Transcript([Segment(0, 1, "안녕하세요"), Segment(1, 2, "여러분")])
    t3.apply(Merge(0))
    assert t3[0].text == "안녕하세요 여러분"  # Korean writes spaces between words


def test_insert_is_validated() -> None:
    t = make()
    with pytest.raises(EditError, match="overlaps"):
        t.apply(Insert(1, Segment(1.0, 3.0, "x")))
    inverse = t.apply(Insert(1, Segment(2.0, 2.5, "gap")))
    assert t[1].text == "gap" and len(t) == 5
    t.apply(inverse)
    assert t == make()


def test_delete_and_undo() -> None:
    t = make()
    inverse = t.apply(Delete(2))
    assert [s.text for s in t] == ["Hello world.", "The cat sat on the mat.", "你好世界"]
    t.apply(inverse)
    assert t == make()


def test_find_matches_case_and_whole_word() -> None:
    t = make()
    assert find_matches(t, "cat") == [(1, 4, 7), (2, 3, 6), (2, 16, 19)]
    assert find_matches(t, "cat", match_case=True) == [(1, 4, 7), (2, 3, 6)]
    assert find_matches(t, "cat", whole_word=True) == [(1, 4, 7), (2, 16, 19)]
    assert find_matches(t, "cat", match_case=True, whole_word=True) == [(1, 4, 7)]
    # CJK: whole word degenerates to substring.
    assert find_matches(t, "世界", whole_word=True) == [(3, 2, 4)]
    # A Latin word next to CJK is still a whole word.
    t2 = Transcript([Segment(0, 1, "用Python写")])
    assert find_matches(t2, "python", whole_word=True) == [(0, 1, 7)]
    with pytest.raises(EditError):
        find_matches(t, "")
    # A rejected match must not hide an overlapping whole-word one.
    t3 = Transcript([Segment(0, 1, "aa a a")])
    assert find_matches(t3, "a a", whole_word=True) == [(0, 3, 6)]
    # Edges of the search text that are not word characters are not checked.
    t4 = Transcript([Segment(0, 1, "x-ray and re-ray")])
    assert find_matches(t4, "-ray", whole_word=True) == [(0, 1, 5), (0, 12, 16)]
    # Korean: substring (particles attach to the word).
    t5 = Transcript([Segment(0, 1, "사과를 먹었다")])
    assert find_matches(t5, "사과", whole_word=True) == [(0, 0, 2)]


def test_replace_all_is_one_step_and_literal() -> None:
    t = make()
    inverse = t.apply(ReplaceAll("cat", r"d\1g", match_case=False, whole_word=True))
    assert t[1].text == r"The d\1g sat on the mat."
    assert t[2].text == r"Concatenate the d\1g."
    t.apply(inverse)
    assert t == make()
    assert isinstance(inverse, Batch) and len(inverse.commands) == 2


def test_batch_rolls_back_on_error() -> None:
    t = make()
    bad = Batch((SetText(0, "changed"), Delete(1), SetTimes(0, 5.0, 1.0)))
    with pytest.raises(EditError):
        t.apply(bad)
    assert t.segments == make().segments


def test_replace_segments_rejects_bad_range() -> None:
    t = make()
    with pytest.raises(EditError):
        t.apply(ReplaceSegments(3, 2, ()))


def random_command(rng: random.Random, t: Transcript) -> object:
    n = len(t)
    kind = rng.choice(["text", "times", "split", "merge", "delete", "insert", "replace"])
    i = rng.randrange(max(n, 1))
    if kind == "text":
        return SetText(i, rng.choice(["alpha beta", "你好", "Cat cat", ""]))
    if kind == "times":
        s = rng.uniform(0, 10)
        return SetTimes(i, s, s + rng.uniform(-0.5, 2))
    if kind == "split":
        return Split(i, rng.randrange(0, 12))
    if kind == "merge":
        return Merge(i)
    if kind == "delete":
        return Delete(i)
    if kind == "insert":
        s = rng.uniform(0, 10)
        return Insert(rng.randrange(n + 1), Segment(s, s + rng.uniform(0.01, 1), "new"))
    return ReplaceAll(rng.choice(["cat", "a", "你"]), "X", rng.random() < 0.5, rng.random() < 0.5)


@pytest.mark.parametrize("seed", range(20))
def test_random_edits_undo_and_redo_exactly(seed: int) -> None:
    rng = random.Random(seed)
    t = make()
    original = t.segments
    done: list[tuple[object, object, tuple[Segment, ...]]] = []
    for _ in range(40):
        command = random_command(rng, t)
        before = t.segments
        try:
            inverse = t.apply(command)  # type: ignore[arg-type]
        except EditError:
            assert t.segments == before  # refused edits change nothing
            continue
        done.append((command, inverse, t.segments))
    assert done, "some edits should have succeeded"
    # Undo all.
    redo: list[object] = []
    for _command, inverse, _after in reversed(done):
        redo.append(t.apply(inverse))  # type: ignore[arg-type]
    assert t.segments == original
    # Redo all (with the inverses of the undos), state after each matches.
    for (_command, _inverse, after), again in zip(done, reversed(redo), strict=True):
        t.apply(again)  # type: ignore[arg-type]
        assert t.segments == after
    # And the original commands replay to the same end state.
    t2 = make()
    for command, _inverse, _after in done:
        t2.apply(command)  # type: ignore[arg-type]
    assert t2.segments == t.segments


def test_to_dict_round_trip_through_json() -> None:
    t = make()
    t.meta.model = "zai-org/GLM-ASR-Nano-2512"
    data = json.loads(json.dumps(t.to_dict(), ensure_ascii=False))
    assert data["version"] == 1
    back = Transcript.from_dict(data)
    assert back == t and not back.dirty


def test_detected_speech_round_trips_and_old_files_have_none() -> None:
    t = Transcript(make().segments, speech=[(2.5, 3.0), (0.1, 1.25)])
    assert t.speech == ((0.1, 1.25), (2.5, 3.0))  # sorted
    data = json.loads(json.dumps(t.to_dict()))
    assert data["speech"] == [[0.1, 1.25], [2.5, 3.0]]
    assert Transcript.from_dict(data).speech == t.speech
    assert "speech" not in make().to_dict()  # nothing detected: files stay as they were
    assert Transcript.from_dict({"segments": []}).speech == ()


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"speech": "x"},
        {"speech": [[1, 0]]},
        {"speech": [[0, 1, 2]]},
        {"speech": [["0", 1]]},
        {"version": 99},
        {"segments": "x"},
        {"segments": [{"start": "0", "end": 1, "text": "a"}]},
        {"segments": [{"start": 2, "end": 1, "text": "a"}]},
        {"segments": [{"start": 0, "end": 1, "text": 5}]},
        {"meta": {"duration": "long"}},
        {"segments": [{"start": float("nan"), "end": 1, "text": "a"}]},
    ],
)
def test_from_dict_rejects_bad_data(data: object) -> None:
    with pytest.raises(TranscriptError) as info:
        Transcript.from_dict(data)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_row_at() -> None:
    t = make()
    assert t.row_at(0.0) == 0
    assert t.row_at(2.2) is None
    assert t.row_at(4.0) == 2
    assert t.row_at(8.99) == 3
    assert t.row_at(9.0) is None
