"""`murmur transcribe`: the headless contract, a thin loop over the pipeline."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from app import __version__
from app.cli.interrupt import EXIT_CANCELLED, cancel_on_signals
from app.core.errors import Cancelled, ModelError, MurmurError
from app.core.events import (
    DownloadProgress,
    Finished,
    MediaOpened,
    ModelReady,
    Notice,
    Progress,
    SpeechFound,
    StageChanged,
)
from app.core.hold import hold
from app.core.settings import DEFAULT_MODEL_ID, EXPORT_FORMATS, load_settings


def _formats(value: str) -> list[str]:
    formats = [f.strip().lower().lstrip(".") for f in value.split(",") if f.strip()]
    bad = [f for f in formats if f not in EXPORT_FORMATS]
    if bad or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(bad) or value!r}; choose from {','.join(EXPORT_FORMATS)}"
        )
    return list(dict.fromkeys(formats))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="murmur transcribe",
        description="Transcribe audio or video files to subtitles and text, on this machine.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio or video files")
    parser.add_argument(
        "--format",
        "-f",
        type=_formats,
        default=None,
        help=f"comma-separated output formats ({','.join(EXPORT_FORMATS)}); default srt,txt",
    )
    parser.add_argument(
        "--output-dir", "-o", type=Path, default=None, help="default: next to each input"
    )
    parser.add_argument(
        "--model", default=None, help=f"hub id or local folder (default {DEFAULT_MODEL_ID})"
    )
    parser.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"), default=None)
    parser.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default=None)
    parser.add_argument("--prompt", default=None, help="context: names, hot words, topic")
    parser.add_argument(
        "--max-pause",
        type=float,
        default=None,
        help="longest pause (s) inside one chunk; default 1.0",
    )
    parser.add_argument("--timestamps", action="store_true", help="timestamps in TXT and DOCX")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.add_argument("--version", action="version", version=f"murmur {__version__}")
    return parser


class ProgressLine:
    """A one-line progress bar on stderr (plain lines when not a terminal)."""

    def __init__(self, stream: TextIO, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = stream.isatty()
        self._last = 0.0
        self._width = 0

    def show(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if not force and now - self._last < 0.1:
                return
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        elif force or now - self._last >= 5.0:
            self.stream.write(text + "\n")
        self._last = now
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def say(self, text: str) -> None:
        """A message that must always be seen, on its own line."""
        self.done()
        self.stream.write(text + "\n")
        self.stream.flush()


def _bar(fraction: float, width: int = 24) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "·" * (width - filled)


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _transcribe_one(
    path: Path,
    engine: object,
    pipeline_options: object,
    progress: ProgressLine,
    cancel: threading.Event,
) -> object:
    from app.core.pipeline import transcribe_file

    name = path.name
    transcript = None
    for event in transcribe_file(path, engine, pipeline_options, cancel=cancel):  # type: ignore[arg-type]
        match event:
            case MediaOpened(duration=duration):
                progress.show(f"{name}: {_clock(duration)} of media", force=True)
            case StageChanged(message=message):
                progress.show(f"{name}: {message}", force=True)
            case DownloadProgress():
                pct = f"{event.fraction:.0%}" if event.fraction is not None else "?"
                mb = event.bytes_done / 1e6
                progress.show(f"Downloading model {_bar(event.fraction or 0)} {pct} {mb:.0f} MB")
            case ModelReady(device=device):
                line = f"Model ready on {device.label()}"
                if device.fallback_reason:
                    line += f" ({device.fallback_reason})"
                progress.say(line)
            case SpeechFound(chunks=chunks, speech_seconds=speech):
                progress.show(f"{name}: {_clock(speech)} of speech in {chunks} chunks", force=True)
            case Progress(fraction=fraction, eta_s=eta, chunks_done=done, chunks_total=total):
                eta_text = f" ETA {_clock(eta)}" if eta is not None else ""
                progress.show(f"{name} {_bar(fraction)} {fraction:4.0%} {done}/{total}{eta_text}")
            case Notice(message=message):
                progress.say(f"warning: {message}")
            case Finished(transcript=result):
                transcript = result
    progress.done()
    return transcript


def _remove(paths: list[Path]) -> None:
    """No partial output: drop what was written for an input that then failed."""
    for p in paths:
        p.unlink(missing_ok=True)


def run(argv: Sequence[str] | None = None, stderr: TextIO | None = None) -> int:
    """Run `murmur transcribe`; returns the exit status (0: every input succeeded)."""
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="murmur: %(message)s")

    from app.core.asr.engine import Engine
    from app.core.export.exporters import ExportOptions

    settings = load_settings()
    if args.model:
        settings.model = args.model
    if args.device:
        settings.device = args.device
    if args.precision:
        settings.precision = args.precision
    if args.prompt is not None:
        settings.context, settings.hotwords = args.prompt, []
    if args.max_pause is not None:
        settings.max_pause_s = args.max_pause
    formats: list[str] = args.format or settings.export_formats or ["srt", "txt"]
    if args.output_dir is not None:
        try:
            args.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            stderr.write(f"murmur: can't create output folder {args.output_dir}: {exc.strerror}\n")
            return 2

    engine = Engine(settings.engine_options())
    pipeline_options = settings.pipeline_options()
    export_options = ExportOptions(
        timestamps=args.timestamps or settings.txt_timestamps, cues=settings.cue_options()
    )
    progress = ProgressLine(stderr, enabled=not args.quiet)
    cancel = threading.Event()
    # Ctrl+C / SIGTERM only set `cancel`: every stage stops at its next check and
    # its threads are joined before we exit 130 (a second signal exits at once).
    with cancel_on_signals(cancel):
        return _run_inputs(
            args, formats, engine, pipeline_options, export_options, progress, cancel
        )


def _export_all(
    transcript: object,
    path: Path,
    formats: list[str],
    output_dir: Path | None,
    export_options: object,
    progress: ProgressLine,
    cancel: threading.Event,
    written: list[Path],
) -> None:
    """Write every format, appending each file to ``written`` as soon as it exists."""
    from app.core.export.exporters import default_export_path, export

    progress.show(f"{path.name}: writing {', '.join(formats)}", force=True)
    for fmt in formats:
        if cancel.is_set():
            raise Cancelled()
        target = default_export_path(path, fmt, output_dir)
        written.append(export(transcript, fmt, target, export_options))  # type: ignore[arg-type]
        hold("export", cancel)
    if cancel.is_set():
        raise Cancelled()


def _run_inputs(
    args: argparse.Namespace,
    formats: list[str],
    engine: object,
    pipeline_options: object,
    export_options: object,
    progress: ProgressLine,
    cancel: threading.Event,
) -> int:
    failures = 0
    for position, raw in enumerate(args.inputs):
        path = Path(raw)
        written: list[Path] = []
        try:
            transcript = _transcribe_one(path, engine, pipeline_options, progress, cancel)
            _export_all(
                transcript,
                path,
                formats,
                args.output_dir,
                export_options,
                progress,
                cancel,
                written,
            )
            for out in written:
                progress.say(f"wrote {out}")
        except (KeyboardInterrupt, Cancelled):
            cancel.set()
            _remove(written)
            progress.say(f"murmur: {path.name}: cancelled")
            return EXIT_CANCELLED
        except MurmurError as exc:
            failures += 1
            progress.say(f"murmur: error: {exc}")
            _remove(written)
            if isinstance(exc, ModelError):
                # Without a model no other input can succeed either.
                failures += len(args.inputs) - position - 1
                break
        except Exception as exc:  # a bug: still one line, details on request
            failures += 1
            progress.say(f"murmur: error: {path.name}: unexpected {type(exc).__name__}: {exc}")
            _remove(written)
            if os.environ.get("MURMUR_DEBUG"):
                traceback.print_exc(file=progress.stream)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv)
