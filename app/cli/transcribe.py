"""`murmur transcribe`: the headless contract, a thin loop over the pipeline."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app import __version__
from app.cli.interrupt import EXIT_CANCELLED, cancel_on_signals
from app.core.errors import Cancelled, ModelError, MurmurError
from app.core.events import (
    DownloadProgress,
    Event,
    Finished,
    MediaOpened,
    ModelReady,
    Notice,
    Progress,
    SpeechFound,
    StageChanged,
)
from app.core.hold import hold
from app.core.settings import (
    CHANNEL_CHOICES,
    DEFAULT_MODEL_ID,
    EXPORT_FORMATS,
    PACKING_CHOICES,
    Settings,
    load_settings,
)
from app.core.transcript.chinese import CHINESE_SCRIPTS

if TYPE_CHECKING:
    from app.core.asr.engine import Engine
    from app.core.export.exporters import ExportOptions
    from app.core.export.naming import PlannedOutput
    from app.core.pipeline import PipelineOptions
    from app.core.store import Library
    from app.core.transcript import Transcript


def _formats(value: str) -> list[str]:
    formats = [f.strip().lower().lstrip(".") for f in value.split(",") if f.strip()]
    bad = [f for f in formats if f not in EXPORT_FORMATS]
    if bad or not formats:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(bad) or value!r}; choose from {','.join(EXPORT_FORMATS)}"
        )
    return list(dict.fromkeys(formats))


def _audio_track(value: str) -> int | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: give a track number from 1, or auto")
    return number


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --device, --precision, --prompt (shared by transcribe, record, dictate)."""
    parser.add_argument(
        "--model", default=None, help=f"hub id or local folder (default {DEFAULT_MODEL_ID})"
    )
    parser.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"), default=None)
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp16", "fp32", "int8"),
        default=None,
        help="int8: fast CPU (dynamic int8 linear layers)",
    )
    parser.add_argument("--prompt", default=None, help="context: names, hot words, topic")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """What `murmur transcribe` writes and how (shared with `murmur record --transcribe`)."""
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
        "--max-pause",
        type=float,
        default=None,
        help="longest pause (s) inside one chunk; default 1.0",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace output files that exist already (default: such an input's outputs "
        "get the next free name, 'talk (2).srt', and nothing is overwritten)",
    )
    parser.add_argument(
        "--channel",
        choices=CHANNEL_CHOICES,
        default=None,
        help="auto: mix down, unless the channels cancel out (then the strongest one); "
        "mix, left or right by hand",
    )
    parser.add_argument(
        "--chinese",
        choices=CHINESE_SCRIPTS,
        default=None,
        help="Chinese characters: as the model wrote them (original), simplified, "
        "traditional, hk (Hong Kong) or tw (Taiwan, with Taiwan phrases); default original",
    )
    parser.add_argument(
        "--pack",
        nargs="?",
        const="on",
        choices=PACKING_CHOICES,
        default=None,
        help="pack speech across long pauses into model windows: about 3x faster on a CPU, "
        "cue starts a little less exact. auto (the default) packs where the model shows "
        "where its words were (on a CPU and a GPU); --pack alone means on",
    )
    parser.add_argument(
        "--no-pipeline",
        action="store_true",
        help="decode and find all the speech before transcribing (the same result, later; "
        "by default the first chunks are transcribed while the rest is still decoded)",
    )
    parser.add_argument("--timestamps", action="store_true", help="timestamps in TXT and DOCX")
    parser.add_argument(
        "--no-library",
        action="store_true",
        help="don't keep the transcripts in the library (murmur library list)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="murmur transcribe",
        description="Transcribe audio or video files to subtitles and text, on this machine.",
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="audio or video files")
    add_output_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument(
        "--audio-track",
        type=_audio_track,
        default=None,
        metavar="N",
        help="which audio track to read, from 1 (see --list-tracks); 'auto': the one "
        "with the most speech; default: the track flagged default, else the first",
    )
    parser.add_argument(
        "--list-tracks",
        action="store_true",
        help="list the audio tracks of each INPUT (index, language, codec, channels, "
        "title, default) and stop",
    )
    parser.add_argument(
        "--speakers",
        type=_speakers_arg,
        default=None,
        metavar="auto|N",
        help="label who speaks: 'auto' finds the number of speakers, or give it",
    )
    parser.add_argument(
        "--no-speaker-names",
        dest="speaker_names",
        action="store_false",
        help="leave speaker names out of the exported files",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="NVIDIA GPU: decode on a static cache compiled by torch.compile instead of the "
        "default CUDA graphs; the first batch of each size waits about a minute for the "
        "compiler (measured slower on a single hour-long file; ignored off CUDA)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.add_argument("--version", action="version", version=f"murmur {__version__}")
    return parser


def _speakers_arg(value: str) -> str | int:
    from app.core.speakers import DiarizationError, parse_speakers

    try:
        parsed = parse_speakers(value)
    except DiarizationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if parsed is False:
        raise argparse.ArgumentTypeError("--speakers must be 'auto' or a number of speakers")
    return "auto" if parsed is None else int(parsed)


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
        else:
            return  # the 5 s count from the last line written, not from this one
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


def show_events(name: str, events: Iterable[Event], progress: ProgressLine) -> Transcript | None:
    """Show the pipeline's events as progress lines; returns the finished transcript."""
    transcript = None
    for event in events:
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


def _transcribe_one(
    path: Path,
    engine: Engine,
    pipeline_options: PipelineOptions,
    progress: ProgressLine,
    cancel: threading.Event,
    library: Library | None = None,
    settings: Settings | None = None,
) -> Transcript | None:
    from app.core.pipeline import transcribe_file

    events: Iterable[Event] = transcribe_file(path, engine, pipeline_options, cancel=cancel)
    recorder = None
    if library is not None and path.is_file():
        from app.core.store.jobs import settings_record, start_job

        try:
            recorder = start_job(
                library, path, settings=settings_record(settings), model=engine.options.model
            )
        except MurmurError as exc:
            progress.say(f"warning: {exc}; {path.name} is not kept in the library")
        else:
            events = recorder.record(events)
    transcript = show_events(path.name, events, progress)
    if recorder is not None and recorder.store_error is None:
        progress.say(f"kept in the library as #{recorder.id}")
    return transcript


def open_library(progress: ProgressLine) -> Library | None:
    """The library to keep transcripts in, or None (with one warning line) when it can't be."""
    from app.core.store import Library, LibraryError

    try:
        library = Library.open()
    except LibraryError as exc:
        progress.say(f"warning: {exc}; transcripts are not kept in the library")
        return None
    if library.read_only:
        progress.say(f"warning: {library.notice} Transcripts are not kept in it.")
        library.close()
        return None
    if library.notice:
        progress.say(f"warning: {library.notice}")
    return library


def override_engine(settings: Settings, args: argparse.Namespace) -> Settings:
    """``--model``, ``--device`` and ``--precision`` over the settings (in place)."""
    if getattr(args, "model", None):
        settings.model = args.model
    if getattr(args, "device", None):
        settings.device = args.device
    if getattr(args, "precision", None):
        settings.precision = args.precision
    return settings


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The saved settings with the command line's options on top."""
    settings = override_engine(load_settings(), args)
    if getattr(args, "prompt", None) is not None:
        settings.context, settings.hotwords = args.prompt, []
    if getattr(args, "max_pause", None) is not None:
        settings.max_pause_s = args.max_pause
    if getattr(args, "channel", None) is not None:
        settings.channel = args.channel
    if getattr(args, "chinese", None) is not None:
        settings.chinese_script = args.chinese
    if getattr(args, "pack", None) is not None:
        settings.packing = args.pack
    return settings


def _remove(paths: list[Path]) -> None:
    """No partial output: drop what was written for an input that then failed."""
    for p in paths:
        p.unlink(missing_ok=True)


def list_tracks(inputs: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """`--list-tracks`: a table of each input's audio tracks on stdout."""
    from app.core.audio.media import list_tracks as tracks_of

    failures = 0
    for raw in inputs:
        try:
            tracks = tracks_of(raw)
        except MurmurError as exc:
            stderr.write(f"murmur: error: {exc}\n")
            failures += 1
            continue
        rows = [("#", "language", "codec", "channels", "title", "default")]
        for t in tracks:
            channels = f"{t.channels} ({t.layout})" if t.layout else str(t.channels)
            language = t.language or "-"
            rows.append(
                (str(t.index), language, t.codec, channels, t.title, "yes" if t.default else "")
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        stdout.write(f"{raw}: {len(tracks)} audio track{'s' if len(tracks) != 1 else ''}\n")
        for row in rows:
            stdout.write(
                "  "
                + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                + "\n"
            )
    stdout.flush()
    return 1 if failures else 0


def run(
    argv: Sequence[str] | None = None,
    stderr: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run `murmur transcribe`; returns the exit status (0: every input succeeded)."""
    stderr = stderr or sys.stderr
    stdout = stdout or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="murmur: %(message)s")
    if not args.inputs:
        parser.error("give at least one INPUT")
    if args.list_tracks:
        return list_tracks(args.inputs, stdout, stderr)

    return transcribe_inputs(args.inputs, args, stderr)


def transcribe_inputs(
    inputs: Sequence[str | os.PathLike[str]], args: argparse.Namespace, stderr: TextIO
) -> int:
    """Transcribe ``inputs`` with the options in ``args`` (see :func:`add_output_arguments`
    and :func:`add_model_arguments`); returns the exit status (0: every input succeeded)."""
    from app.core.asr.engine import Engine
    from app.core.export.exporters import ExportOptions
    from app.core.export.naming import plan_outputs

    settings = settings_from_args(args)
    formats: list[str] = args.format or settings.export_formats or ["srt", "txt"]
    if args.output_dir is not None:
        try:
            args.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            stderr.write(f"murmur: can't create output folder {args.output_dir}: {exc.strerror}\n")
            return 2

    try:
        plans = plan_outputs(
            [str(p) for p in inputs], formats, args.output_dir, overwrite=args.overwrite
        )
    except MurmurError as exc:
        stderr.write(f"murmur: error: {exc}\n")
        return 2
    engine = Engine(replace(settings.engine_options(), compile=getattr(args, "compile", False)))
    pipeline_options = replace(
        settings.pipeline_options(), track=getattr(args, "audio_track", None)
    )
    if getattr(args, "speakers", None) is not None:
        pipeline_options = replace(pipeline_options, speakers=args.speakers)
    if getattr(args, "no_pipeline", False):
        pipeline_options = replace(pipeline_options, pipeline=False)
    export_options = ExportOptions(
        timestamps=args.timestamps or settings.txt_timestamps,
        speakers=getattr(args, "speaker_names", True),
        cues=settings.cue_options(),
    )
    progress = ProgressLine(stderr, enabled=not getattr(args, "quiet", False))
    cancel = threading.Event()
    library = None if args.no_library else open_library(progress)
    try:
        # Ctrl+C / SIGTERM only set `cancel`: every stage stops at its next check and
        # its threads are joined before we exit 130 (a second signal exits at once).
        with cancel_on_signals(cancel):
            return _run_inputs(
                plans, engine, pipeline_options, export_options, progress, cancel, library, settings
            )
    finally:
        if library is not None:
            library.close()


def _export_all(
    transcript: Transcript | None,
    plan: PlannedOutput,
    export_options: ExportOptions,
    progress: ProgressLine,
    cancel: threading.Event,
    written: list[Path],
) -> None:
    """Write every planned format, appending each file to ``written`` as soon as it exists."""
    from app.core.export.exporters import export

    progress.show(f"{plan.source.name}: writing {', '.join(plan.paths)}", force=True)
    for fmt, target in plan.paths.items():
        if cancel.is_set():
            raise Cancelled()
        written.append(export(transcript, fmt, target, export_options))  # type: ignore[arg-type]
        hold("export", cancel)
    if cancel.is_set():
        raise Cancelled()


def _run_inputs(
    plans: Sequence[PlannedOutput],
    engine: Engine,
    pipeline_options: PipelineOptions,
    export_options: ExportOptions,
    progress: ProgressLine,
    cancel: threading.Event,
    library: Library | None,
    settings: Settings,
) -> int:
    failures = 0
    for plan in plans:
        if plan.renamed:
            progress.say(f"murmur: {plan.note()}")
    for position, plan in enumerate(plans):
        path = plan.source
        written: list[Path] = []
        try:
            transcript = _transcribe_one(
                path, engine, pipeline_options, progress, cancel, library, settings
            )
            _export_all(transcript, plan, export_options, progress, cancel, written)
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
                failures += len(plans) - position - 1
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
