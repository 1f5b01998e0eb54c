"""Chinese subtitles as a native subtitler makes them (issue #17).

Line and cue breaks fall between words, never inside a number with its unit,
a Latin name or a short quotation, and follow the line-start and line-end
rules; the model's text comes back unchanged from every export; Simplified or
Traditional output converts known words correctly and keeps the cue limits.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import srt
import webvtt

from app.core.export.exporters import (
    ExportOptions,
    export,
    render_json,
    render_srt,
    render_txt,
    render_vtt,
)
from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.chinese import (
    UnknownChineseScript,
    check_script,
    convert_script,
)
from app.core.transcript.cues import (
    CueOptions,
    cue_fits,
    cues_for_chunk,
    enforce_timing,
    split_text,
    wrap_lines,
)
from app.core.transcript.text import join_texts
from tests.chinese_corpus import HAND_SEGMENTED, sentences

# Written out here, not imported from the code under test.
NO_LINE_START = set("，。！？、：；」』）》〉】”’…,.!?;:)")
NO_LINE_END = set("「『（《〈【“‘(")
UNITS = set("年月日号个位名岁元块公米里吨克度%亿万届张瓶斤分小")


def break_positions(text: str, options: CueOptions) -> list[tuple[int, str]]:
    """Offsets in ``text`` where a new cue or a new line starts, as shaping cuts it."""
    out: list[tuple[int, str]] = []
    pos = 0
    for cue in split_text(text, options):
        start = text.index(cue, pos)
        if start:
            out.append((start, "cue"))
        line_pos = start
        for k, line in enumerate(wrap_lines(cue, options)):
            line_start = text.index(line, line_pos)
            if k:
                out.append((line_start, "line"))
            line_pos = line_start + len(line)
        pos = start + len(cue)
    return out


def segmenter_boundaries(text: str) -> set[int]:
    """The word boundaries of jieba (its Rust port), called directly."""
    import rjieba

    bounds = {0, len(text)}
    pos = 0
    for token in rjieba.cut(text):
        pos += len(token)
        bounds.add(pos)
    return bounds


def rule_violations(text: str, positions: Sequence[int]) -> list[str]:
    bad = []
    for p in positions:
        before, after = text[p - 1], text[p]
        shown = f"{text[:p]} | {text[p:]}"
        if after in NO_LINE_START:
            bad.append(f"line starts with {after!r}: {shown}")
        if before in NO_LINE_END:
            bad.append(f"line ends with {before!r}: {shown}")
        if before.isdigit() and after in UNITS:
            bad.append(f"number cut from its unit: {shown}")
        if before.isascii() and after.isascii() and before.isalnum() and after.isalnum():
            bad.append(f"Latin word cut: {shown}")
    return bad


# --------------------------------------------------------------------------- breaks


def test_corpus_is_a_few_hundred_varied_sentences() -> None:
    corpus = sentences()
    assert len(corpus) == len(set(corpus)) == 300
    assert sum(bool(re.search(r"\d", s)) for s in corpus) >= 80  # numbers
    assert sum(bool(re.search(r"[A-Za-z]{2}", s)) for s in corpus) >= 50  # English
    assert sum("说" in s or "问" in s for s in corpus) >= 60  # dialogue


@pytest.mark.parametrize(
    "options",
    [CueOptions(), CueOptions(max_chars_cjk=12), CueOptions(max_chars_cjk=10, max_lines=1)],
    ids=["16x2", "12x2", "10x1"],
)
def test_breaks_fall_at_word_boundaries(options: CueOptions) -> None:
    total = at_words = 0
    violations: list[str] = []
    for text in sentences():
        bounds = segmenter_boundaries(text)
        positions = [p for p, _ in break_positions(text, options)]
        total += len(positions)
        at_words += sum(p in bounds for p in positions)
        violations += rule_violations(text, positions)
    assert total > 400, "the corpus must make many breaks to measure"
    rate = at_words / total
    print(f"{options.max_chars_cjk}x{options.max_lines}: {at_words}/{total} = {rate:.1%}")
    assert rate >= 0.95
    assert violations == []


def test_breaks_fall_where_a_native_reader_segmented_by_hand() -> None:
    total = good = 0
    wrong = []
    for marked in HAND_SEGMENTED:
        text = marked.replace("/", "")
        bounds = {0}
        for word in marked.split("/"):
            bounds.add(max(bounds) + len(word))
        for options in (CueOptions(), CueOptions(max_chars_cjk=12), CueOptions(max_chars_cjk=8)):
            for p, _kind in break_positions(text, options):
                total += 1
                if p in bounds:
                    good += 1
                else:
                    wrong.append(f"{text[:p]} | {text[p:]}")
            assert rule_violations(text, [p for p, _ in break_positions(text, options)]) == []
    print(f"hand-checked: {good}/{total}")
    assert total >= 60
    assert good / total >= 0.95, wrong


@pytest.mark.parametrize(
    ("text", "limit", "lines"),
    [
        # the examples: "测 / 试", "识 / 别" and "公 / 园" were cut
        ("实验室里测试了新的语音识别准确率", 10, ["实验室里测试了新的", "语音识别准确率"]),
        ("实验室里测试了新的语音识别准确率", 8, ["实验室里测试了", "新的语音识别准确率"]),
        ("大家都喜欢在公园旁边的咖啡馆看书", 10, ["大家都喜欢在公园", "旁边的咖啡馆看书"]),
        # a closing mark stays on its line, an opening one goes with what it opens
        ("他问：“你吃饭了吗？”我说：“吃了。”", 12, ["他问：“你吃饭了吗？”", "我说：“吃了。”"]),
        ("这是我们的软件，请大家试用。", 10, ["这是我们的软件，", "请大家试用。"]),
        # a short quotation, a name with its dots, a dash and an ellipsis stay whole
        ("他说「我爱你」然后就头也不回地走了", 10, ["他说「我爱你」然后", "就头也不回地走了"]),
        ("马丁·路德·金发表了著名的演讲", 10, ["马丁·路德·金", "发表了著名的演讲"]),
        ("他等了很久很久——终于等到了她……", 10, ["他等了很久很久——", "终于等到了她……"]),
        # a number keeps its unit and its "约"
        (
            "这座大桥全长约12.5公里总投资超过80亿元",
            12,
            ["这座大桥全长约12.5公里", "总投资超过80亿元"],
        ),
        (
            "我们买了三斤苹果和两瓶牛奶一共花了42块钱",
            12,
            ["我们买了三斤苹果和两瓶", "牛奶一共花了42块钱"],
        ),
        # Latin words and a spaced name inside Chinese text
        ("我们使用 GLM-ASR 模型识别普通话和粤语", 12, ["我们使用 GLM-ASR", "模型识别普通话和粤语"]),
        ("她在 New York 住了三年以后回到了上海", 12, ["她在 New York 住了", "三年以后回到了上海"]),
        # Cantonese, in Traditional characters
        ("佢哋喺度食緊飯，我哋聽日一齊去睇戲啦", 10, ["佢哋喺度食緊飯，", "我哋聽日一齊去睇戲啦"]),
    ],
)
def test_lines_written_out(text: str, limit: int, lines: list[str]) -> None:
    assert wrap_lines(text, CueOptions(max_chars_cjk=limit)) == lines


def test_a_word_longer_than_a_line_breaks_as_a_last_resort() -> None:
    # one word of 7 characters on lines of 5: cut between its characters
    assert wrap_lines("中华人民共和国", CueOptions(max_chars_cjk=5)) == ["中华人民", "共和国"]
    # a short quotation longer than the line: cut between its words, not inside one
    lines = wrap_lines("他说「我爱你一万年不变」然后走了", CueOptions(max_chars_cjk=6, max_lines=3))
    assert lines == ["他说「我爱你", "一万年不变」", "然后走了"]
    # a Latin word is never cut, even when it is longer than the line
    narrow = CueOptions(max_chars_cjk=8, max_chars_latin=20)
    assert wrap_lines("网址是https://example.com/a/very/long/path", narrow) == [
        "网址是",
        "https://example.com/a/very/long/path",
    ]


def test_long_sentences_split_into_cues_between_words() -> None:
    text = (
        "北京市今天上午召开了关于环境保护的新闻发布会相关部门表示将继续加强监督管理"
        "专家认为这将对经济发展产生深远影响许多市民在社交媒体上表达了自己的看法"
    )
    options = CueOptions(max_chars_cjk=10, max_lines=1)
    cues = split_text(text, options)
    assert "".join(cues) == text
    assert all(len(c) <= 10 for c in cues)
    bounds = segmenter_boundaries(text)
    pos = 0
    for cue in cues[:-1]:
        pos += len(cue)
        assert pos in bounds, f"{text[:pos]} | {text[pos:]}"


# --------------------------------------------------------------------------- the model's text


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        (["第一个例子：", "GLM-ASR"], "第一个例子：GLM-ASR"),  # the example
        (["使用", "GLM-ASR模型"], "使用GLM-ASR模型"),
        (["使用 ", "GLM-ASR 模型"], "使用 GLM-ASR 模型"),  # the model's space, kept
        (["他说：", "“好。”"], "他说：“好。”"),
        (["你好。", "世界"], "你好。世界"),
        (["Hello", "world."], "Hello world."),  # Latin: as before
        (["One.", "  Two  three. "], "One. Two three."),
    ],
)
def test_join_texts_never_adds_a_space_next_to_chinese(parts: list[str], joined: str) -> None:
    assert join_texts(parts) == joined


def chunk_texts() -> Iterator[str]:
    """Chunks of 1 to 4 corpus sentences, some with the model's spaces around Latin words."""
    corpus = sentences()
    for k in range(0, len(corpus), 3):
        chunk = "".join(corpus[k : k + 1 + k % 4])
        yield chunk
        yield re.sub(
            r"(?<=[\u4e00-\u9fff])([A-Za-z][\w\- ]*[\w])(?=[\u4e00-\u9fff])", r" \1 ", chunk
        )


