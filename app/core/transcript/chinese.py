"""Chinese words and scripts: where a line may break, and Simplified/Traditional output.

Chinese is written without spaces, yet a subtitler never breaks a line inside
a word ("测 / 试"), between a number and its unit ("35 / 公里"), inside a short
quotation or book title, or inside a Latin name embedded in Chinese text.
:func:`glued_positions` finds those places with the jieba segmenter (its Rust
port, ``rjieba``) plus a few typesetting rules; the line breaker in
:mod:`app.core.transcript.text` then breaks only elsewhere.

:func:`convert_script` turns the model's text into Simplified or Traditional
characters (Taiwan with its own phrases, or Hong Kong) with OpenCC.

Both libraries are loaded on first use, never when ``app.core`` is imported.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from app.core.errors import SettingsError
from app.core.transcript.text import is_cjk_text, is_han, is_han_or_kana, is_wide

if TYPE_CHECKING:
    import rjieba

#: Chinese output choices: as the model wrote it, or converted by OpenCC.
CHINESE_SCRIPTS = ("original", "simplified", "traditional", "hk", "tw")
CHINESE_SCRIPT_NAMES = {
    "original": "As the model wrote it",
    "simplified": "Simplified (简体)",
    "traditional": "Traditional (繁體)",
    "hk": "Traditional, Hong Kong (香港繁體)",
    "tw": "Traditional, Taiwan, with Taiwan phrases (台灣正體)",
}
# OpenCC configurations; "tw" also converts phrases (软件 -> 軟體, 鼠标 -> 滑鼠).
_OPENCC_CONFIGS = {"simplified": "t2s", "traditional": "s2t", "hk": "s2hk", "tw": "s2twp"}

#: A quotation or title this short (characters between the marks) is never broken.
SHORT_QUOTE_CHARS = 8
_QUOTE_PAIRS = {
    "「": "」",
    "『": "』",
    "“": "”",
    "‘": "’",
    "《": "》",
    "〈": "〉",
    "（": "）",
    "(": ")",
    "【": "】",
    "〔": "〕",
}
# Numbers, in digits or in Chinese numerals, and the units and measure words
# that follow them (checked on the Simplified form of the text).
_NUMERALS = frozenset("零〇一二两三四五六七八九十百千万亿几半")
_NUMBER_MARKS = frozenset(".,:/%％‰")
_UNIT_STARTS = frozenset(
    "年月日号时点分秒个只条位名件次倍岁元块角毛米里吨克斤升度码层楼间张本台辆家所天周"
    "届场轮份批架艘座首部集期页章节段句字亿万千百公厘毫英美欧港摄华平立小成折斤磅盎"
    "%％°℃℉"
)
# Particles that end what comes before them: a line never starts with one
# (checked on the Simplified form; Cantonese ones too).
_PARTICLES = frozenset("的了着过吗呢吧啊呀嘛啦哦地得嘅咗啲喎嘞咩㗎")
# Cantonese words the Mandarin dictionary lacks (Simplified, as segmentation runs on it).
_CANTONESE_WORDS = (
    "佢哋 我哋 你哋 喺度 喺边 边度 边个 边间 呢度 嗰度 呢个 嗰个 呢啲 嗰啲 啲嘢 乜嘢 咩嘢 "
    "点解 点样 几多 几时 而家 宜家 啱啱 琴日 听日 今日 寻日 后日 一齐 咁样 咁多 系咪 "
    "唔系 唔好 唔该 唔该晒 唔使 唔紧要 唔知 唔得 冇问题 冇得 冇嘢 多谢 钟意 靓仔 靓女 "
    "搞掂 饮茶 埋单 返工 放工 返屋企 屋企 睇戏 睇下 揾食 倾偈 食饭 瞓觉 出便 入便 "
    "上便 下便 后便 前便 好似 系咁 得唔得 使唔使 有冇 系唔系 咪住 即系 跟住 然之后"
)

_lock = threading.RLock()


class UnknownChineseScript(SettingsError, ValueError):
    """A Chinese script that is not one of :data:`CHINESE_SCRIPTS`."""


# --------------------------------------------------------------------------- words


@functools.cache
def _segmenter() -> rjieba.Jieba:
    import rjieba

    jieba = rjieba.Jieba()
    for word in _CANTONESE_WORDS.split():
        jieba.add_word(word, None, None)
    return jieba


@functools.cache
def _opencc(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def _simplified_for_segmenting(text: str) -> str:
    """The text in Simplified characters, position for position (the dictionary is Simplified)."""
    if not any(is_han(ch) for ch in text):
        return text
    with _lock:
        converted = str(_opencc("t2s").convert(text))
    return converted if len(converted) == len(text) else text


def words(text: str) -> list[str]:
    """The words of ``text`` by the segmenter (spaces and punctuation are words too)."""
    if not text:
        return []
    simple = _simplified_for_segmenting(text)
    with _lock:  # one segmenter shared by the GUI worker and the GUI thread
        tokens = _segmenter().cut(simple, True)
    out: list[str] = []
    pos = 0
    for token in tokens:
        out.append(text[pos : pos + len(token)])
        pos += len(token)
    if pos != len(text):  # never expected; keep every character whatever happens
        out.append(text[pos:])
    return out


def _is_number(token: str) -> bool:
    stripped = token.strip()
    if not stripped:
        return False
    has_digit = any(ch.isdigit() or ch in _NUMERALS for ch in stripped)
    return has_digit and all(
        ch.isdigit() or ch in _NUMERALS or ch in _NUMBER_MARKS for ch in stripped
    )


def _narrow_alnum(ch: str) -> bool:
    return ch.isalnum() and not is_wide(ch)


@functools.lru_cache(maxsize=512)
def glued_positions(text: str, *, groups: bool = True) -> frozenset[int]:
    """Offsets ``k`` where a line must not break between ``text[:k]`` and ``text[k:]``.

    For text that holds Chinese characters (and no Japanese kana, which the
    segmenter does not know): inside a word; between a number and its unit
    or measure word (``35公里``, ``三个``, ``第3``); inside a quotation or title
    of at most :data:`SHORT_QUOTE_CHARS` characters; before a particle that
    stands as a word of its own (``的``, ``了``, ``吗``, ``嘅``, ...); inside ``——`` and around
    the name dot ``·``; between full-width letters or digits. In text that is
    mostly CJK, also at a space between two Latin words or numbers
    (``iPhone 15 Pro``, ``50 km``), so that they move as one. Elsewhere the
    set is empty: Latin text keeps its own rules.

    ``groups=False`` leaves out the groups of words (number and unit, short
    quotations, particles, Latin runs): what is left when such a group is
    longer than a line.
    """
    if not any(is_han(ch) for ch in text) or any(
        is_han_or_kana(ch) and not is_han(ch) for ch in text
    ):
        return frozenset()
    glued: set[int] = set()
    tokens = words(text)
    simple = _simplified_for_segmenting(text)
    pos = 0
    previous = ""
    for index, token in enumerate(tokens):
        start, end = pos, pos + len(token)
        glued.update(range(start + 1, end))  # inside a word
        if groups and index and not token.isspace():
            first = simple[start]
            if len(token) == 1 and first in _PARTICLES and previous[-1:].strip():
                glued.add(start)
            measure = len(token) == 1 and is_han(first)  # 3瓶, 120张: a measure word
            if _is_number(previous) and (first in _UNIT_STARTS or first.isdigit() or measure):
                glued.add(start)
            if previous.endswith(("第", "約", "约", "近", "逾")) and _is_number(token):
                glued.add(start)
        if not token.isspace():
            previous = token
        pos = end
    for k in range(1, len(text)):
        before, after = text[k - 1], text[k]
        if before == after and before in "—―─-～~":
            glued.add(k)
        if before in "·•" or after in "·•":
            glued.add(k)
        if before.isalnum() and after.isalnum() and not is_han(before) and not is_han(after):
            glued.add(k)
    if groups:
        _glue_short_quotes(text, glued)
        if is_cjk_text(text):
            _glue_latin_runs(text, glued)
    return frozenset(glued)


def _glue_short_quotes(text: str, glued: set[int]) -> None:
    stack: list[tuple[str, int]] = []
    for k, ch in enumerate(text):
        if ch in _QUOTE_PAIRS:
            stack.append((_QUOTE_PAIRS[ch], k))
        elif stack and ch == stack[-1][0]:
            _, opened = stack.pop()
            if k - opened - 1 <= SHORT_QUOTE_CHARS:
                glued.update(range(opened + 1, k + 1))


def _glue_latin_runs(text: str, glued: set[int]) -> None:
    """Glue a single space between two narrow letters or digits: the first after it."""
    for k in range(1, len(text) - 1):
        if text[k] == " " and _narrow_alnum(text[k - 1]) and _narrow_alnum(text[k + 1]):
            glued.add(k + 1)


# --------------------------------------------------------------------------- scripts


def check_script(script: str) -> str:
    """``script`` when it is one of :data:`CHINESE_SCRIPTS`; else UnknownChineseScript."""
    if script not in CHINESE_SCRIPTS:
        choices = ", ".join(CHINESE_SCRIPTS)
        raise UnknownChineseScript(f"Unknown Chinese script {script!r}: choose {choices}")
    return script


def convert_script(text: str, script: str) -> str:
    """``text`` in the Chinese ``script`` (see :data:`CHINESE_SCRIPTS`).

    ``original`` returns the text unchanged, as does text without Chinese
    characters. Only characters change: OpenCC maps them one for one (or
    phrase for phrase in ``tw``); spaces, Latin text and punctuation stay.
    """
    check_script(script)
    if script == "original" or not any(is_han(ch) for ch in text):
        return text
    with _lock:
        return str(_opencc(_OPENCC_CONFIGS[script]).convert(text))


__all__ = [
    "CHINESE_SCRIPTS",
    "CHINESE_SCRIPT_NAMES",
    "SHORT_QUOTE_CHARS",
    "UnknownChineseScript",
    "check_script",
    "convert_script",
    "glued_positions",
    "words",
]
