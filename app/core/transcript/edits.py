"""Edit commands for :class:`app.core.transcript.Transcript`.

Each command is a frozen dataclass with a ``label`` (for an undo menu) and
``apply(transcript) -> inverse``. A command validates before it changes
anything, so a refused edit (:class:`EditError`) leaves the transcript exactly
as it was. The inverse restores the previous state exactly (segments, order,
text and times), which is what undo/redo in the GUI relies on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from dataclasses import replace as _replace

from app.core.transcript.model import Command, EditError, Segment, Transcript
from app.core.transcript.text import is_cjk_letter, is_wide, join_texts

__all__ = [
    "Batch",
    "Delete",
    "EditError",
    "Insert",
    "Merge",
    "ReplaceAll",
    "ReplaceSegments",
    "SetText",
    "SetTimes",
    "Split",
    "count_replacements",
    "find_matches",
    "replace_in_text",
    "search_pattern",
    "text_matches",
    "validate_times",
]

_EPS = 1e-6


def _check_row(transcript: Transcript, index: int) -> Segment:
    if not 0 <= index < len(transcript):
        raise EditError(f"Segment {index + 1} does not exist")
    return transcript[index]


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f} s"


def validate_times(
    transcript: Transcript,
    start: float,
    end: float,
    prev: Segment | None,
    nxt: Segment | None,
) -> None:
    """Raise EditError unless [start, end] is a valid slot between ``prev`` and ``nxt``."""
    if start != start or end != end:  # NaN
        raise EditError("Times must be numbers")
    if start < 0:
        raise EditError("Start can't be before 0")
    if end <= start:
        raise EditError(f"End ({_fmt(end)}) must be after start ({_fmt(start)})")
    duration = transcript.meta.duration
    if duration > 0 and end > duration + _EPS:
        raise EditError(f"End ({_fmt(end)}) is past the end of the media ({_fmt(duration)})")
    if prev is not None and start < prev.end - _EPS:
        raise EditError(
            f"Start ({_fmt(start)}) overlaps the previous segment (ends {_fmt(prev.end)})"
        )
    if nxt is not None and end > nxt.start + _EPS:
        raise EditError(f"End ({_fmt(end)}) overlaps the next segment (starts {_fmt(nxt.start)})")


@dataclass(frozen=True)
class ReplaceSegments:
    """Replace ``count`` rows at ``index`` with ``segments`` (no validation).

    The universal inverse: every other command's undo is expressible with it.
    """

    index: int
    count: int
    segments: tuple[Segment, ...]
    label: str = "Edit segments"

    def apply(self, transcript: Transcript) -> Command:
        if self.index < 0 or self.count < 0 or self.index + self.count > len(transcript):
            raise EditError(f"Rows {self.index + 1}–{self.index + self.count} do not exist")
        old = tuple(transcript.segments[self.index : self.index + self.count])
        new = list(self.segments)
        common = min(self.count, len(new))
        transcript.set_rows(self.index, new[:common])
        if self.count > common:
            transcript.remove_rows(self.index + common, self.count - common)
        elif len(new) > common:
            transcript.insert_rows(self.index + common, new[common:])
        return ReplaceSegments(self.index, len(new), old, self.label)


@dataclass(frozen=True)
class SetText:
    index: int
    text: str

    @property
    def label(self) -> str:
        return f"Edit text of segment {self.index + 1}"

    def apply(self, transcript: Transcript) -> Command:
        seg = _check_row(transcript, self.index)
        transcript.set_rows(self.index, [_replace(seg, text=self.text)])
        return SetText(self.index, seg.text)


@dataclass(frozen=True)
class SetTimes:
    index: int
    start: float
    end: float

    @property
    def label(self) -> str:
        return f"Change times of segment {self.index + 1}"

    def apply(self, transcript: Transcript) -> Command:
        seg = _check_row(transcript, self.index)
        prev = transcript[self.index - 1] if self.index > 0 else None
        nxt = transcript[self.index + 1] if self.index + 1 < len(transcript) else None
        validate_times(transcript, self.start, self.end, prev, nxt)
        transcript.set_rows(
            self.index, [_replace(seg, start=float(self.start), end=float(self.end))]
        )
        return ReplaceSegments(self.index, 1, (seg,), self.label)


@dataclass(frozen=True)
class Split:
    """Split a segment's text at ``char_pos``; its time in proportion to characters."""

    index: int
    char_pos: int

    @property
    def label(self) -> str:
        return f"Split segment {self.index + 1}"

    def apply(self, transcript: Transcript) -> Command:
        seg = _check_row(transcript, self.index)
        left = seg.text[: max(0, self.char_pos)].rstrip()
        right = seg.text[max(0, self.char_pos) :].lstrip()
        if not left or not right:
            raise EditError("Put the cursor inside the text to split it into two non-empty parts")
        if seg.end <= seg.start:
            raise EditError(f"Segment {self.index + 1} is too short to split")
        mid = seg.start + seg.duration * len(left) / (len(left) + len(right))
        rounded = round(mid, 3)  # times are shown to the millisecond
        if seg.start < rounded < seg.end:
            mid = rounded
        new = (_replace(seg, end=mid, text=left), _replace(seg, start=mid, text=right))
        return ReplaceSegments(self.index, 1, new, self.label).apply(transcript)


