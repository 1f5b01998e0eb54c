"""Ctrl+C (SIGINT) and SIGTERM on `murmur transcribe`, at every stage, in a real process.

Each run waits until its stage has announced itself on stderr, then sends the signal
(from the thread that reads stderr, the moment the line arrives). The runs are started
together by one module fixture, so that the suite pays for them about once on 2 cores;
each test then checks its own run. Stages that could end before the signal arrives are made long
by their input (decoding and speech detection of a long file, transcription of many
chunks); model loading and export are held with ``MURMUR_TEST_HOLD`` (see
``app/core/hold.py``) until the signal has set the cancel event, then go on with their
real work. The result must always be: exit 130, one "cancelled" line, no output file
(not even a partial or temporary one), and no abort.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests import speech

ROOT = Path(__file__).resolve().parents[1]
CRASH_SIGNS = ("Traceback", "terminate called", "Aborted", "core dumped", "Fatal Python")


class Run:
    """`murmur transcribe` in a child process; its stderr is read line by line, and
    ``signals`` are sent as soon as the line containing ``needle`` has arrived."""

    def __init__(
        self,
        args: list[str],
        out_dir: Path,
        needle: str,
        signals: tuple[int, ...] = (signal.SIGINT,),
        hold: str | None = None,
    ) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("MURMUR_TEST_HOLD", None)
        if hold:
            env["MURMUR_TEST_HOLD"] = hold
        out_dir.mkdir(parents=True)
        self.out_dir = out_dir
        self.needle = needle
        self.signals = signals
        self.lines: list[str] = []
        self.signalled_after: int | None = None  # lines read when the signal went
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "transcribe", *args, "-o", str(out_dir)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if self.signalled_after is None and self.needle in line:
                self.signalled_after = len(self.lines)
                for i, signum in enumerate(self.signals):
                    if i:
                        time.sleep(0.05)
                    self.proc.send_signal(signum)

    def finish(self, timeout: float = 300.0) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(timeout=30)
        return code


def tiny_args(path: Path, tiny_model_dir: Path) -> list[str]:
    return [str(path), "--model", str(tiny_model_dir), "--device", "cpu", "-f", "srt,txt,json"]


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
    speech_track: speech.SpeechTrack,
    tiny_model_dir: Path,
) -> Iterator[dict[str, Run]]:
    folder = tmp_path_factory.mktemp("signal inputs")
    # 20 minutes at 8 kHz: decoded by PyAV with resampling, which takes a while.
    noise = np.random.default_rng(5).standard_normal(20 * 60 * 8000).astype(np.float32) * 0.01
    long_8k = folder / "long8k.wav"
    sf.write(long_8k, noise, 8000, subtype="PCM_16")
    # 10 minutes at 16 kHz: read at once by soundfile, then a long speech detection.
    long_16k = folder / "long16k.wav"
    sf.write(long_16k, np.repeat(noise[: 10 * 60 * 8000], 2), 16000, subtype="PCM_16")
    # Many chunks of speech: the sentences again and again, with pauses between.
    samples, _rate = sf.read(speech_track.path, dtype="float32")
    gap = np.zeros(int(1.5 * 16000), np.float32)
    many = speech.write_wav(folder / "many.wav", np.concatenate([samples, gap] * 4))
    short = speech_track.path
    out = tmp_path_factory.mktemp("signal outputs")
    started = {
        "decoding": Run(tiny_args(long_8k, tiny_model_dir), out / "decoding", "Decoding long8k"),
        "detection": Run(tiny_args(long_16k, tiny_model_dir), out / "detection", "Finding"),
        "twice": Run(
            tiny_args(long_16k, tiny_model_dir),
            out / "twice",
            "Finding",
            signals=(signal.SIGINT, signal.SIGINT),
        ),
        "loading": Run(
            tiny_args(short, tiny_model_dir), out / "loading", "Loading", hold="loading"
        ),
        "transcription": Run(
            tiny_args(many, tiny_model_dir),
            out / "transcription",
            "Transcribing",
            signals=(signal.SIGTERM,),
        ),
        "export": Run(
            tiny_args(short, tiny_model_dir), out / "export", "writing srt", hold="export"
        ),
    }
    yield started
    for run in started.values():
        if run.proc.poll() is None:
            run.proc.kill()


def assert_cancelled(run: Run, name: str, not_reached: str) -> None:
    code = run.finish()
    text = "\n".join(run.lines)
    assert run.signalled_after is not None, f"never reached {run.needle!r}: {text}"
    assert code == 130, text
    assert not any(sign in text for sign in CRASH_SIGNS), text
    assert [line for line in run.lines if "cancelled" in line] == [f"murmur: {name}: cancelled"]
    assert run.lines[-1] == f"murmur: {name}: cancelled", text
    # one line after the signal, besides progress lines of the stage that was stopping
    late = [line for line in run.lines[run.signalled_after :] if not line.startswith(name)]
    assert late == [f"murmur: {name}: cancelled"], text
    assert not_reached not in text, f"the signal was meant to land before {not_reached!r}"
    assert sorted(os.listdir(run.out_dir)) == [], "no output, not even a partial one"


def test_ctrl_c_during_decoding(runs: dict[str, Run]) -> None:
    # Speech detection of the first 30 s begins while the rest is still decoded
    # (pipelining), so the signal may land after "Finding speech" but before the end.
    assert_cancelled(runs["decoding"], "long8k.wav", "of speech in")


def test_ctrl_c_during_speech_detection(runs: dict[str, Run]) -> None:
    """The detection threads are inside torch when the signal comes; they stop at their
    next check and are joined (before the fix: "terminate called", SIGABRT)."""
    assert_cancelled(runs["detection"], "long16k.wav", "of speech in")


def test_ctrl_c_during_model_loading(
    runs: dict[str, Run], speech_track: speech.SpeechTrack
) -> None:
    """Held until the signal, the loader thread then reads the weights (torch) anyway;
    the command waits for it and exits 130."""
    assert_cancelled(runs["loading"], speech_track.path.name, "Model ready")


def test_sigterm_during_transcription(runs: dict[str, Run]) -> None:
    assert_cancelled(runs["transcription"], "many.wav", "writing")


def test_ctrl_c_during_export_leaves_no_file(
    runs: dict[str, Run], speech_track: speech.SpeechTrack
) -> None:
    """Held after the first format (srt) is written: the signal removes it again."""
    assert_cancelled(runs["export"], speech_track.path.name, "wrote")


def test_second_ctrl_c_exits_at_once_cleanly(runs: dict[str, Run]) -> None:
    """While the first Ctrl+C stops speech detection (threads in torch), a second one
    exits 130 at once without unwinding through native code: no abort, no output."""
    run = runs["twice"]
    code = run.finish()
    text = "\n".join(run.lines)
    assert run.signalled_after is not None, text
    assert code == 130, text
    assert not any(sign in text for sign in CRASH_SIGNS), text
    assert run.lines[-1] in ("murmur: stopped", "murmur: long16k.wav: cancelled"), text
    assert "of speech in" not in text
    assert sorted(os.listdir(run.out_dir)) == []