def test_cues_join_back_into_the_chunk_text_exactly() -> None:
    options = CueOptions(max_chars_cjk=12)
    checked = spaced = 0
    for text in chunk_texts():
        cues = cues_for_chunk(text, [(0.0, 2.0), (2.5, 9.0), (9.4, 30.0)], options)
        assert join_texts(c.text for c in cues) == text
        for cue in cues:
            assert cue_fits(cue.text, options) or " " not in cue.text.strip()
        checked += 1
        spaced += " " in text
    assert checked > 150 and spaced > 20


def test_cue_kept_space_is_only_the_models() -> None:
    text = "我们使用 GLM-ASR 模型来识别普通话和粤语的语音内容，效果非常好。"
    cues = cues_for_chunk(text, [(0.0, 12.0)], CueOptions(max_chars_cjk=10, max_lines=1))
    # a Latin letter takes half a cell: "我们使用 GLM-ASR" is 8 cells wide
    assert [c.text for c in cues] == [
        "我们使用 GLM-ASR ",
        "模型来识别普通话和",
        "粤语的语音内容，",
        "效果非常好。",
    ]
    assert join_texts(c.text for c in cues) == text
    cues = cues_for_chunk(text, [(0.0, 12.0)], CueOptions(max_chars_cjk=8, max_lines=1))
    assert [c.text for c in cues] == [
        "我们使用 ",
        "GLM-ASR 模型",
        "来识别普通话和",
        "粤语的语音内容，",
        "效果非常好。",
    ]
    assert join_texts(c.text for c in cues) == text
    tight = "我们使用GLM-ASR模型来识别普通话和粤语的语音内容，效果非常好。"
    cues = cues_for_chunk(tight, [(0.0, 12.0)], CueOptions(max_chars_cjk=10, max_lines=1))
    assert all(not c.text.endswith(" ") for c in cues)
    assert join_texts(c.text for c in cues) == tight


