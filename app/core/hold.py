"""A test hook that holds one stage until the job is cancelled.

With ``MURMUR_TEST_HOLD=<stage>`` in the environment, :func:`hold` called for that
stage waits (at most ``MURMUR_TEST_HOLD_S`` seconds, default 60) for the cancel
event before the stage goes on, so a test can send Ctrl+C while the stage is
certainly running, with no timing luck. The stage's own work and cancel checks
then run as usual. Unset (normal use), :func:`hold` does nothing.

Stages that call it: ``loading`` (in the model-loading thread, just before the
weights are read) and ``export`` (after the first output format is written).
"""

from __future__ import annotations

import os
import threading

ENV = "MURMUR_TEST_HOLD"


def hold(stage: str, cancel: threading.Event | None) -> None:
    if cancel is None or os.environ.get(ENV) != stage:
        return
    cancel.wait(float(os.environ.get(f"{ENV}_S", "60")))
