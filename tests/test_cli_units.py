"""`murmur transcribe` piece by piece, in milliseconds: no model and no speech detection.

``run(argv)`` goes through the real parser, settings, output planning, exporters and
clean-up, with the pipeline replaced by :class:`FakePipeline`, which yields the events
a real file would (or fails, or is cancelled, where a test asks). The engine is the
real (lazy) ``Engine``: it is built from the options but never loads a model.

Fast enough to be the test selection of a mutation run of ``app/cli/transcribe.py``
(``tools/mutate.sh app/cli/transcribe.py tests/test_cli_units.py``); ``tests/test_cli.py``
runs the same command line end to end with a real model.
"""

from __future__ import annotations

import argparse
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from app import __version__
from app.cli import transcribe
from app.cli.transcribe import ProgressLine, run
from app.core.errors import Cancelled, MediaError, ModelError
from app.core.events import (
    DeviceInfo,
    DownloadProgress,
    Event,
    Finished,
    MediaOpened,
    ModelReady,
    Notice,
    Progress,
    SpeechFound,
    Stage,
    StageChanged,
)
from app.core.settings import load_settings, save_settings
from app.core.transcript import Segment, Transcript, TranscriptMeta

SRT = (
    "1\n00:00:00,500 --> 00:00:02,000\nHello there.\n\n"
    "2\n00:00:03,000 --> 00:00:04,500\nGeneral Kenobi.\n"
)
TXT = "Hello there. General Kenobi.\n"