# --------------------------------------------------------------------------- round trips

CHUNKS = (
    "第一个例子：GLM-ASR在安静的环境下识别得非常准确。我们使用 GLM-ASR 模型来识别普通话和粤语。",
    "这座大桥全长约12.5公里，总投资超过80亿元人民币。今天的最高气温达到了38摄氏度！",
    "他说：“今天天气真好，我们出去走走吧。”妈妈笑着说：「好啊。」",
    "佢哋喺度食緊飯，我哋聽日一齊去睇戲啦。新款 iPhone 15 Pro 的售价为7999元。",
)


def chinese_transcript() -> tuple[Transcript, str]:
    segments: list[Segment] = []
    start = 0.0
    for text in CHUNKS:
        segments += cues_for_chunk(text, [(start, start + 9.0)], CueOptions(), 60.0)
        start += 12.0
    meta = TranscriptMeta(source="/tmp/中文.wav", duration=60.0, model="m")
    return Transcript(segments, meta), "".join(CHUNKS)


def cells(line: str) -> float:
    """Screen width in full-width cells: a Latin letter, digit or space takes half of one."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.5 for ch in line)


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_srt_and_vtt_read_back_give_the_same_characters() -> None:
    transcript, full = chinese_transcript()
    options = ExportOptions(cues=CueOptions())
    subs = list(srt.parse(render_srt(transcript, options)))
    vtt = webvtt.from_buffer(io.StringIO(render_vtt(transcript, options)))
    for texts in ([s.content for s in subs], [c.text for c in vtt]):
        assert no_space("".join(texts)) == no_space(full)  # nothing added, dropped, changed
        lines = [line for t in texts for line in t.split("\n")]
        assert all(line and line in full for line in lines)  # every line as the model wrote it
        assert all(cells(line) <= 16 for line in lines)
        starts = [line[0] for line in lines]
        ends = [line[-1] for line in lines]
        assert not NO_LINE_START & set(starts) and not NO_LINE_END & set(ends)


def test_txt_json_and_docx_read_back_give_the_models_text(tmp_path: Path) -> None:
    from docx import Document

    transcript, full = chinese_transcript()
    txt = render_txt(transcript, ExportOptions(paragraph_gap_s=100.0, paragraph_sentences=100))
    assert txt == full + "\n"  # exactly, with the model's spaces and none added
    data = json.loads(render_json(transcript))
    assert join_texts(s["text"] for s in data["segments"]) == full
    assert Transcript.from_dict(data).text() == full
    path = export(transcript, "docx", tmp_path / "out.docx", ExportOptions(paragraph_gap_s=100.0))
    paragraphs = [p.text for p in Document(str(path)).paragraphs]
    assert "".join(paragraphs[2:]) == full
    # a cue cut at the model's space next to a Chinese character keeps it in TXT
    text = "我们使用 GLM-ASR 模型来识别普通话和粤语的语音内容，效果非常好。"
    cues = cues_for_chunk(text, [(0.0, 12.0)], CueOptions(max_chars_cjk=8, max_lines=1))
    assert cues[0].text == "我们使用 "
    tight = Transcript(cues, TranscriptMeta(duration=12.0))
    assert render_txt(tight, ExportOptions(paragraph_gap_s=100.0)) == text + "\n"
    assert (
        "".join(
            p.text for p in Document(str(export(tight, "docx", tmp_path / "t.docx"))).paragraphs[2:]
        )
        == text
    )
    # paragraphs that break at pauses still hold the exact text, in order
    txt = render_txt(transcript, ExportOptions(paragraph_gap_s=1.0))
    assert txt.split("\n\n")[0] == CHUNKS[0]
    assert txt.replace("\n", "") == full


# --------------------------------------------------------------------------- scripts


@pytest.mark.parametrize(
    ("script", "source", "expected"),
    [
        ("tw", "软件", "軟體"),
        ("tw", "鼠标", "滑鼠"),
        ("tw", "信息", "資訊"),
        ("tw", "网络", "網路"),
        ("tw", "打印机", "印表機"),
        ("tw", "出租车", "計程車"),
        ("tw", "视频", "影片"),
        ("tw", "U盘", "隨身碟"),
        ("hk", "软件", "軟件"),
        ("hk", "鼠标", "鼠標"),
        ("hk", "头发", "頭髮"),
        ("hk", "里面", "裏面"),
        ("hk", "佢哋喺度食紧饭", "佢哋喺度食緊飯"),
        ("traditional", "头发", "頭髮"),
        ("traditional", "发展", "發展"),
        ("traditional", "后面", "後面"),
        ("traditional", "这里", "這裏"),
        ("simplified", "頭髮", "头发"),
        ("simplified", "軟體", "软体"),
        ("simplified", "佢哋喺度食緊飯", "佢哋喺度食紧饭"),
        ("simplified", "我哋聽日一齊去睇戲", "我哋听日一齐去睇戏"),
        ("original", "软件 軟體", "软件 軟體"),
    ],
)
def test_known_words_convert(script: str, source: str, expected: str) -> None:
    assert convert_script(source, script) == expected


def test_conversion_keeps_spaces_latin_and_punctuation() -> None:
    text = "我们使用 GLM-ASR 软件，效果很好！(OK) 第1个例子：iPhone 15"
    assert (
        convert_script(text, "tw") == "我們使用 GLM-ASR 軟體，效果很好！(OK) 第1個例子：iPhone 15"
    )
    assert convert_script("Hello, world.", "hk") == "Hello, world."
    with pytest.raises(UnknownChineseScript, match="choose original, simplified"):
        check_script("cantonese")


class StandInEngine:
    """The pipeline's view of an engine, answering fixed Simplified Chinese text."""

    TEXTS = (
        "我们的软件用鼠标就能操作，所有信息都存在U盘和移动硬盘里，网络不好的时候也能用。",
        "这个程序的默认设置已经优化过了，打印机和出租车的视频数据库也可以直接导入。",
    )

    class options:  # read like the Engine's options
        model = "stand-in"

    loaded = True
    device_info = None
    window_seconds = None
    batch_size = 8

    def __init__(self) -> None:
        from app.core.asr.placement import Placement

        self.placement = Placement()

    def records_gaze(self) -> bool:
        """No attention to record: nothing is packed."""
        return False

    def pin_threads(self, spare: int = 0) -> None:
        """No torch here: nothing to pin."""

    def hold_spare(self) -> None:
        """No cores to lend."""

    def release_spare(self) -> None:
        """Nor to take back."""

    def transcribe_decoded(
        self,
        audios: Sequence[object],
        cancel: object = None,
        lengths: object = None,
        heard: bool = False,
    ) -> Iterator[object]:
        from app.core.asr.engine import Decoded

        for index in range(len(audios)):
            yield index, Decoded(self.TEXTS[index % len(self.TEXTS)], (), False), False


