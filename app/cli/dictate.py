"""`murmur dictate`: speak, and each finished utterance is printed as one line.

Loads the model once, opens the microphone, says ``Listening ...`` on stderr, then prints
each utterance's text on stdout (flushed at once) as soon as it is transcribed. Ctrl+C or
SIGTERM stops listening: the utterance in progress is finished and printed, and the command
exits 0. A second Ctrl+C exits at once (130).

The audio is recorded as for `murmur record` (crash-safe FLAC); it is kept only with
``--audio FILE``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from app.cli.interrupt import EXIT_CANCELLED, cancel_on_signals
from app.cli.record import add_input_arguments, input_device_spec
from app.cli.transcribe import add_model_arguments, settings_from_args
from app.core.errors import Cancelled, MurmurError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="murmur dictate",
        description="Dictate: each utterance is printed as a line as soon as you pause.",
    )
    add_model_arguments(parser)
    add_input_arguments(parser)
    parser.add_argument(
        "--output", type=Path, default=None, metavar="FILE", help="also append each line to FILE"
    )
    parser.add_argument(
        "--audio", type=Path, default=None, metavar="FILE", help="keep the recording (FLAC)"
    )
    parser.add_argument(
        "--toggle",
        action="store_true",
        help="start or stop dictation into the focused application in the running Murmur "
        "window, then exit (bind this to a desktop shortcut, e.g. under Wayland)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=None,
        metavar="S",
        help="silence that ends an utterance, in seconds (default: Settings, 0.5)",
    )
    return parser


def run(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    if args.toggle:
        from app.core.instance import toggle_dictation

        code, line = toggle_dictation()
        (stdout if code == 0 else stderr).write(line + "\n")
        return code
    logging.basicConfig(level=logging.WARNING, format="murmur: %(message)s")
    from dataclasses import replace

    from app.core.asr.engine import Engine
    from app.core.audio.capture import (
        Recorder,
        RecordingStopped,
        SilenceWarning,
        StopReason,
        new_recording_path,
    )
    from app.core.dictation import DictationOptions, UtteranceTranscribed, dictate

    settings = settings_from_args(args)
    pause = args.pause if args.pause is not None else settings.dictation_pause_s
    options = DictationOptions()
    options = replace(
        options,
        utterances=replace(
            options.utterances,
            end_silence_s=pause,
            max_utterance_s=settings.dictation_max_utterance_s,
        ),
    )
    engine = Engine(settings.engine_options())
    cancel = threading.Event()
    text_file: TextIO | None = None
    with cancel_on_signals(cancel):
        try:
            stderr.write("Loading the model...\n")
            stderr.flush()
            info = engine.load(cancel=cancel)
            stderr.write(f"Model ready on {info.label()}\n")
            if args.output is not None:
                text_file = args.output.open("a", encoding="utf-8")
            keep = args.audio is not None
            recorder = Recorder(
                input_device_spec(args), args.audio if keep else new_recording_path()
            )
            tap = recorder.open_tap(events=True)
            recorder.start()
        except Cancelled:
            stderr.write("murmur: cancelled\n")
            return EXIT_CANCELLED
        except (MurmurError, OSError) as exc:
            stderr.write(f"murmur: error: {exc}\n")
            return 2
        # Ctrl+C stops the recorder (from a helper thread, not the signal handler): the tap
        # then ends and dictate() finishes the utterance in progress.
        stopper = threading.Thread(
            target=lambda: (cancel.wait(), recorder.stop()), name="murmur-stop", daemon=True
        )
        stopper.start()
        device = recorder.device.label() if recorder.device else "input"
        stderr.write(f"Listening on {device}; pause after each sentence, Ctrl+C to stop\n")
        stderr.flush()
        status = 0
        try:
            for event in dictate(engine, tap, options):
                if isinstance(event, UtteranceTranscribed) and event.text:
                    stdout.write(event.text + "\n")
                    stdout.flush()
                    if text_file is not None:
                        text_file.write(event.text + "\n")
                        text_file.flush()
                elif isinstance(event, SilenceWarning):
                    stderr.write(f"warning: {event.message}\n")
                    stderr.flush()
                elif (
                    isinstance(event, RecordingStopped) and event.reason is not StopReason.REQUESTED
                ):
                    stderr.write(f"murmur: {event.message}\n")
                    status = 1
        except MurmurError as exc:
            stderr.write(f"murmur: error: {exc}\n")
            status = 1
        finally:
            cancel.set()
            result = recorder.stop()
            if text_file is not None:
                text_file.close()
            if not keep:
                result.path.unlink(missing_ok=True)
    if keep:
        stderr.write(f"Saved the recording to {result.path}\n")
    return status
