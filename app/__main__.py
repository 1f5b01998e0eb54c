"""Entry point: `murmur` / `python -m app`.

- `murmur <command> ...` runs a headless subcommand from :mod:`app.cli` (no Qt imported).
- `murmur [--model ID_OR_PATH] [--device ...] [FILE...]` opens the window,
  with those files queued.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="murmur",
        description="Murmur: speech to text and subtitles on this machine. "
        "Use `murmur transcribe --help` for the command line.",
    )
    parser.add_argument("files", nargs="*", help="media files to queue")
    parser.add_argument("--model", default=None, help="hub id or local model folder")
    parser.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"), default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from app.core.startup import prepare_process

    prepare_process()  # freeze_support, streams of a windowed build, the model cache
    args = list(sys.argv[1:] if argv is None else argv)
    from app.cli.main import is_subcommand, run_subcommand

    if args and is_subcommand(args[0]):
        return run_subcommand(args[0], args[1:])
    options = _gui_parser().parse_args(args)
    try:
        from app.gui.app import run_gui
    except ImportError as exc:
        sys.stderr.write(
            f"murmur: the desktop window needs PySide6 ({exc}). "
            "Use `murmur transcribe FILE` for the command line.\n"
        )
        return 2
    return run_gui(options.files, model=options.model, device=options.device)


if __name__ == "__main__":
    sys.exit(main())
