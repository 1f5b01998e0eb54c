"""Subcommand dispatch for `murmur <command> ...`.

Each subcommand is a module of :mod:`app.cli` with ``run(argv) -> int``; it is
imported only when named, so `murmur transcribe` never pays for the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

SUBCOMMANDS: dict[str, str] = {
    "transcribe": "app.cli.transcribe",
    "devices": "app.cli.devices",
    "record": "app.cli.record",
    "dictate": "app.cli.dictate",
}
"""Command name -> module that implements it."""


def is_subcommand(name: str) -> bool:
    return name in SUBCOMMANDS


def run_subcommand(name: str, argv: Sequence[str]) -> int:
    """Run ``murmur NAME ARGV...`` and return its exit status."""
    module = importlib.import_module(SUBCOMMANDS[name])
    return int(module.run(list(argv)))