class Clock:
    """``time.monotonic`` for ProgressLine, moved by hand (no sleeping)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@dataclass
class Call:
    name: str
    engine: object
    options: object


@dataclass
class FakePipeline:
    """Stands in for ``app.core.pipeline.transcribe_file``.

    ``fail`` maps an input's file name to what happens to it after its first events:
    an exception to raise, or ``"cancel"`` (the cancel event is set, as Ctrl+C does,
    and the next check raises Cancelled).
    """

    fail: dict[str, BaseException | str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    speakers: bool = False

    def __call__(
        self, path: Path, engine: object, options: object, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        self.calls.append(Call(Path(path).name, engine, options))
        yield MediaOpened(str(path), 75.0, False)
        yield StageChanged(Stage.DECODING, "decoding")
        outcome = self.fail.get(Path(path).name)
        if outcome == "cancel":
            assert cancel is not None
            cancel.set()
            raise Cancelled()
        if isinstance(outcome, BaseException):
            raise outcome
        yield SpeechFound(regions=2, speech_seconds=3.0, chunks=2)
        yield Progress(fraction=1.0, chunks_done=2, chunks_total=2, elapsed_s=1.0, eta_s=None)
        speaker = ("Speaker 1", "Speaker 2") if self.speakers else (None, None)
        segments = [
            Segment(0.5, 2.0, "Hello there.", speaker[0]),
            Segment(3.0, 4.5, "General Kenobi.", speaker[1]),
        ]
        meta = TranscriptMeta(source=str(path), duration=75.0)  # the model: the job's
        yield Finished(Transcript(segments, meta))


def given(call: Call) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """What the engine was built with (model, device, precision, prompt context) and what
    the pipeline was given (max pause, pack, channel, Chinese script, track, speakers,
    pipelining)."""
    engine: Any = call.engine
    o: Any = call.options
    e = engine.options
    return (
        (e.model, e.device, e.dtype, e.context),
        (
            o.chunks.max_pause_s,
            o.chunks.pack,
            o.channel,
            o.chinese,
            o.track,
            o.speakers,
            o.pipeline,
        ),
    )


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> FakePipeline:
    fake = FakePipeline()
    monkeypatch.setattr("app.core.pipeline.transcribe_file", fake)
    return fake


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    """A tenth of a second of silence (only its name and folder matter here)."""
    path = tmp_path / "talk.wav"
    sf.write(path, np.zeros(1600, dtype=np.float32), 16000)
    return path


def cli(*args: str | Path) -> tuple[int, list[str]]:
    err = io.StringIO()
    code = run([str(a) for a in args], stderr=err)
    return code, err.getvalue().splitlines()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- arguments


def test_formats_are_cleaned_and_deduplicated() -> None:
    assert transcribe._formats("SRT, .vtt,srt,,json") == ["srt", "vtt", "json"]
    assert transcribe._formats("txt") == ["txt"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("srt,pdf,doc", "unknown format 'pdf, doc'; choose from srt,vtt,txt,docx,json"),
        (" , ", "unknown format ' , '; choose from srt,vtt,txt,docx,json"),
    ],
)
def test_unknown_formats_are_named(value: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as info:
        transcribe._formats(value)
    assert str(info.value) == message


def test_audio_track_takes_a_number_from_one_or_auto() -> None:
    assert transcribe._audio_track("auto") == "auto"
    assert transcribe._audio_track(" AUTO ") == "auto"
    assert transcribe._audio_track("1") == 1
    assert transcribe._audio_track("12") == 12
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError) as info:
            transcribe._audio_track(bad)
        assert str(info.value) == f"{bad!r}: give a track number from 1, or auto"


def test_speakers_takes_auto_or_a_number() -> None:
    assert transcribe._speakers_arg("auto") == "auto"
    assert transcribe._speakers_arg("3") == 3
    with pytest.raises(argparse.ArgumentTypeError) as info:
        transcribe._speakers_arg("off")
    assert str(info.value) == "--speakers must be 'auto' or a number of speakers"
    with pytest.raises(argparse.ArgumentTypeError) as info:
        transcribe._speakers_arg("many")
    assert str(info.value) == "--speakers must be 'auto' or a number of speakers, not 'many'"


def test_parser_defaults_leave_the_settings_in_charge() -> None:
    args = transcribe.build_parser().parse_args(["a.wav"])
    assert args.inputs == ["a.wav"]
    assert (args.format, args.output_dir, args.max_pause, args.prompt) == (None,) * 4
    assert (args.model, args.device, args.precision, args.channel, args.chinese) == (None,) * 5
    assert (args.audio_track, args.speakers) == (None, None)
    assert args.speaker_names is True
    flags = (args.overwrite, args.no_pipeline, args.timestamps, args.no_library)
    assert flags == (False,) * 4 and args.pack is None
    assert (args.list_tracks, args.quiet) == (False, False)


def test_pack_takes_a_choice_and_alone_means_on() -> None:
    parse = transcribe.build_parser().parse_args
    assert parse(["a.wav", "--pack"]).pack == "on"
    assert parse(["--pack", "off", "a.wav"]).pack == "off"
    assert parse(["a.wav", "--pack", "auto"]).pack == "auto"
    settings = transcribe.settings_from_args(parse(["a.wav", "--pack", "off"]))
    assert settings.pipeline_options().chunks.pack is False
    with pytest.raises(SystemExit):
        parse(["a.wav", "--pack", "sometimes"])


def test_short_flags() -> None:
    args = transcribe.build_parser().parse_args(["a.wav", "-f", "vtt", "-o", "out", "-q"])
    assert (args.format, args.output_dir, args.quiet) == (["vtt"], Path("out"), True)


def test_version_flag_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"murmur {__version__}\n"


def test_no_input_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run([])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "murmur transcribe: error: give at least one INPUT"
    )


def test_a_bad_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(["a.wav", "-f", "pdf"])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "murmur transcribe: error: argument --format/-f: unknown format 'pdf'; "
        "choose from srt,vtt,txt,docx,json"
    )


# --------------------------------------------------------------------------- progress


def test_bar_and_clock() -> None:
    assert transcribe._bar(0.5, 4) == "██··"
    assert transcribe._bar(-1.0, 4) == "····"
    assert transcribe._bar(2.0, 4) == "████"
    assert transcribe._bar(0.0) == "·" * 24
    assert transcribe._bar(1 / 3) == "█" * 8 + "·" * 16
    assert transcribe._clock(0) == "0:00"
    assert transcribe._clock(-5) == "0:00"
    assert transcribe._clock(59.4) == "0:59"
    assert transcribe._clock(59.6) == "1:00"
    assert transcribe._clock(75) == "1:15"
    assert transcribe._clock(3600) == "1:00:00"
    assert transcribe._clock(3725) == "1:02:05"


def test_progress_lines_off_a_terminal_every_5_s(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(transcribe, "time", clock)
    out = io.StringIO()
    line = ProgressLine(out)
    line.show("first")
    clock.now += 4.5
    line.show("too soon")
    line.show("forced", force=True)  # and the next 5 s count from here
    clock.now += 4.5
    line.show("still too soon")
    clock.now += 0.5
    line.show("5 s on")
    line.done()  # nothing to end off a terminal
    line.say("said")
    assert out.getvalue() == "first\nforced\n5 s on\nsaid\n"


def test_progress_on_a_terminal_rewrites_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(transcribe, "time", clock)
    out = Terminal()
    line = ProgressLine(out)
    line.show("a long line")
    clock.now += 0.05
    line.show("skipped")
    line.show("short", force=True)
    clock.now += 0.1
    line.show("next")
    line.done()
    line.done()  # once only
    line.say("said")
    assert out.getvalue() == "\ra long line\rshort      \rnext \nsaid\n"


def test_quiet_progress_still_says_what_must_be_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcribe, "time", Clock())
    out = Terminal()
    line = ProgressLine(out, enabled=False)
    line.show("progress", force=True)
    line.done()
    line.say("said")
    assert out.getvalue() == "said\n"


def _events() -> list[Event]:
    transcript = Transcript([Segment(0.0, 1.0, "Hi.")])
    return [
        DownloadProgress(bytes_done=50_000_000, bytes_total=200_000_000),
        DownloadProgress(bytes_done=3_000_000, bytes_total=None),
        ModelReady("m", DeviceInfo("cpu", "fp32", fallback_reason="no CUDA in this torch"), 1.0),
        ModelReady("m", DeviceInfo("cuda", "bf16", name="H100"), 1.0),
        MediaOpened("talk.wav", 3725.0, False),
        StageChanged(Stage.DECODING, "decoding"),
        SpeechFound(regions=3, speech_seconds=61.0, chunks=4),
        Progress(fraction=0.25, chunks_done=1, chunks_total=4, elapsed_s=2.0, eta_s=6.0),
        Progress(fraction=0.5, chunks_done=2, chunks_total=4, elapsed_s=4.0, eta_s=None),
        Notice("the file seems cut short"),
        Finished(transcript),
    ]


def test_events_shown_as_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(transcribe, "time", clock)

    def ticking() -> Iterator[Event]:
        for event in _events():
            clock.now += 10.0  # every line is due
            yield event

    out = io.StringIO()
    transcript = transcribe.show_events("talk.wav", ticking(), ProgressLine(out))
    assert transcript is not None and [s.text for s in transcript.segments] == ["Hi."]
    assert out.getvalue().splitlines() == [
        f"Downloading model {'█' * 6}{'·' * 18} 25% 50 MB",
        f"Downloading model {'·' * 24} ? 3 MB",
        "Model ready on CPU, fp32 (no CUDA in this torch)",
        "Model ready on CUDA: H100, bf16",
        "talk.wav: 1:02:05 of media",
        "talk.wav: decoding",
        "talk.wav: 1:01 of speech in 4 chunks",
        f"talk.wav {'█' * 6}{'·' * 18}  25% 1/4 ETA 0:06",
        f"talk.wav {'█' * 12}{'·' * 12}  50% 2/4",
        "warning: the file seems cut short",
    ]


def test_events_without_time_passing_show_only_the_stages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transcribe, "time", Clock())
    out = io.StringIO()
    transcribe.show_events("talk.wav", iter(_events()), ProgressLine(out))
    # the first line is due (none before it); later progress waits for its 5 s
    assert out.getvalue().splitlines() == [
        f"Downloading model {'█' * 6}{'·' * 18} 25% 50 MB",
        "Model ready on CPU, fp32 (no CUDA in this torch)",
        "Model ready on CUDA: H100, bf16",
        "talk.wav: 1:02:05 of media",
        "talk.wav: decoding",
        "talk.wav: 1:01 of speech in 4 chunks",
        "warning: the file seems cut short",
    ]


def test_a_finished_progress_bar_ends_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcribe, "time", Clock())
    out = Terminal()
    events = [Progress(fraction=1.0, chunks_done=1, chunks_total=1, elapsed_s=1.0, eta_s=0.0)]
    assert transcribe.show_events("a.wav", iter(events), ProgressLine(out)) is None
    assert out.getvalue() == f"\ra.wav {'█' * 24} 100% 1/1 ETA 0:00\n"


# --------------------------------------------------------------------------- runs


def test_default_formats_next_to_the_input(wav: Path, pipeline: FakePipeline) -> None:
    code, lines = cli(wav, "--no-library")
    assert code == 0, lines
    assert names(wav.parent) == ["talk.srt", "talk.txt", "talk.wav"]
    assert (wav.parent / "talk.srt").read_text(encoding="utf-8") == SRT
    assert (wav.parent / "talk.txt").read_text(encoding="utf-8") == TXT
    assert lines == [
        "talk.wav: 1:15 of media",
        "talk.wav: decoding",
        "talk.wav: 0:03 of speech in 2 chunks",
        "talk.wav: writing srt, txt",
        f"wrote {wav.parent / 'talk.srt'}",
        f"wrote {wav.parent / 'talk.txt'}",
    ]


def test_saved_formats_are_the_default(wav: Path, tmp_path: Path, pipeline: FakePipeline) -> None:
    saved = load_settings()
    saved.export_formats = ["vtt", "json"]
    save_settings(saved)
    code, lines = cli(wav, "--no-library", "-o", tmp_path / "out")
    assert code == 0, lines
    assert names(tmp_path / "out") == ["talk.json", "talk.vtt"]
    code, lines = cli(wav, "--no-library", "-o", tmp_path / "given", "-f", "srt")
    assert code == 0, lines
    assert names(tmp_path / "given") == ["talk.srt"]


def test_quiet_says_only_what_was_written(wav: Path, pipeline: FakePipeline) -> None:
    code, lines = cli(wav, "--no-library", "-q", "-f", "txt")
    assert code == 0
    assert lines == [f"wrote {wav.parent / 'talk.txt'}"]


def test_every_option_reaches_the_engine_and_the_pipeline(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    code, lines = cli(
        wav,
        "--no-library",
        "-q",
        "-o",
        tmp_path / "out",
        "--model",
        "some/model",
        "--device",
        "cpu",
        "--precision",
        "int8",
        "--prompt",
        "Names: Li Lei",
        "--max-pause",
        "2.5",
        "--channel",
        "right",
        "--chinese",
        "tw",
        "--pack",
        "--no-pipeline",
        "--audio-track",
        "2",
        "--speakers",
        "3",
    )
    assert code == 0, lines
    (call,) = pipeline.calls
    assert given(call) == (
        ("some/model", "cpu", "int8", "Names: Li Lei"),
        (2.5, True, "right", "tw", 2, 3, False),
    )


def test_without_options_the_saved_settings_are_used(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    saved = load_settings()
    saved.context, saved.hotwords = "saved context", ["Zebedee"]
    saved.model, saved.device, saved.precision = "saved/model", "cpu", "fp32"
    saved.max_pause_s, saved.channel, saved.chinese_script = 1.5, "left", "hk"
    save_settings(saved)
    code, lines = cli(wav, "--no-library", "-q", "-o", tmp_path / "out")
    assert code == 0, lines
    (call,) = pipeline.calls
    assert given(call) == (
        ("saved/model", "cpu", "fp32", "saved context Terms: Zebedee"),
        (1.5, None, "left", "hk", None, None, True),  # packing: auto, decided per device
    )


def test_an_empty_prompt_clears_the_saved_context(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    saved = load_settings()
    saved.context, saved.hotwords = "saved context", ["Zebedee"]
    save_settings(saved)
    code, _ = cli(wav, "--no-library", "-q", "-o", tmp_path, "--prompt", "")
    assert code == 0
    assert pipeline.calls[0].engine.options.context == ""  # type: ignore[attr-defined]


def test_timestamps_flag_and_setting(wav: Path, tmp_path: Path, pipeline: FakePipeline) -> None:
    timed = "[00:00:00] Hello there.\n[00:00:03] General Kenobi.\n"
    code, _ = cli(wav, "--no-library", "-q", "-f", "txt", "-o", tmp_path / "a", "--timestamps")
    assert code == 0
    assert (tmp_path / "a" / "talk.txt").read_text(encoding="utf-8") == timed
    saved = load_settings()
    saved.txt_timestamps = True
    save_settings(saved)
    code, _ = cli(wav, "--no-library", "-q", "-f", "txt", "-o", tmp_path / "b")
    assert code == 0
    assert (tmp_path / "b" / "talk.txt").read_text(encoding="utf-8") == timed


def test_speaker_names_in_the_files_unless_left_out(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    pipeline.speakers = True
    code, _ = cli(wav, "--no-library", "-q", "-f", "srt", "-o", tmp_path / "a")
    assert code == 0
    assert (tmp_path / "a" / "talk.srt").read_text(encoding="utf-8") == (
        "1\n00:00:00,500 --> 00:00:02,000\nSpeaker 1: Hello there.\n\n"
        "2\n00:00:03,000 --> 00:00:04,500\nSpeaker 2: General Kenobi.\n"
    )
    code, _ = cli(
        wav, "--no-library", "-q", "-f", "srt", "-o", tmp_path / "b", "--no-speaker-names"
    )
    assert code == 0
    assert (tmp_path / "b" / "talk.srt").read_text(encoding="utf-8") == SRT


def test_existing_outputs_get_the_next_free_name(wav: Path, pipeline: FakePipeline) -> None:
    (wav.parent / "talk.srt").write_text("mine", encoding="utf-8")
    code, lines = cli(wav, "--no-library", "-q", "-f", "srt,txt")
    assert code == 0
    assert (wav.parent / "talk.srt").read_text(encoding="utf-8") == "mine"
    assert (wav.parent / "talk (2).srt").read_text(encoding="utf-8") == SRT
    assert lines == [
        "murmur: talk.wav: writing talk (2).srt, talk (2).txt "
        "(the plain name exists already; nothing is overwritten)",
        f"wrote {wav.parent / 'talk (2).srt'}",
        f"wrote {wav.parent / 'talk (2).txt'}",
    ]
    code, lines = cli(wav, "--no-library", "-q", "-f", "srt", "--overwrite")
    assert code == 0
    assert (wav.parent / "talk.srt").read_text(encoding="utf-8") == SRT
    assert lines == [f"wrote {wav.parent / 'talk.srt'}"]


# --------------------------------------------------------------------------- exit codes


def test_a_bad_input_fails_alone_with_exit_1(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    pipeline.fail["bad.wav"] = MediaError("bad.wav: no decodable audio")
    code, lines = cli(bad, wav, "--no-library", "-q", "-o", tmp_path / "out", "-f", "srt")
    assert code == 1
    assert lines == [
        "murmur: error: bad.wav: no decodable audio",
        f"wrote {tmp_path / 'out' / 'talk.srt'}",
    ]
    assert names(tmp_path / "out") == ["talk.srt"]
    assert [c.name for c in pipeline.calls] == ["bad.wav", "talk.wav"]


def test_a_model_error_stops_every_input(wav: Path, tmp_path: Path, pipeline: FakePipeline) -> None:
    other = tmp_path / "other.wav"
    other.write_bytes(wav.read_bytes())
    pipeline.fail["talk.wav"] = ModelError("no such model: nothing")
    code, lines = cli(wav, other, "--no-library", "-q", "-o", tmp_path / "out")
    assert code == 1
    assert lines == ["murmur: error: no such model: nothing"]
    assert [c.name for c in pipeline.calls] == ["talk.wav"]
    assert names(tmp_path / "out") == []


def test_a_bug_is_one_line_and_a_traceback_on_request(
    wav: Path, tmp_path: Path, pipeline: FakePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.fail["talk.wav"] = RuntimeError("boom")
    code, lines = cli(wav, "--no-library", "-q", "-o", tmp_path / "out")
    assert code == 1
    assert lines == ["murmur: error: talk.wav: unexpected RuntimeError: boom"]
    monkeypatch.setenv("MURMUR_DEBUG", "1")
    code, lines = cli(wav, "--no-library", "-q", "-o", tmp_path / "out")
    assert code == 1
    assert lines[0] == "murmur: error: talk.wav: unexpected RuntimeError: boom"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "RuntimeError: boom"
    assert names(tmp_path / "out") == []


@pytest.mark.parametrize("how", ["cancel", "interrupt"])
def test_cancel_exits_130_and_stops_there(
    wav: Path, tmp_path: Path, pipeline: FakePipeline, how: str
) -> None:
    other = tmp_path / "other.wav"
    other.write_bytes(wav.read_bytes())
    pipeline.fail["talk.wav"] = "cancel" if how == "cancel" else KeyboardInterrupt()
    code, lines = cli(wav, other, "--no-library", "-q", "-o", tmp_path / "out")
    assert code == 130
    assert lines == ["murmur: talk.wav: cancelled"]
    assert [c.name for c in pipeline.calls] == ["talk.wav"]
    assert names(tmp_path / "out") == []


def test_cancel_between_two_formats_removes_the_first(
    wav: Path, tmp_path: Path, pipeline: FakePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+C lands while the export is going on (after the srt is written)."""
    held: list[str] = []

    def cancel_now(stage: str, cancel: threading.Event) -> None:
        held.append(stage)
        cancel.set()

    monkeypatch.setattr(transcribe, "hold", cancel_now)
    code, lines = cli(wav, "--no-library", "-q", "-o", tmp_path / "out", "-f", "srt,txt")
    assert code == 130
    assert held == ["export"]
    assert lines == ["murmur: talk.wav: cancelled"]
    assert names(tmp_path / "out") == []