@dataclass(frozen=True)
class Merge:
    """Merge a segment with the next one."""

    index: int

    @property
    def label(self) -> str:
        return f"Merge segments {self.index + 1} and {self.index + 2}"

    def apply(self, transcript: Transcript) -> Command:
        first = _check_row(transcript, self.index)
        if self.index + 1 >= len(transcript):
            raise EditError("The last segment has no next segment to merge with")
        second = transcript[self.index + 1]
        merged = Segment(
            first.start,
            second.end,
            join_texts([first.text, second.text]),
            first.speaker if first.speaker is not None else second.speaker,
        )
        return ReplaceSegments(self.index, 2, (merged,), self.label).apply(transcript)


@dataclass(frozen=True)
class Delete:
    index: int

    @property
    def label(self) -> str:
        return f"Delete segment {self.index + 1}"

    def apply(self, transcript: Transcript) -> Command:
        _check_row(transcript, self.index)
        return ReplaceSegments(self.index, 1, (), self.label).apply(transcript)


@dataclass(frozen=True)
class Insert:
    """Insert ``segment`` so that it becomes row ``index`` (times validated)."""

    index: int
    segment: Segment

    @property
    def label(self) -> str:
        return f"Insert segment {self.index + 1}"

    def apply(self, transcript: Transcript) -> Command:
        if not 0 <= self.index <= len(transcript):
            raise EditError(f"Can't insert at row {self.index + 1}")
        prev = transcript[self.index - 1] if self.index > 0 else None
        nxt = transcript[self.index] if self.index < len(transcript) else None
        validate_times(transcript, self.segment.start, self.segment.end, prev, nxt)
        return ReplaceSegments(self.index, 0, (self.segment,), self.label).apply(transcript)


@dataclass(frozen=True)
class Batch:
    """Several commands as one undoable step. On error, the ones done are undone."""

    commands: tuple[Command, ...]
    label: str = "Edit"

    def apply(self, transcript: Transcript) -> Command:
        inverses: list[Command] = []
        try:
            for command in self.commands:
                inverses.append(command.apply(transcript))
        except Exception:
            for inverse in reversed(inverses):
                inverse.apply(transcript)
            raise
        return Batch(tuple(reversed(inverses)), self.label)


@dataclass(frozen=True)
class SetSpeaker:
    """Give the rows ``rows`` the speaker ``speaker`` (None: no speaker)."""

    rows: tuple[int, ...]
    speaker: str | None

    @property
    def label(self) -> str:
        return f"Set speaker of {len(self.rows)} segment(s)"

    def apply(self, transcript: Transcript) -> Command:
        old = []
        for row in self.rows:
            seg = _check_row(transcript, row)
            old.append((row, seg.speaker))
        for row in self.rows:
            transcript.set_rows(row, [_replace(transcript[row], speaker=self.speaker)])
        return _RestoreSpeakers(tuple(old), self.label)


