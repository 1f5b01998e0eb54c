"""Script detection and line-breaking rules for Latin and CJK text.

Chinese and Japanese are written without spaces, so a line may break between
almost any two of their characters; Latin (and Korean) text breaks at spaces.
Punctuation stays with the text before it: a line never starts with a closing
mark (``。``, ``，``, ``)``, ``」``, small kana, ...) and never ends with an
opening one (``「``, ``(``, ...).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

# Letters of the CJK scripts. Han and kana are written without spaces ("wide"
# scripts); Hangul counts as CJK for line length but breaks at spaces.
_HAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3400, 0x4DBF),  # extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0x20000, 0x3FFFF),  # extensions B and later
)
_KANA_RANGES: tuple[tuple[int, int], ...] = (
    (0x3041, 0x309F),  # hiragana
    (0x30A0, 0x30FF),  # katakana
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0xFF66, 0xFF9F),  # half-width katakana
)
_HANGUL_RANGES: tuple[tuple[int, int], ...] = (
    (0x1100, 0x11FF),
    (0x3130, 0x318F),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7AF),
    (0xD7B0, 0xD7FF),
)
# CJK punctuation and full-width forms: they behave like wide characters.
_WIDE_PUNCT_RANGES: tuple[tuple[int, int], ...] = (
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFE50, 0xFE6F),  # small form variants
    (0xFF01, 0xFF65),  # full-width ASCII and half-width CJK punctuation
    (0xFFE0, 0xFFEE),  # full-width signs
)

#: Marks that end a sentence. The full-width ones end it wherever they stand;
#: the Latin ones only before a space, the end of the text or a CJK character.
SENTENCE_END_WIDE = frozenset("。！？｡．‼⁇⁈⁉")
SENTENCE_END_LATIN = frozenset(".!?…")
#: Marks that end a clause (same rule for wide and Latin forms).
CLAUSE_END_WIDE = frozenset("，、；：﹐﹑﹔﹕､")
CLAUSE_END_LATIN = frozenset(",;:—–")

#: A line never starts with one of these.
CLOSING_PUNCT = frozenset(
    "、。，．：；？！）」』】〉》〕〗〙〛｝］｠〞〟’”»›"
    "ー々ゝゞヽヾぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
    "・…‥〜～｡｣､･﹐﹑﹔﹕﹖﹗"
    ")]},.;:!?%'\"‼⁇⁈⁉"
)
# Closing marks that stay with the word before even across a space (not the
# ASCII quotes, which open as often as they close).
_CLOSING_AFTER_SPACE = CLOSING_PUNCT - {"'", '"'}
#: A line never ends with one of these.
OPENING_PUNCT = frozenset("（「『【〈《〔〖〘〚｛［｟〝‘“«‹([{¿¡｢")

#: Latin abbreviations after which a full stop does not end a sentence.
ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "e.g", "i.e", "cf", "approx"}
)


def _in_ranges(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)


@functools.lru_cache(maxsize=8192)
def is_han_or_kana(ch: str) -> bool:
    """Chinese characters or Japanese kana."""
    code = ord(ch)
    return _in_ranges(code, _HAN_RANGES) or _in_ranges(code, _KANA_RANGES)


@functools.lru_cache(maxsize=8192)
def is_han(ch: str) -> bool:
    """A Chinese character (hanzi, kanji, hanja), of any extension block."""
    return _in_ranges(ord(ch), _HAN_RANGES)


@functools.lru_cache(maxsize=8192)
def is_cjk_letter(ch: str) -> bool:
    """A letter of Chinese, Japanese or Korean."""
    return is_han_or_kana(ch) or _in_ranges(ord(ch), _HANGUL_RANGES)


@functools.lru_cache(maxsize=8192)
def is_wide(ch: str) -> bool:
    """A character of a script written without spaces (Han, kana, CJK punctuation)."""
    return is_han_or_kana(ch) or _in_ranges(ord(ch), _WIDE_PUNCT_RANGES)


def is_cjk_text(text: str) -> bool:
    """True when most of ``text`` is CJK (Chinese, Japanese, Korean).

    Letters are weighed by what they say (:func:`char_weight`): a Chinese
    character is a syllable, worth about three Latin letters, so
    "我们使用 GLM-ASR" is Chinese text with an English name in it.
    """
    cjk = 0.0
    other = 0.0
    for ch in text:
        if ch.isalpha():
            if is_cjk_letter(ch):
                cjk += char_weight(ch)
            else:
                other += 1.0
    return cjk > other


def can_break_between(before: str, after: str) -> bool:
    """Whether a line may break between two adjacent non-space characters."""
    if after in CLOSING_PUNCT or before in OPENING_PUNCT:
        return False
    return is_wide(before) or is_wide(after)


def char_weight(ch: str) -> float:
    """About how long a character takes to say, relative to a Latin letter.

    A Chinese character or a Hangul block is a syllable, a kana a mora, a Latin
    letter a fraction of a syllable; punctuation and spaces take no time.
    """
    if ch.isspace():
        return 0.0
    if is_cjk_letter(ch):
        return 2.0 if _in_ranges(ord(ch), _KANA_RANGES) else 3.0
    if ch.isalnum():
        return 1.0
    return 0.0


@functools.lru_cache(maxsize=8192)
def cell_width(ch: str) -> int:
    """Half-cells a character takes on a CJK line: 2 for a wide (full-width) one, else 1.

    Marks of ambiguous width (“ ” ‘ ’ — … ·) are set full-width by Chinese
    fonts, so they count as wide; letters of ambiguous width (é) do not.
    """
    width = unicodedata.east_asian_width(ch)
    if width in ("W", "F") or (width == "A" and not ch.isalnum()):
        return 2
    return 1


def line_width(text: str, cjk: bool) -> int:
    """Width of a line in the unit of its limit.

    Latin lines count characters. CJK lines count half-cells, so that a
    Chinese character or full-width mark takes a whole cell and a Latin
    letter, digit or space half of one, as on screen ("GLM-ASR" takes 3.5).
    """
    return sum(cell_width(ch) for ch in text) if cjk else len(text)


def text_weight(text: str) -> float:
    """Sum of :func:`char_weight` over ``text``."""
    return sum(char_weight(ch) for ch in text)


class Atom(NamedTuple):
    """A run of text with no line-break opportunity inside: ``text[start:end]``."""

    start: int
    end: int
    space_before: bool  # separated from the previous atom by white space


def split_atoms(text: str, *, words: bool = True, groups: bool = True) -> list[Atom]:
    """Cut ``text`` at every place a line may break (spaces, between CJK characters).

    A closing mark after a space ("Ça marche !", "word 。") stays with the word
    before it, so an atom may hold white space; use :func:`normalize_space` on
    its text. With ``words`` (the default), Chinese text breaks only between
    words, never between a number and its unit, inside a short quotation or
    inside a Latin name (see :func:`app.core.transcript.chinese.glued_positions`);
    ``groups=False`` keeps only whole words together; ``words=False`` allows a
    break between any two CJK characters.
    """
    glued: frozenset[int] = frozenset()
    if words and any(is_han_or_kana(ch) for ch in text):
        from app.core.transcript.chinese import glued_positions

        glued = glued_positions(text, groups=groups)
    out: list[Atom] = []
    start = -1
    space_before = False
    seen_space = False
    for idx, ch in enumerate(text):
        if ch.isspace():
            if start >= 0:
                out.append(Atom(start, idx, space_before))
                start = -1
            seen_space = True
            continue
        if start < 0:
            if seen_space and out and (ch in _CLOSING_AFTER_SPACE or idx in glued):
                previous = out.pop()  # reopen the previous atom
                start, space_before = previous.start, previous.space_before
            else:
                start = idx
                space_before = seen_space and bool(out)
            seen_space = False
        elif idx not in glued and can_break_between(text[idx - 1], ch):
            out.append(Atom(start, idx, space_before))
            start = idx
            space_before = False
    if start >= 0:
        out.append(Atom(start, len(text), space_before))
    return out


def split_long_atoms(text: str, atoms: list[Atom], limit: int) -> list[Atom]:
    """Atoms wider than ``limit`` cut again, as a last resort.

    A group of Chinese words kept together (a number with its unit, a short
    quotation) that is longer than a line is cut between its words; a word
    that is still longer, between its characters where the typesetting rules
    allow. A Latin word is never cut.
    """
    return _split_long(text, atoms, limit, 0)


def _split_long(text: str, atoms: list[Atom], limit: int, level: int) -> list[Atom]:
    out: list[Atom] = []
    for atom in atoms:
        piece = text[atom.start : atom.end]
        if level > 1 or len(normalize_space(piece)) <= limit:
            out.append(atom)
            continue
        parts = split_atoms(piece, words=level == 0, groups=False)
        parts = _split_long(piece, parts, limit, level + 1)
        for k, part in enumerate(parts):
            space = atom.space_before if k == 0 else part.space_before
            out.append(Atom(atom.start + part.start, atom.start + part.end, space))
    return out


def line_atoms(text: str, limit: int) -> list[Atom]:
    """:func:`split_atoms`, with atoms longer than ``limit`` cut by :func:`split_long_atoms`."""
    return split_long_atoms(text, split_atoms(text), limit)


def _joins_without_space(before: str, after: str) -> bool:
    """Two pieces meet without a space when either side is a wide character."""
    return is_wide(before) or is_wide(after)


def join_texts(parts: Iterable[str]) -> str:
    """Join pieces of text (segments, cues) back into running text.

    White space inside a piece is collapsed to single spaces. Where two pieces
    meet, a space that either piece holds at that end is kept (as one space);
    otherwise a space is added only between two Latin (narrow) characters, so
    nothing is ever added next to a Chinese character or a full-width mark:
    "第一个例子：" + "GLM-ASR" gives "第一个例子：GLM-ASR".
    """
    result = ""
    trailing = False
    for part in parts:
        core = normalize_space(part)
        if not core:
            continue
        leading = part[:1].isspace()
        if result and (leading or trailing or not _joins_without_space(result[-1], core[0])):
            result += " "
        result += core
        trailing = part[-1:].isspace()
    return result


def normalize_space(text: str) -> str:
    """Collapse runs of white space (including new lines) into one space."""
    return " ".join(text.split())
