"""Quit the real app during each stage and answer "Stop and quit": it exits cleanly (#16).

Each case runs ``python -m app --model LISTENER --device cpu FILE`` in a subprocess
(through ``tests.gui.quit_at_stage``, which presses Ctrl+Q once the stage is under way
and clicks Yes in the question), then reads the exit status and the whole log.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import speech
from tests.gui.quit_at_stage import STAGES
from tests.listener_speech import HELD_OUT_SEED, LISTENER, long_track

pytestmark = [pytest.mark.gui, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FATAL = ("Fatal Python error", "Aborted", "core dumped", "Traceback", "QThread: Destroyed")


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two and a half minutes of held-out speech as a 44.1 kHz stereo MP3."""
    out = tmp_path_factory.mktemp("quit")
    track = long_track(out, HELD_OUT_SEED + 71, 2.5, sentences=3, period_s=15.0)
    return speech.convert(track.path, out / "talk.mp3", "mp3")


@pytest.mark.parametrize("stage", STAGES)
def test_quit_during_a_stage_exits_cleanly(stage: str, mp3: Path, tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MURMUR_CONFIG_DIR=str(tmp_path))
    command = [sys.executable, "-m", "tests.gui.quit_at_stage", stage]
    command += ["--model", str(LISTENER), "--device", "cpu", str(mp3)]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    for bad in FATAL:
        assert bad not in log, log
    # The quit came while the stage was under way, through the question, answered Yes.
    steps = [
        f"quit-hook: {stage} under way: quitting",
        "quit-hook: Ctrl+Q",
        "Stop and quit?'; answering Yes",
        f"quit-hook: {stage} goes on after the answer",
        "quit-hook: exit 0; answered=True",
    ]
    positions = [log.find(step) for step in steps]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), log
