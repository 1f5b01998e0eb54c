"""`murmur record`: record from the microphone to a FLAC file until Ctrl+C, then (optionally)
transcribe it like `murmur transcribe`.

Ctrl+C or SIGTERM stops the recording, keeps the file and exits 0. The file's path is
printed on stdout; progress and messages go to stderr. A fault (device unplugged, disk full)
stops the recording, keeps what was written, says so in one line and exits 1 (after
transcribing what was kept, with --transcribe).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from app.cli.interrupt import cancel_on_signals
from app.cli.transcribe import (
    ProgressLine,
    _clock,
    add_model_arguments,
    add_output_arguments,
    transcribe_inputs,
)
from app.core.errors import MurmurError


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input-device",
        "-i",
        default=None,
        metavar="N|NAME",
        help="input device index or name (see `murmur devices`); default: the one in "
        "Settings, else the system default",
    )


def input_device_spec(args: argparse.Namespace) -> str | None:
    """The device asked for: --input-device, else the saved setting, else None (default)."""
    from app.core.settings import load_settings

    if args.input_device is not None and str(args.input_device).strip():
        return str(args.input_device)
    return load_settings().input_device or None


def level_meter(rms_dbfs: float, width: int = 20) -> str:
    """A text meter from -60 to 0 dBFS."""
    filled = round(max(0.0, min(1.0, (rms_dbfs + 60.0) / 60.0)) * width)
    return "▮" * filled + "·" * (width - filled)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="murmur record",
        description="Record from the microphone until Ctrl+C; optionally transcribe it.",
    )
    add_input_arguments(parser)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="the FLAC file to write (default: a new file in Murmur's recordings folder)",
    )
    parser.add_argument(
        "--transcribe", action="store_true", help="then transcribe it like `murmur transcribe`"
    )
    parser.add_argument(
        "--recover",
        action="store_true",
        help="repair the recordings a crash or kill interrupted, print their paths, and exit",
    )
    add_output_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    return parser


def recover(stdout: TextIO, stderr: TextIO) -> int:
    """`murmur record --recover`: repair every interrupted recording; 1 if one failed."""
    from app.core.audio.capture import find_interrupted_recordings, repair_recording

    found = find_interrupted_recordings()
    if not found:
        stderr.write("No interrupted recordings.\n")
        return 0
    status = 0
    for rec in found:
        try:
            path = repair_recording(rec)
        except MurmurError as exc:
            stderr.write(f"murmur: error: {exc}\n")
            status = 1
            continue
        stdout.write(f"{path}\n")
        stderr.write(f"Recovered {path} (recording started {rec.started})\n")
    return status


def run(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="murmur: %(message)s")
    from app.core.audio.capture import (
        LevelChanged,
        Recorder,
        SilenceWarning,
        StopReason,
    )

    if args.recover:
        return recover(stdout, stderr)
    from app.core.audio.capture import find_interrupted_recordings

    interrupted = find_interrupted_recordings()
    if interrupted:
        stderr.write(
            f"note: {len(interrupted)} interrupted recording(s), e.g. {interrupted[0].path}; "
            "`murmur record --recover` repairs them\n"
        )
    progress = ProgressLine(stderr, enabled=not args.quiet)

    def on_event(event: object) -> None:
        # The recorder's writer thread: only short writes.
        if isinstance(event, LevelChanged):
            progress.show(
                f"Recording {_clock(event.elapsed_s)} {level_meter(event.rms_dbfs)} "
                f"{event.rms_dbfs:5.0f} dBFS"
            )
        elif isinstance(event, SilenceWarning):
            progress.say(f"warning: {event.message}")

    recorder = Recorder(input_device_spec(args), args.output, on_event=on_event)
    cancel = threading.Event()
    with cancel_on_signals(cancel):
        try:
            path = recorder.start()
        except MurmurError as exc:
            stderr.write(f"murmur: error: {exc}\n")
            return 2
        spec, device = recorder.spec, recorder.device
        assert spec is not None
        name = device.label() if device else "input"
        progress.say(
            f"Recording from {name} ({spec.samplerate} Hz, {spec.channels} ch) to {path}; "
            "press Ctrl+C to stop"
        )
        while not cancel.is_set() and not recorder.wait(0.1):
            pass
        result = recorder.stop()
    progress.done()
    stdout.write(f"{result.path}\n")
    stdout.flush()
    status = 0
    if result.reason is StopReason.REQUESTED:
        progress.say(f"Saved {result.path} ({_clock(result.duration_s)})")
    else:
        progress.say(f"murmur: {result.message}")
        status = 1
    if args.transcribe and result.frames > 0:
        code = transcribe_inputs([result.path], args, stderr)
        status = status or code
    return status
