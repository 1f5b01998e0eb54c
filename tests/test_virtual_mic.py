"""The real PortAudio path: a private PulseAudio with a null sink as the microphone.

The fixture starts its own PulseAudio (no config file, its own XDG_RUNTIME_DIR) with a null
sink ``vmic`` whose monitor is the default source, and stops it by its PID afterwards.
PortAudio reaches it through ALSA's pulse plugin (``libasound2-plugins``), so what
``paplay --device=vmic`` plays is what the default input hears. The commands under test run
as real subprocesses (``python -m app ...``) and are stopped with SIGINT, like Ctrl+C.

Skipped only when PulseAudio is not installed (``packaging/setup.sh --test`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.listener_speech import HELD_OUT_SEED, LISTENER, WER_BAR, Track, make_track, wer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("pulseaudio", "pactl", "paplay")


def _wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def virtual_mic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for subprocesses whose default input is a PulseAudio null sink's monitor."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"PulseAudio is not installed ({', '.join(missing)} missing)")
    runtime = tmp_path_factory.mktemp("pulse-runtime")
    runtime.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)}
    env.pop("PULSE_SERVER", None)
    log = (runtime / "pulseaudio.log").open("w")
    daemon = subprocess.Popen(
        [
            "pulseaudio",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "-n",
            "--load=module-native-protocol-unix",
            "--load=module-null-sink sink_name=vmic",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def ready() -> bool:
            assert daemon.poll() is None, (runtime / "pulseaudio.log").read_text()
            probe = subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10)
            return probe.returncode == 0

        _wait_for(ready, 20, "PulseAudio to start")
        subprocess.run(["pactl", "set-default-source", "vmic.monitor"], env=env, check=True)
        data = tmp_path_factory.mktemp("mic-data")
        env["MURMUR_DATA_DIR"] = str(data / "data")
        env["MURMUR_CONFIG_DIR"] = str(data / "config")
        yield env
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(10)
        log.close()


@pytest.fixture(scope="module")
def played_track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """5 held-out sentences with pauses of 0.9-1.4 s (about 12 s)."""
    out = tmp_path_factory.mktemp("mic-speech")
    return make_track(out, HELD_OUT_SEED + 51, [1.0, 1.4, 0.9, 1.2], 2, 6)


class Command:
    """A `python -m app ...` subprocess whose stderr is read as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_for(self, text: str, timeout: float) -> None:
        def seen() -> bool:
            assert self.proc.poll() is None, "".join(self.err)
            return any(line.startswith(text) for line in self.err)

        _wait_for(seen, timeout, f"{text!r} on stderr")

    def interrupt(self, timeout: float = 120) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=timeout)
        self._reader.join(5)
        return self.proc.returncode, out


def play(track: Track, env: dict[str, str]) -> None:
    subprocess.run(["paplay", "--device=vmic", str(track.path)], env=env, check=True, timeout=60)


def test_devices_json_lists_the_virtual_source(virtual_mic: dict[str, str]) -> None:
    sources = subprocess.run(
        ["pactl", "list", "short", "sources"], env=virtual_mic, capture_output=True, text=True
    ).stdout
    assert "vmic.monitor" in sources
    out = subprocess.run(
        [sys.executable, "-m", "app", "devices", "--json"],
        cwd=ROOT,
        env=virtual_mic,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    devices = json.loads(out.stdout)
    # PortAudio's ALSA host API reaches PulseAudio's default source (vmic.monitor) through
    # the ALSA "pulse" device.
    names = {d["name"] for d in devices}
    assert "pulse" in names, devices
    default = [d for d in devices if d["is_default"]]
    assert len(default) == 1 and default[0]["channels"] >= 1 and default[0]["default_rate"] > 0


def test_record_keeps_the_speech_and_transcribes_it(
    virtual_mic: dict[str, str], played_track: Track, tmp_path: Path
) -> None:
    from app.core.audio.media import decode_audio

    target = tmp_path / "take.flac"
    out_dir = tmp_path / "out"
    args = ["record", "--input-device", "pulse", "--output", str(target), "--transcribe"]
    args += ["--format", "txt", "--output-dir", str(out_dir), "--model", str(LISTENER)]
    cmd = Command([*args, "--device", "cpu", "--precision", "fp32"], virtual_mic)
    cmd.wait_for("Recording from", 60)
    play(played_track, virtual_mic)
    code, out = cmd.interrupt()
    assert code == 0, "".join(cmd.err)
    assert out.strip() == str(target)

    # The file holds all of the played speech: align it by cross-correlation.
    decoded = decode_audio(target)
    assert decoded.info.sample_rate == 44100 and decoded.info.channels == 2
    rec, ref = decoded.samples, played_track.samples
    n = 1 << int(np.ceil(np.log2(len(rec) + len(ref))))
    corr = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)
    lag = int(np.argmax(corr))
    lag = lag - n if lag > n // 2 else lag  # rec[i + lag] ~ ref[i]
    first = round(played_track.onsets[0] * 16000) - 1600
    last = round(played_track.ends[-1] * 16000) + 1600
    assert first + lag >= 0 and last + lag <= len(rec), "some speech is missing"
    a, b = rec[first + lag : last + lag], ref[first:last]
    assert np.corrcoef(a, b)[0, 1] > 0.95

    # And `--transcribe` made the transcript with the listener's words.
    text = (out_dir / "take.txt").read_text(encoding="utf-8")
    assert wer([played_track.text], [text]) <= WER_BAR, (played_track.text, text)


def test_dictate_prints_each_utterance(virtual_mic: dict[str, str], played_track: Track) -> None:
    cmd = Command(
        ["dictate", "--model", str(LISTENER), "--device", "cpu", "--precision", "fp32"],
        virtual_mic,
    )
    cmd.wait_for("Listening", 120)
    play(played_track, virtual_mic)
    code, out = cmd.interrupt()
    assert code == 0, "".join(cmd.err)
    lines = out.splitlines()
    assert len(lines) == len(played_track.sentences), (lines, played_track.sentences)
    assert wer(played_track.sentences, lines) <= WER_BAR, list(
        zip(played_track.sentences, lines, strict=True)
    )
