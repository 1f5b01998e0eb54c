"""Ctrl+C (SIGINT) and SIGTERM on `murmur transcribe`, at every stage, in a real process.

Each test starts the command, waits until the stage has announced itself on stderr,
then sends the signal. Stages that could end before the signal arrives are made long
by their input (decoding and speech detection of a long file, transcription of many
chunks); model loading and export are held with ``MURMUR_TEST_HOLD`` (see
``app/core/hold.py``) until the signal has set the cancel event, then go on with their
real work. The result must always be: exit 130, one "cancelled" line, no output file
(not even a partial or temporary one), and no abort.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests import speech
from tests.listener_speech import LISTENER

ROOT = Path(__file__).resolve().parents[1]
CRASH_SIGNS = ("Traceback", "terminate called", "Aborted", "core dumped", "Fatal Python")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, speech_track: speech.SpeechTrack) -> dict:
    folder = tmp_path_factory.mktemp("signal inputs")
    # 20 minutes at 8 kHz: decoded by PyAV and resampled, then 20 minutes of detection.
    noise = np.random.default_rng(5).standard_normal(20 * 60 * 8000).astype(np.float32) * 0.01
    long_path = folder / "long.wav"
    sf.write(long_path, noise, 8000, subtype="PCM_16")
    # Many chunks of speech: the sentences again and again, with pauses between.
    gap = np.zeros(int(1.5 * 16000), np.float32)
    many = np.concatenate([np.concatenate([speech_track.samples, gap])] * 12)
    many_path = speech.write_wav(folder / "many.wav", many)
    return {"long": long_path, "many": many_path, "short": speech_track.path}


class Run:
    """`murmur transcribe` in a child process, its stderr read line by line."""

    def __init__(self, args: list[str], out_dir: Path, hold: str | None = None) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("MURMUR_TEST_HOLD", None)
        if hold:
            env["MURMUR_TEST_HOLD"] = hold
        self.out_dir = out_dir
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
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                pytest.fail(f"ended before {needle!r}: {self.lines}")
            self.lines.append(line)
            if needle in line:
                return

    def signal(self, signum: int = signal.SIGINT) -> int:
        """Send the signal; returns how many lines had been read before it."""
        before = len(self.lines)
        self.proc.send_signal(signum)
        return before

    def finish(self, timeout: float = 120.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        return code


def assert_cancelled(run: Run, code: int, name: str, after: int, not_reached: str) -> None:
    text = "\n".join(run.lines)
    assert code == 130, text
    assert not any(sign in text for sign in CRASH_SIGNS), text
    assert [line for line in run.lines if "cancelled" in line] == [f"murmur: {name}: cancelled"]
    assert run.lines[-1] == f"murmur: {name}: cancelled", text
    # one line after the signal, besides progress lines of the stage that was stopping
    late = [line for line in run.lines[after:] if not line.startswith(name)]
    assert late == [f"murmur: {name}: cancelled"], text
    assert not_reached not in text, f"the signal was meant to land before {not_reached!r}"
    assert sorted(os.listdir(run.out_dir)) == [], "no output, not even a partial one"


def tiny_args(path: Path, tiny_model_dir: Path) -> list[str]:
    return [str(path), "--model", str(tiny_model_dir), "--device", "cpu", "-f", "srt,txt,json"]


def test_ctrl_c_during_decoding(inputs: dict, tiny_model_dir: Path, tmp_path: Path) -> None:
    run = Run(tiny_args(inputs["long"], tiny_model_dir), tmp_path)
    run.wait_for("Decoding long.wav")
    after = run.signal()
    assert_cancelled(run, run.finish(), "long.wav", after, "Finding speech")


def test_ctrl_c_during_speech_detection(inputs: dict, tiny_model_dir: Path, tmp_path: Path) -> None:
    run = Run(tiny_args(inputs["long"], tiny_model_dir), tmp_path)
    run.wait_for("Finding speech")
    after = run.signal()
    assert_cancelled(run, run.finish(), "long.wav", after, "of speech in")


def test_ctrl_c_during_model_loading(inputs: dict, tmp_path: Path) -> None:
    """The loader thread is inside torch reading the listener's weights after the signal;
    the command waits for it and then exits 130."""
    args = [str(inputs["short"]), "--model", str(LISTENER), "--device", "cpu"]
    run = Run(args, tmp_path, hold="loading")
    run.wait_for("Loading")
    after = run.signal()
    assert_cancelled(run, run.finish(), inputs["short"].name, after, "Model ready")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_transcription(
    inputs: dict, tiny_model_dir: Path, tmp_path: Path, signum: int
) -> None:
    run = Run(tiny_args(inputs["many"], tiny_model_dir), tmp_path)
    run.wait_for("Transcribing")
    after = run.signal(signum)
    assert_cancelled(run, run.finish(), "many.wav", after, "writing")


def test_ctrl_c_during_export_leaves_no_file(
    inputs: dict, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Held after the first format is written: the signal removes it again."""
    run = Run(tiny_args(inputs["short"], tiny_model_dir), tmp_path, hold="export")
    run.wait_for("writing srt, txt, json")
    after = run.signal()
    assert_cancelled(run, run.finish(), inputs["short"].name, after, "wrote")


def test_second_ctrl_c_exits_at_once_cleanly(
    inputs: dict, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The first Ctrl+C is being handled (the loader holds torch); a second one exits 130
    at once, without unwinding through native code."""
    args = [str(inputs["short"]), "--model", str(LISTENER), "--device", "cpu"]
    run = Run(args, tmp_path, hold="loading")
    run.wait_for("Loading")
    run.signal()
    run.signal()
    code = run.finish()
    text = "\n".join(run.lines)
    assert code == 130, text
    assert not any(sign in text for sign in CRASH_SIGNS), text
    assert "Model ready" not in text
    assert sorted(os.listdir(tmp_path)) == []