@pytest.mark.parametrize("script", ["tw", "hk", "simplified", "original"])
def test_pipeline_converts_once_before_shaping(tmp_path: Path, script: str) -> None:
    from app.core.events import ChunkTranscribed, Finished
    from app.core.pipeline import PipelineOptions, transcribe_file
    from tests import speech

    track = speech.make_track(speech.SENTENCES[:2], (1.5,), tmp_path)
    cue_options = CueOptions(max_chars_cjk=10, max_lines=1)
    options = PipelineOptions(cues=cue_options, chinese=script)
    events = list(transcribe_file(track.path, StandInEngine(), options))  # type: ignore[arg-type]
    chunks = [e for e in events if isinstance(e, ChunkTranscribed)]
    transcript = events[-1].transcript
    assert isinstance(events[-1], Finished) and chunks
    expected = {
        "tw": "我們的軟體用滑鼠就能操作，所有資訊都存在隨身碟和行動硬碟裡，網路不好的時候也能用。",
        "hk": "我們的軟件用鼠標就能操作，所有信息都存在U盤和移動硬盤裏，網絡不好的時候也能用。",
        "simplified": StandInEngine.TEXTS[0],
        "original": StandInEngine.TEXTS[0],
    }[script]
    first = next(e for e in chunks if e.index == 0)
    assert first.text == expected
    assert join_texts(s.text for s in first.segments) == expected  # the editor's text
    for seg in transcript.segments:  # the limits hold for the converted characters
        assert cue_fits(seg.text, cue_options), seg.text
        assert all(len(line) <= 10 for line in wrap_lines(seg.text, cue_options))
    srt_text = render_srt(transcript, ExportOptions(cues=cue_options))
    assert no_space("".join(s.content for s in srt.parse(srt_text))) == no_space(
        "".join(
            join_texts(s.text for s in c.segments) for c in sorted(chunks, key=lambda c: c.index)
        )
    )


