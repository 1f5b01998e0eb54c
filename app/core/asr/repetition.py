"""Detect and trim repetition loops in decoded output.

Speech models sometimes get stuck and repeat a token or a phrase until they run out of
tokens ("谢谢谢谢谢…", "I think that I think that …"). The detectors here work on any
sequence (token ids, characters or words); the ``*_text`` helpers split text into words
for Latin scripts and into characters for CJK scripts first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

MAX_UNIT = 32  # longest repeated unit looked for, in items
MIN_SPAN = 12  # a loop covers at least this many items ...
MIN_REPEATS = 3  # ... and repeats its unit at least this often
CHAR_MIN_SPAN = 20  # the same, counted in characters of Latin text without spaces
LOW_DIVERSITY = 0.15  # distinct items / items in the tail of an output that hit the limit

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TEXT_UNITS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")


@dataclass(frozen=True)
class Loop:
    """``seq[start:]`` is ``seq[start:start + unit]`` repeated ``count`` times.

    A partial copy of the unit may follow the last full one.
    """

    start: int
    unit: int
    count: int

    @property
    def keep(self) -> int:
        """Length of the sequence with the loop cut down to one copy of its unit."""
        return self.start + self.unit


def min_repeats(unit: int, min_span: int = MIN_SPAN, repeats: int = MIN_REPEATS) -> int:
    """How often a unit of ``unit`` items must repeat to count as a loop."""
    return max(repeats, math.ceil(min_span / unit))


def find_tail_loop(
    seq: Sequence[T],
    max_unit: int = MAX_UNIT,
    min_span: int = MIN_SPAN,
    repeats: int = MIN_REPEATS,
) -> Loop | None:
    """The loop the sequence ends in, or None.

    A trailing partial copy of the unit is allowed (the output was cut mid-phrase). Of the
    loops found, the one that starts earliest wins (so "abab…" is a loop of unit 2, not 4).
    """
    n = len(seq)
    best: Loop | None = None
    for unit in range(1, min(max_unit, n // 2) + 1):
        # Walk back from the end while seq[i] == seq[i + unit].
        i = n - unit - 1
        while i >= 0 and seq[i] == seq[i + unit]:
            i -= 1
        start = i + 1
        span = n - start
        count = span // unit
        if count < min_repeats(unit, min_span, repeats) or span < min_span:
            continue
        # Align the start so that the loop keeps the earliest copy of the unit.
        if best is None or start < best.start:
            best = Loop(start=start, unit=unit, count=count)
    return best


def low_diversity(seq: Sequence[T], window: int = 64, threshold: float = LOW_DIVERSITY) -> bool:
    """True when the tail of ``seq`` uses very few distinct items (a loop without a period)."""
    tail = list(seq[-window:])
    if len(tail) < MIN_SPAN:
        return False
    return len(set(tail)) / len(tail) <= threshold


def is_looping(seq: Sequence[T], hit_limit: bool = False) -> bool:
    """True when ``seq`` ends in a repetition loop, or hit the token limit with low diversity."""
    if find_tail_loop(seq) is not None:
        return True
    return hit_limit and low_diversity(seq)


def trim_loop(seq: Sequence[T]) -> Sequence[T]:
    """``seq`` with a trailing loop cut down to one copy of its unit (unchanged if none)."""
    loop = find_tail_loop(seq)
    if loop is None:
        return seq
    return seq[: loop.keep]


def text_units(text: str) -> list[str]:
    """Split text into words (Latin scripts) and single characters (CJK scripts)."""
    return _TEXT_UNITS.findall(text)


def find_text_loop(text: str) -> Loop | None:
    """The loop that ``text`` ends in, counted in words / CJK characters.

    Runs of Latin letters without spaces ("ËËËË…", "hahaha…") are one word, so when no
    word-level loop is found the characters are checked too (with a longer minimum span).
    """
    loop = find_tail_loop(text_units(text))
    if loop is not None:
        return loop
    return _char_loop(text)


def _char_loop(text: str) -> Loop | None:
    return find_tail_loop(text.rstrip(), min_span=CHAR_MIN_SPAN)


def trim_text_loop(text: str) -> str:
    """``text`` with a trailing loop cut down to one copy of the repeated phrase."""
    loop = find_tail_loop(text_units(text))
    if loop is not None:
        spans = [m.span() for m in _TEXT_UNITS.finditer(text)]
        return text[: spans[loop.keep - 1][1]].rstrip()
    loop = _char_loop(text)
    if loop is not None:
        return text.rstrip()[: loop.keep].rstrip()
    return text