@dataclass(frozen=True)
class _RestoreSpeakers:
    speakers: tuple[tuple[int, str | None], ...]  # (row, speaker)
    label: str

    def apply(self, transcript: Transcript) -> Command:
        old = []
        for row, speaker in self.speakers:
            seg = _check_row(transcript, row)
            old.append((row, seg.speaker))
            transcript.set_rows(row, [_replace(seg, speaker=speaker)])
        return _RestoreSpeakers(tuple(old), self.label)


@dataclass(frozen=True)
class RenameSpeaker:
    """Rename a speaker everywhere; renaming to an existing name merges the two speakers."""

    old: str
    new: str

    @property
    def label(self) -> str:
        return f"Rename {self.old} to {self.new}"

    def apply(self, transcript: Transcript) -> Command:
        new = self.new.strip()
        if not new:
            raise EditError("A speaker needs a name")
        rows = tuple(i for i, seg in enumerate(transcript.segments) if seg.speaker == self.old)
        if not rows:
            raise EditError(f"No segment has the speaker {self.old!r}")
        return SetSpeaker(rows, new).apply(transcript)


def speakers_of(transcript: Transcript) -> list[str]:
    """The speakers in order of first appearance."""
    return list(dict.fromkeys(seg.speaker for seg in transcript.segments if seg.speaker))


# -- find and replace ------------------------------------------------------------
def _is_latin_word_char(char: str) -> bool:
    """A character that continues a word in space-separated text (not CJK)."""
    return (char.isalnum() or char == "_") and not is_cjk_letter(char) and not is_wide(char)


def search_pattern(find: str, match_case: bool) -> re.Pattern[str]:
    """The literal search text as a regex, case-insensitive unless ``match_case``."""
    if not find:
        raise EditError("Enter the text to find")
    return re.compile(re.escape(find), 0 if match_case else re.IGNORECASE)


def text_matches(
    text: str, find: str, match_case: bool = False, whole_word: bool = False
) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) matches of ``find`` in ``text``, left to right.

    Whole word checks an edge of a match only where that edge of ``find`` is a
    Latin word character: a match must not continue a word there. CJK has no
    spaces between words, so for CJK text it degenerates to a substring search.
    """
    pattern = search_pattern(find, match_case)
    check_start = whole_word and _is_latin_word_char(find[0])
    check_end = whole_word and _is_latin_word_char(find[-1])
    out: list[tuple[int, int]] = []
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        start, end = m.span()
        if (check_start and start > 0 and _is_latin_word_char(text[start - 1])) or (
            check_end and end < len(text) and _is_latin_word_char(text[end])
        ):
            pos = start + 1  # a later, overlapping match may still be a whole word
            continue
        out.append((start, end))
        pos = max(end, start + 1)
    return out


def find_matches(
    transcript: Transcript, find: str, match_case: bool = False, whole_word: bool = False
) -> list[tuple[int, int, int]]:
    """Every match as (row, start char, end char), in reading order."""
    search_pattern(find, match_case)  # empty search text: EditError even with no rows
    return [
        (row, start, end)
        for row, seg in enumerate(transcript.segments)
        for start, end in text_matches(seg.text, find, match_case, whole_word)
    ]


def replace_in_text(
    text: str, find: str, replace: str, match_case: bool = False, whole_word: bool = False
) -> str:
    """``text`` with every match of ``find`` replaced by ``replace`` (literally)."""
    out, last = [], 0
    for start, end in text_matches(text, find, match_case, whole_word):
        out.append(text[last:start])
        out.append(replace)
        last = end
    out.append(text[last:])
    return "".join(out)


@dataclass(frozen=True)
class ReplaceAll:
    find: str
    replace: str
    match_case: bool = False
    whole_word: bool = False
    label: str = field(default="Replace all", compare=False)

    def apply(self, transcript: Transcript) -> Command:
        search_pattern(self.find, self.match_case)  # refuse an empty search text
        edits = []
        for row, seg in enumerate(transcript.segments):
            new_text = replace_in_text(
                seg.text, self.find, self.replace, self.match_case, self.whole_word
            )
            if new_text != seg.text:
                edits.append(SetText(row, new_text))
        return Batch(tuple(edits), self.label).apply(transcript)


def count_replacements(
    transcript: Transcript, find: str, match_case: bool = False, whole_word: bool = False
) -> int:
    """How many matches ReplaceAll would replace."""
    return len(find_matches(transcript, find, match_case, whole_word))