# --------------------------------------------------------------------------- reading speed


def test_reading_speed_counts_chinese_characters() -> None:
    options = CueOptions()
    assert options.max_cps_cjk == 9.0 and options.max_cps_latin == 0.0
    assert options.reading_seconds("今天天气很好，我们去公园散步吧。") == pytest.approx(14 / 9)
    assert options.reading_seconds("Hello there.") == 0.0  # no Latin limit by default
    latin = CueOptions(max_cps_latin=17.0)
    assert latin.reading_seconds("Hello there.") == pytest.approx(12 / 17)


def test_a_fast_chinese_cue_stays_up_into_the_pause_after_it() -> None:
    cues = [
        Segment(0.0, 1.0, "今天天气很好，我们去公园散步吧。"),  # 14 characters: 1.556 s
        Segment(5.0, 6.5, "好的。"),
        Segment(6.6, 7.6, "我们明天早上八点在学校门口见面。"),  # 14: only up to 8.0 is free
    ]
    out = enforce_timing(cues, CueOptions(), media_duration=8.0)
    assert [(c.start, c.end) for c in out] == [(0.0, 1.556), (5.0, 6.5), (6.6, 8.0)]
    # never before the speech, never past the next cue
    cues = [Segment(0.0, 1.0, "今天天气很好，我们去公园散步吧。"), Segment(1.2, 3.0, "好的。")]
    out = enforce_timing(cues, CueOptions(), media_duration=8.0)
    assert [(c.start, c.end) for c in out] == [(0.0, 1.2), (1.2, 3.0)]


