"""`murmur transcribe`: outputs, exit codes, and one-line errors for bad input."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.transcribe import run
from tests import speech

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli media")
    track = speech.make_track(speech.SENTENCES[:2], (1.4,), folder, name="two sentences")
    out = {"wav": track.path}
    out["mp4"] = speech.convert(track.path, folder / "clip ü.mp4", "mp4")
    out["truncated"] = speech.truncate_file(
        speech.convert(track.path, folder / "whole.mp3", "mp3"), folder / "cut.mp3", 0.6
    )
    out["empty"] = speech.make_empty(folder / "empty.wav")
    out["random"] = speech.make_random_bytes(folder / "random.m4a")
    out["text"] = speech.make_text_file(folder / "notes.mp3")
    out["video_only"] = speech.make_video_only(folder / "silent film.mp4")
    out["missing"] = folder / "not there.flac"
    return out


def cli(*args: str | Path) -> tuple[int, str]:
    err = io.StringIO()
    code = run([str(a) for a in args], stderr=err)
    return code, err.getvalue()


def test_all_formats(media: dict[str, Path], tiny_model_dir: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out folder ✓"
    code, err = cli(
        media["mp4"],
        "--model",
        tiny_model_dir,
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--format",
        "srt,vtt,txt,docx,json",
        "--output-dir",
        out_dir,
    )
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(f"clip ü.{ext}" for ext in ("srt", "vtt", "txt", "docx", "json"))
    import docx
    import srt
    import webvtt

    cues = list(srt.parse((out_dir / "clip ü.srt").read_text(encoding="utf-8")))
    assert cues and all(c.start < c.end for c in cues)
    assert len(webvtt.read(str(out_dir / "clip ü.vtt"))) == len(cues)
    data = json.loads((out_dir / "clip ü.json").read_text(encoding="utf-8"))
    assert data["segments"] and data["model"] == str(tiny_model_dir)
    assert docx.Document(str(out_dir / "clip ü.docx")).paragraphs
    assert "Traceback" not in err


def test_default_output_next_to_input(media: dict[str, Path], tiny_model_dir: Path) -> None:
    code, err = cli(media["wav"], "--model", tiny_model_dir, "--device", "cpu", "-f", "srt")
    assert code == 0, err
    target = media["wav"].with_suffix(".srt")
    assert target.exists()
    target.unlink()


def test_bad_inputs_fail_alone(
    media: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    bad = ["empty", "random", "text", "video_only", "missing"]
    inputs = [media[k] for k in bad] + [media["wav"]]
    code, err = cli(
        *inputs,
        "--model",
        tiny_model_dir,
        "--device",
        "cpu",
        "-f",
        "srt,json",
        "-o",
        tmp_path,
        "-q",
    )
    assert code == 1
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if "error" in line]
    assert len(error_lines) == len(bad), err
    for key in bad:
        assert any(media[key].name in line for line in error_lines), (key, err)
    produced = sorted(p.name for p in tmp_path.iterdir())
    stem = media["wav"].stem
    assert produced == [f"{stem}.json", f"{stem}.srt"], "no output for bad inputs"


def test_truncated_file_transcribed_with_warning(
    media: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    code, err = cli(
        media["truncated"],
        "--model",
        tiny_model_dir,
        "--device",
        "cpu",
        "-f",
        "json",
        "-o",
        tmp_path,
    )
    assert code == 0, err
    assert "warning" in err.lower()
    data = json.loads((tmp_path / "cut.json").read_text(encoding="utf-8"))
    assert data["segments"]


def test_model_not_there(media: dict[str, Path], tmp_path: Path) -> None:
    code, err = cli(
        media["wav"], media["mp4"], "--model", tmp_path / "no such model", "-o", tmp_path / "out"
    )
    assert code == 1
    assert "no such model" in err and "Traceback" not in err
    assert not any((tmp_path / "out").iterdir())


def test_offline_hub_error_names_model(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    code, err = cli(media["wav"], "--model", "zai-org/GLM-ASR-Nano-2512", "-o", tmp_path)
    assert code != 0
    line = next(line for line in err.splitlines() if "error" in line)
    assert "zai-org/GLM-ASR-Nano-2512" in line and "--model" in line
    assert "Traceback" not in err


def test_bad_format_is_usage_error(media: dict[str, Path]) -> None:
    with pytest.raises(SystemExit) as info:
        run([str(media["wav"]), "--format", "srt,pdf"], stderr=io.StringIO())
    assert info.value.code == 2


def test_python_dash_m_entry_point(
    media: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "MURMUR_CONFIG_DIR": str(tmp_path / "cfg")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "transcribe",
            str(media["wav"]),
            "--model",
            str(tiny_model_dir),
            "--device",
            "cpu",
            "-f",
            "txt",
            "-o",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / f"{media['wav'].stem}.txt").read_text(encoding="utf-8").strip()
    assert "PySide6" not in proc.stderr


# --------------------------------------------------------------------------- exit codes


def test_output_folder_that_cannot_be_made_exits_2(media: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder", encoding="utf-8")
    code, err = cli(media["wav"], "-o", blocker / "out")
    assert code == 2
    assert err.splitlines() == [
        f"murmur: can't create output folder {blocker / 'out'}: Not a directory"
    ]


def test_a_later_format_failing_removes_the_earlier_outputs(
    media: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    """srt is written first; docx can't be (a folder holds its name, and --overwrite
    keeps the plain names): no srt is left."""
    stem = media["wav"].stem
    (tmp_path / f"{stem}.docx").mkdir()
    code, err = cli(
        media["wav"],
        "--model",
        tiny_model_dir,
        "--device",
        "cpu",
        "-f",
        "srt,docx",
        "-o",
        tmp_path,
        "--overwrite",
    )
    assert code == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.docx"]
    assert (tmp_path / f"{stem}.docx").is_dir()
    assert [line for line in err.splitlines() if "error" in line] and "Traceback" not in err


# --------------------------------------------------------------------------- flags


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from app import __version__

    with pytest.raises(SystemExit) as info:
        run(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"murmur {__version__}\n"


def test_flags_against_the_defaults(
    media: dict[str, Path], tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run with the defaults, one with --prompt, --max-pause and --timestamps.

    Defaults: srt and txt; no times in the txt; the two sentences, 1.4 s apart, are cut
    into 2 chunks (max pause 1.0 s); the saved context and hot words are in the prompt.
    With the flags: the given prompt replaces them, 2.0 s joins the sentences into one
    chunk, and every txt line starts with its time.
    """
    from app.core.asr.engine import Engine
    from app.core.settings import load_settings, save_settings

    saved = load_settings()
    saved.context, saved.hotwords = "saved context", ["Zebedee"]
    save_settings(saved)
    prompts: list[str] = []
    real_inputs = Engine.build_inputs

    def build_inputs(self: Engine, audios: object) -> object:
        prompts.append(self.prompt)
        return real_inputs(self, audios)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "build_inputs", build_inputs)
    stem = media["wav"].stem
    stamp = re.compile(r"^\[\d{2}:\d{2}:\d{2}")
    common = [media["wav"], "--model", tiny_model_dir, "--device", "cpu", "-o"]

    code, err = cli(*common, tmp_path / "plain")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [f"{stem}.srt", f"{stem}.txt"]
    # on a CPU the two sentences, 1.4 s apart, are packed into one window by default; the
    # random model's attention can't place their words, so each was decoded alone
    assert re.search(r"of speech in 1 chunks$", err, re.M), err
    assert "warning: The model's attention did not show where the words" in err, err
    assert prompts and all("saved context" in p and "Zebedee" in p for p in prompts)
    plain = (tmp_path / "plain" / f"{stem}.txt").read_text(encoding="utf-8")
    assert plain.strip() and not any(stamp.match(line) for line in plain.splitlines())

    code, err = cli(*common, tmp_path / "cut", "--pack", "off")
    assert code == 0, err
    assert re.search(r"of speech in 2 chunks$", err, re.M), err  # cut at the pause
    assert "warning" not in err, err

    prompts.clear()
    flags = ["--prompt", "Names: Li Lei, Han Meimei", "--max-pause", "2.0", "--timestamps"]
    flags += ["--pack", "off"]  # the pause is kept inside one chunk, not packed
    code, err = cli(*common, tmp_path / "flags", *flags)
    assert code == 0, err
    assert re.search(r"of speech in 1 chunks$", err, re.M), err
    assert prompts and all("Names: Li Lei, Han Meimei" in p for p in prompts)
    assert not any("saved context" in p or "Zebedee" in p for p in prompts)
    timed = (tmp_path / "flags" / f"{stem}.txt").read_text(encoding="utf-8")
    timed_lines = [line for line in timed.splitlines() if line.strip()]
    assert timed_lines and all(stamp.match(line) for line in timed_lines), timed