def test_cancel_after_the_last_format_removes_them_all(
    wav: Path, tmp_path: Path, pipeline: FakePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cancel_at_the_end(stage: str, cancel: threading.Event) -> None:
        if len(list((tmp_path / "out").iterdir())) == 2:
            cancel.set()

    monkeypatch.setattr(transcribe, "hold", cancel_at_the_end)
    code, lines = cli(wav, "--no-library", "-q", "-o", tmp_path / "out", "-f", "srt,txt")
    assert code == 130
    assert lines == ["murmur: talk.wav: cancelled"]
    assert names(tmp_path / "out") == []


def test_a_later_format_failing_removes_the_earlier_ones(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    out = tmp_path / "out"
    (out / "talk.docx").mkdir(parents=True)  # a folder holds the docx's name
    code, lines = cli(wav, "--no-library", "-q", "-o", out, "-f", "srt,json,docx", "--overwrite")
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("murmur: error: ")
    assert "talk.docx" in lines[0]
    assert names(out) == ["talk.docx"]


def test_remove_deletes_what_was_written(tmp_path: Path) -> None:
    kept = tmp_path / "kept.txt"
    written = [tmp_path / "a.srt", tmp_path / "b.txt"]
    for p in [*written, kept]:
        p.write_text("x", encoding="utf-8")
    transcribe._remove([*written, tmp_path / "never written.vtt"])
    assert names(tmp_path) == ["kept.txt"]


def test_an_output_folder_that_cannot_be_made_exits_2(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder", encoding="utf-8")
    code, lines = cli(wav, "--no-library", "-o", blocker / "out")
    assert code == 2
    assert lines == [f"murmur: can't create output folder {blocker / 'out'}: Not a directory"]
    assert pipeline.calls == []


def test_an_input_that_cannot_name_an_output_exits_2(pipeline: FakePipeline) -> None:
    code, lines = cli(".", "--no-library")
    assert code == 2
    assert lines == ["murmur: error: Can't name an export after '.'"]
    assert pipeline.calls == []


def test_output_folder_is_made_with_its_parents(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    out = tmp_path / "a" / "b"
    code, _ = cli(wav, "--no-library", "-q", "-o", out, "-f", "srt")
    assert code == 0
    assert names(out) == ["talk.srt"]


# --------------------------------------------------------------------------- library


def test_the_transcript_is_kept_in_the_library(wav: Path, pipeline: FakePipeline) -> None:
    from app.core.store import Library

    code, lines = cli(wav, "-q", "-f", "srt", "--model", "some/model", "--max-pause", "2.5")
    assert code == 0
    assert lines == ["kept in the library as #1", f"wrote {wav.parent / 'talk.srt'}"]
    with Library.open() as library:
        (entry,) = library.entries()
        assert (entry.id, entry.status, entry.model, entry.duration) == (
            1,
            "done",
            "some/model",
            75.0,
        )
        assert entry.settings["max_pause_s"] == 2.5 and entry.settings["model"] == "some/model"


class StandInLibrary:
    def __init__(self, read_only: bool = False, notice: str = "") -> None:
        self.read_only = read_only
        self.notice = notice
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_library_that_cannot_be_used_is_one_warning(
    wav: Path, tmp_path: Path, pipeline: FakePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.store import Library, LibraryError

    def locked() -> Library:
        raise LibraryError("the library is locked")

    monkeypatch.setattr(Library, "open", locked)
    code, lines = cli(wav, "-q", "-f", "srt", "-o", tmp_path / "a")
    assert code == 0
    assert lines == [
        "warning: the library is locked; transcripts are not kept in the library",
        f"wrote {tmp_path / 'a' / 'talk.srt'}",
    ]
    read_only = StandInLibrary(read_only=True, notice="The library is from a newer Murmur.")
    monkeypatch.setattr(Library, "open", lambda: read_only)
    code, lines = cli(wav, "-q", "-f", "srt", "-o", tmp_path / "b")
    assert code == 0 and read_only.closed
    assert lines == [
        "warning: The library is from a newer Murmur. Transcripts are not kept in it.",
        f"wrote {tmp_path / 'b' / 'talk.srt'}",
    ]


def test_a_library_notice_is_shown_and_the_library_used(
    wav: Path, tmp_path: Path, pipeline: FakePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.store import Library, LibraryError

    noted = StandInLibrary(notice="The library was repaired.")
    monkeypatch.setattr(Library, "open", lambda: noted)

    def refuse(*args: object, **kwargs: object) -> None:
        raise LibraryError("disk full")

    monkeypatch.setattr("app.core.store.jobs.start_job", refuse)
    code, lines = cli(wav, "-q", "-f", "srt", "-o", tmp_path)
    assert code == 0 and noted.closed
    assert lines == [
        "warning: The library was repaired.",
        "warning: disk full; talk.wav is not kept in the library",
        f"wrote {tmp_path / 'talk.srt'}",
    ]


def test_list_tracks_prints_a_table(tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.zeros((1600, 2), dtype=np.float32), 16000)
    missing = tmp_path / "missing.wav"
    out, err = io.StringIO(), io.StringIO()
    code = run([str(stereo), str(missing), "--list-tracks"], stderr=err, stdout=out)
    assert code == 1
    assert err.getvalue() == "murmur: error: missing.wav: file not found\n"
    assert out.getvalue().splitlines() == [
        f"{stereo}: 1 audio track",
        "  #  language  codec      channels        title  default",
        "  1  -         pcm_s16le  2 (2 channels)",
    ]


def test_list_tracks_table_of_several_tracks(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.audio.media import AudioTrack

    def tracks_of(raw: str) -> tuple[AudioTrack, ...]:
        if raw == "bad.mkv":
            raise MediaError("bad.mkv: not a media file")
        first = AudioTrack(1, 1, "opus", 2, "stereo", 48000, "fra", "Music", False)
        second = AudioTrack(2, 2, "aac", 3, "", 48000, "", "Commentary", True)
        return (first, second) if raw == "film.mkv" else (first,)

    monkeypatch.setattr("app.core.audio.media.list_tracks", tracks_of)
    out, err = io.StringIO(), io.StringIO()
    assert run(["bad.mkv", "film.mkv", "song.ogg", "--list-tracks"], err, out) == 1
    assert err.getvalue() == "murmur: error: bad.mkv: not a media file\n"
    assert out.getvalue().splitlines() == [
        "film.mkv: 2 audio tracks",
        "  #  language  codec  channels    title       default",
        "  1  fra       opus   2 (stereo)  Music",
        "  2  -         aac    3           Commentary  yes",
        "song.ogg: 1 audio track",
        "  #  language  codec  channels    title  default",
        "  1  fra       opus   2 (stereo)  Music",
    ]
    out = io.StringIO()
    assert run(["song.ogg", "--list-tracks"], io.StringIO(), out) == 0
    assert out.getvalue().startswith("song.ogg: 1 audio track\n")


def test_settings_from_a_namespace_without_the_flags() -> None:
    """Callers with their own parser (murmur record) pass only some of the flags."""
    saved = load_settings()
    saved.model, saved.context, saved.max_pause_s = "saved/model", "saved", 1.5
    save_settings(saved)
    settings = transcribe.settings_from_args(argparse.Namespace())
    assert (settings.model, settings.device, settings.precision) == ("saved/model", "auto", "auto")
    assert (settings.context, settings.max_pause_s, settings.packing) == ("saved", 1.5, "auto")
    assert (settings.channel, settings.chinese_script) == ("auto", "original")


def test_transcribe_inputs_with_only_the_output_and_model_flags(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    """`murmur record --transcribe` parses only add_output_arguments and
    add_model_arguments: everything else takes its default."""
    parser = argparse.ArgumentParser()
    transcribe.add_output_arguments(parser)
    transcribe.add_model_arguments(parser)
    args = parser.parse_args(["-o", str(tmp_path / "out"), "--no-library", "-f", "srt"])
    pipeline.speakers = True
    err = io.StringIO()
    assert transcribe.transcribe_inputs([wav], args, err) == 0
    assert err.getvalue().splitlines()[0] == "talk.wav: 1:15 of media"  # not quiet
    (call,) = pipeline.calls
    options = call.options
    assert (options.track, options.speakers, options.pipeline) == (None, None, True)  # type: ignore[attr-defined]
    assert (tmp_path / "out" / "talk.srt").read_text(encoding="utf-8").splitlines()[2] == (
        "Speaker 1: Hello there."
    )


def test_ctrl_c_during_a_file_sets_the_cancel_event(
    wav: Path, tmp_path: Path, pipeline: FakePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    seen: list[bool] = []

    def interrupted(
        path: Path, engine: object, options: object, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        yield MediaOpened(str(path), 75.0, False)
        signal.raise_signal(signal.SIGINT)  # as Ctrl+C: no KeyboardInterrupt here
        assert cancel is not None
        seen.append(cancel.is_set())
        raise Cancelled()

    monkeypatch.setattr("app.core.pipeline.transcribe_file", interrupted)
    # Python's own handler, or SIG_IGN where the tests were started in the background by a
    # shell without job control
    before = signal.getsignal(signal.SIGINT)
    code, lines = cli(wav, "--no-library", "-q", "-o", tmp_path)
    assert code == 130 and seen == [True]
    assert lines == ["murmur: talk.wav: cancelled"]
    assert signal.getsignal(signal.SIGINT) is before  # put back


def test_saved_limits_shape_the_cues(wav: Path, tmp_path: Path, pipeline: FakePipeline) -> None:
    saved = load_settings()
    saved.max_chars_latin, saved.max_lines = 10, 1
    save_settings(saved)
    code, _ = cli(wav, "--no-library", "-q", "-f", "srt", "-o", tmp_path)
    assert code == 0
    lines = (tmp_path / "talk.srt").read_text(encoding="utf-8").splitlines()
    assert lines[2::4] == ["Hello", "there.", "General", "Kenobi."]  # one line of 10 at most


def test_no_saved_formats_means_srt_and_txt(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    saved = load_settings()
    saved.export_formats = []
    save_settings(saved)
    code, _ = cli(wav, "--no-library", "-q", "-o", tmp_path / "out")
    assert code == 0
    assert names(tmp_path / "out") == ["talk.srt", "talk.txt"]


def test_progress_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(0.1)  # 0.1 s after a line at 0: due
    monkeypatch.setattr(transcribe, "time", clock)
    out = Terminal()
    line = ProgressLine(out)
    line.done()  # nothing shown yet: nothing to end
    line.show("abc")
    line.done()
    clock.now += 1.0
    line.show("de")
    assert out.getvalue() == "\rabc\n\rde"
    transcribe.show_events(
        "x", iter([DownloadProgress(bytes_done=1_500_000, bytes_total=None)]), ProgressLine(out)
    )
    assert out.getvalue().endswith(f"\rDownloading model {'·' * 24} ? 2 MB\n")


@pytest.mark.parametrize(
    ("flag", "values", "bad"),
    [
        ("--device", ["auto", "cuda", "mps", "cpu"], "gpu"),
        ("--precision", ["auto", "bf16", "fp16", "fp32", "int8"], "fp8"),
        ("--channel", ["auto", "mix", "left", "right"], "centre"),
        ("--chinese", ["original", "simplified", "traditional", "hk", "tw"], "klingon"),
    ],
)
def test_choices_are_checked(
    flag: str, values: list[str], bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = transcribe.build_parser()
    dest = flag.lstrip("-")
    for value in values:
        assert getattr(parser.parse_args(["a.wav", flag, value]), dest) == value
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["a.wav", flag, bad])
    assert info.value.code == 2
    assert f"argument {flag}: invalid choice: '{bad}'" in capsys.readouterr().err


def test_a_model_error_on_the_last_input_still_fails(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    pipeline.fail["talk.wav"] = ModelError("no such model: nothing")
    code, lines = cli(wav, "--no-library", "-q", "-o", tmp_path)
    assert code == 1
    assert lines == ["murmur: error: no such model: nothing"]


def test_a_bug_and_a_bad_input_are_two_failures(
    wav: Path, tmp_path: Path, pipeline: FakePipeline
) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"x")
    pipeline.fail["talk.wav"] = RuntimeError("boom")
    pipeline.fail["bad.wav"] = MediaError("bad.wav: no decodable audio")
    code, lines = cli(wav, bad, "--no-library", "-q", "-o", tmp_path / "out")
    assert code == 1
    assert lines == [
        "murmur: error: talk.wav: unexpected RuntimeError: boom",
        "murmur: error: bad.wav: no decodable audio",
    ]


def test_library_warnings_are_one_murmur_line(
    wav: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Log records of the core (warnings and worse) reach stderr as "murmur: ..." lines."""
    import logging

    def logging_pipeline(
        path: Path, engine: object, options: object, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        log = logging.getLogger("app.core.pipeline")
        log.warning("waveform not cached for %s", Path(path).name)
        log.info("an info line")
        yield from FakePipeline()(path, engine, options, cancel)

    monkeypatch.setattr("app.core.pipeline.transcribe_file", logging_pipeline)
    monkeypatch.setattr(logging.root, "handlers", [])  # as in a fresh process
    monkeypatch.setattr(logging.root, "level", logging.root.level)
    code = run([str(wav), "--no-library", "-q", "-f", "srt", "-o", str(tmp_path)])
    assert code == 0
    assert capsys.readouterr().err.splitlines() == [
        "murmur: waveform not cached for talk.wav",
        f"wrote {tmp_path / 'talk.srt'}",
    ]