# --------------------------------------------------------------------------- settings and CLI


def test_settings_carry_the_script_and_reading_speeds(tmp_path: Path) -> None:
    from app.core.settings import Settings, load_settings, save_settings, settings_from_dict

    s = Settings()
    assert (s.chinese_script, s.max_cps_latin, s.max_cps_cjk) == ("original", 17.0, 9.0)
    s.chinese_script = "hk"
    s.max_cps_cjk = 7.0
    path = save_settings(s, tmp_path / "settings.json")
    again = load_settings(path)
    assert again.chinese_script == "hk"
    assert again.pipeline_options().chinese == "hk"
    assert again.cue_options().max_cps_cjk == 7.0 and again.cue_options().max_cps_latin == 17.0
    assert settings_from_dict({"chinese_script": "klingon"}).chinese_script == "original"
    assert "Chinese characters" in " ".join(Settings(chinese_script="x").validate())


def test_cli_flag_sets_the_script() -> None:
    from app.cli.transcribe import build_parser

    parser = build_parser()
    assert parser.parse_args(["a.wav", "--chinese", "tw"]).chinese == "tw"
    assert parser.parse_args(["a.wav"]).chinese is None
    with pytest.raises(SystemExit):
        parser.parse_args(["a.wav", "--chinese", "klingon"])


def test_cli_writes_traditional_taiwan_subtitles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli.transcribe import run
    from app.core.asr import engine as engine_module
    from tests import speech

    monkeypatch.setattr(engine_module, "Engine", lambda options: StandInEngine())
    track = speech.make_track(speech.SENTENCES[:2], (1.5,), tmp_path, name="粤语")
    err = io.StringIO()
    code = run([str(track.path), "--chinese", "tw", "-f", "txt,srt", "-q"], stderr=err)
    assert code == 0, err.getvalue()
    txt = track.path.with_suffix(".txt").read_text(encoding="utf-8")
    assert "我們的軟體用滑鼠就能操作" in txt and "預設設定已經最佳化過了" in txt
    assert "软件" not in txt and "鼠标" not in txt
    subtitles = track.path.with_suffix(".srt").read_text(encoding="utf-8")
    assert no_space("".join(s.content for s in srt.parse(subtitles))) == no_space(txt)