def test_window_without_pyside6_exits_2_with_one_line(media: dict[str, Path]) -> None:
    """`murmur FILE` where PySide6 can't be imported (blocked in a fresh interpreter, as on
    a machine without Qt): exit 2 and one line that says what to use instead."""
    code = (
        "import sys; sys.modules['PySide6'] = None\n"
        "from app.__main__ import main\n"
        f"sys.exit(main([{str(media['wav'])!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("murmur: the desktop window needs PySide6 (")
    assert lines[0].endswith("Use `murmur transcribe FILE` for the command line.")


def test_compile_reaches_the_engine_and_changes_nothing_off_cuda(
    media: dict[str, Path], tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.core.asr.engine as engine_module

    made: list[bool] = []
    real = engine_module.Engine

    class Recorded(real):  # type: ignore[misc, valid-type]
        def __init__(self, options: object) -> None:
            made.append(options.compile)  # type: ignore[attr-defined]
            super().__init__(options)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "Engine", Recorded)  # imported when the CLI runs
    texts = []
    for extra, out in (((), tmp_path / "plain"), (("--compile",), tmp_path / "compiled")):
        args = [media["wav"], "--model", tiny_model_dir, "--device", "cpu", "-f", "srt"]
        code, err = cli(*args, *extra, "-o", out)
        assert code == 0, err
        texts.append((out / media["wav"].with_suffix(".srt").name).read_text(encoding="utf-8"))
    assert made == [False, True]
    assert texts[0] == texts[1] and texts[0].strip()
