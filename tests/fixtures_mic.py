"""A virtual microphone: a private PulseAudio with a null sink whose monitor is the default source.

``virtual_mic`` (module scope) starts its own PulseAudio (no config file, its own
XDG_RUNTIME_DIR and HOME) with a null sink ``vmic``, sets ``vmic.monitor`` as the default
source, and yields the environment for subprocesses (also ``MURMUR_DATA_DIR`` and
``MURMUR_CONFIG_DIR`` in a temporary folder). PortAudio reaches it through ALSA's pulse
plugin (``libasound2-plugins``): its default input (the ALSA ``pulse`` device) hears what
``play(track, env)`` (``paplay --device=vmic``) plays. The daemon is stopped by its PID.

Skipped only when PulseAudio is not installed (``packaging/setup.sh --test`` installs it).
Loaded by tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.listener_speech import Track

TOOLS = ("pulseaudio", "pactl", "paplay")


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
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

        wait_for(ready, 20, "PulseAudio to start")
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


def play(track: Track, env: dict[str, str]) -> None:
    """Play ``track`` into the virtual microphone (returns when it has been played)."""
    subprocess.run(["paplay", "--device=vmic", str(track.path)], env=env, check=True, timeout=60)
