"""`murmur library`: list, search, export, resume, rename, delete and import transcripts."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app import __version__
from app.core.errors import Cancelled, MurmurError
from app.core.settings import EXPORT_FORMATS

if TYPE_CHECKING:
    from app.core.store import Entry, Library

SHARE = "murmur"  # --format murmur: the whole transcript as one .murmur.json file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="murmur library",
        description="Every transcript Murmur made, kept in one SQLite file "
        "(MURMUR_DATA_DIR overrides its folder).",
    )
    parser.add_argument("--version", action="version", version=f"murmur {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="every transcript, newest first")
    p.add_argument("--json", action="store_true", help="a JSON array of objects")
    p.add_argument("--limit", type=int, default=None)

    p = sub.add_parser("search", help="full-text search across all transcripts")
    p.add_argument("text", nargs="+", help="words that must all be in a segment")
    p.add_argument("--json", action="store_true", help="a JSON array of matches")
    p.add_argument("--limit", type=int, default=100)

    p = sub.add_parser("export", help="write one transcript as a file")
    p.add_argument("id", type=int)
    p.add_argument(
        "--format",
        "-f",
        required=True,
        choices=(*EXPORT_FORMATS, SHARE),
        help=f"{'|'.join(EXPORT_FORMATS)}, or {SHARE} (a .murmur.json file to import elsewhere)",
    )
    p.add_argument("-o", "--output", type=Path, default=None, help="default: in this folder")
    p.add_argument("--timestamps", action="store_true", help="timestamps in TXT and DOCX")

    p = sub.add_parser("resume", help="finish an interrupted transcription")
    p.add_argument("id", type=int)
    p.add_argument("--model", default=None, help="default: the model the job started with")
    p.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"), default=None)
    p.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default=None)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")

    p = sub.add_parser("rename", help="give a transcript a new title")
    p.add_argument("id", type=int)
    p.add_argument("title")

    p = sub.add_parser("delete", help="remove a transcript (its media file is kept)")
    p.add_argument("id", type=int)

    p = sub.add_parser("import", help="add a transcript from a .murmur.json file")
    p.add_argument("file", type=Path)
    return parser


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _list(library: Library, args: argparse.Namespace, out: TextIO) -> int:
    entries = library.entries(limit=args.limit)
    if args.json:
        json.dump([e.to_json() for e in entries], out, ensure_ascii=False, indent=1)
        out.write("\n")
        return 0
    for e in entries:
        out.write(
            f"{e.id:>5}  {e.created[:16].replace('T', ' ')}  {_clock(e.duration):>8}  "
            f"{e.kind:<9} {e.status:<11} {e.title}\n"
        )
    return 0


def _search(library: Library, args: argparse.Namespace, out: TextIO) -> int:
    matches = library.search(" ".join(args.text), limit=args.limit)
    if args.json:
        json.dump([m.to_json() for m in matches], out, ensure_ascii=False, indent=1)
        out.write("\n")
        return 0
    for m in matches:
        out.write(f"{m.transcription_id:>5}  {_clock(m.start):>8}  {m.title}: {m.context}\n")
    return 0


def _default_name(entry: Entry) -> str:
    stem = Path(entry.media_path).stem if entry.media_path else ""
    stem = stem or entry.title.strip() or f"transcript-{entry.id}"
    return "".join("_" if c in '/\\:*?"<>|' else c for c in stem)


def _export(library: Library, args: argparse.Namespace, out: TextIO) -> int:
    from app.core.export.exporters import ExportOptions, export
    from app.core.settings import load_settings
    from app.core.store import SHARE_SUFFIX, write_share_file

    entry = library.get(args.id)
    if args.format == SHARE:
        target = args.output or Path(_default_name(entry) + SHARE_SUFFIX)
        written = write_share_file(library, entry.id, target)
    else:
        settings = load_settings()
        options = ExportOptions(
            timestamps=args.timestamps or settings.txt_timestamps, cues=settings.cue_options()
        )
        target = args.output or Path(f"{_default_name(entry)}.{args.format}")
        written = export(library.transcript(entry.id), args.format, target, options)
    out.write(f"wrote {written}\n")
    return 0


def _resume(library: Library, args: argparse.Namespace, err: TextIO) -> int:
    from app.cli.interrupt import cancel_on_signals
    from app.cli.transcribe import ProgressLine, override_engine, show_events
    from app.core.asr.engine import Engine
    from app.core.settings import settings_from_dict
    from app.core.store import resume

    entry = library.get(args.id)
    settings = settings_from_dict(entry.settings)
    if entry.model:
        settings.model = entry.model
    settings = override_engine(settings, args)
    engine = Engine(settings.engine_options())
    progress = ProgressLine(err, enabled=not args.quiet)
    cancel = threading.Event()
    done = len([c for c in library.chunks(entry.id) if c.done])
    progress.say(f"Resuming #{entry.id} {entry.title}: {done} chunks were kept")
    with cancel_on_signals(cancel, lambda _s: progress.say("murmur: stopping...")):
        events = resume(library, entry.id, engine, settings.pipeline_options(), cancel)
        transcript = show_events(entry.title, events, progress)
    count = len(transcript) if transcript is not None else 0
    progress.say(f"#{entry.id} is done: {count} segments")
    return 0


def run(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run `murmur library ...`; returns the exit status."""
    out = stdout or sys.stdout
    err = sys.stderr
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="murmur: %(message)s")
    from app.core.store import Library, read_share_file

    try:
        library = Library.open()
    except MurmurError as exc:
        err.write(f"murmur: error: {exc}\n")
        return 1
    if library.notice:
        err.write(f"murmur: warning: {library.notice}\n")
    try:
        match args.command:
            case "list":
                return _list(library, args, out)
            case "search":
                return _search(library, args, out)
            case "export":
                return _export(library, args, out)
            case "resume":
                return _resume(library, args, err)
            case "rename":
                library.rename(args.id, args.title)
                return 0
            case "delete":
                library.delete(args.id)
                out.write(f"deleted #{args.id}\n")
                return 0
            case "import":
                tid = read_share_file(library, args.file)
                out.write(f"imported as #{tid}\n")
                return 0
    except Cancelled:
        err.write("murmur: cancelled\n")
        return 130
    except MurmurError as exc:
        err.write(f"murmur: error: {exc}\n")
        return 1
    except Exception as exc:  # a bug: still one line, details on request
        err.write(f"murmur: error: unexpected {type(exc).__name__}: {exc}\n")
        if os.environ.get("MURMUR_DEBUG"):
            import traceback

            traceback.print_exc(file=err)
        return 1
    finally:
        library.close()
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv)
