"""`murmur devices`: the input devices that can record, and which one is the default."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TextIO

from app.core.errors import MurmurError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="murmur devices",
        description="List the input devices (microphones) Murmur can record from.",
    )
    parser.add_argument("--json", action="store_true", help="a JSON list, one object per device")
    return parser


def run(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    from app.core.audio.capture import list_input_devices

    try:
        devices = list_input_devices()
    except MurmurError as exc:
        stderr.write(f"murmur: error: {exc}\n")
        return 2
    if args.json:
        stdout.write(json.dumps([asdict(d) for d in devices], indent=2) + "\n")
        return 0
    if not devices:
        stderr.write("murmur: no input devices found (no microphone?)\n")
        return 1
    width = max(len(str(d.index)) for d in devices)
    stdout.write(f"  {'#':>{width}}  {'ch':>3}  {'rate':>6}  name (host API)\n")
    for d in devices:
        mark = "*" if d.is_default else " "
        stdout.write(
            f"{mark} {d.index:>{width}}  {d.channels:>3}  {d.default_rate:>6}  {d.label()}\n"
        )
    stdout.write("* = the system default. Choose one with --input-device INDEX or NAME.\n")
    return 0
