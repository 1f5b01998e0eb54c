"""Output names for a run: never two outputs on one path, never a surprise overwrite.

The rules (the CLI and "Export all finished" in the window both plan with
:func:`plan_outputs`):

* Each input gets ``<stem>.<ext>`` whenever that name is free, so players find
  the subtitles by stem.
* Within one run, inputs that would share a name are numbered in input order:
  ``talk.txt``, ``talk (2).txt``, ``talk (3).txt``. One input keeps one number
  for all of its formats (``talk (2).srt`` and ``talk (2).txt`` belong together).
  Names are compared case-insensitively, so the plan is the same on every system.
* Across runs, a file that already exists is replaced only with ``overwrite``;
  otherwise the input takes the next free number, so nothing is ever destroyed.
* An output never lands on one of the run's inputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ExportError
from app.core.export.exporters import default_export_path

_MAX_NUMBER = 10_000


@dataclass(frozen=True)
class PlannedOutput:
    """Where one input's outputs go, and why they are not the plain name."""

    source: Path
    paths: dict[str, Path]  # format -> output path
    number: int  # 1 = the plain "<stem>.<ext>", n = "<stem> (n).<ext>"
    reason: str = ""  # "" when plain; else one line saying why it was numbered
    replaces: tuple[Path, ...] = ()  # existing files this plan overwrites (overwrite=True)

    @property
    def renamed(self) -> bool:
        return self.number > 1

    def note(self) -> str:
        """One line for the user when the plain name could not be used, else ""."""
        if not self.renamed:
            return ""
        names = ", ".join(p.name for p in self.paths.values())
        return f"{self.source.name}: writing {names} ({self.reason})"


def numbered_name(stem: str, fmt: str, number: int) -> str:
    """``talk.srt`` for 1, ``talk (2).srt`` for 2..."""
    return f"{stem}.{fmt}" if number <= 1 else f"{stem} ({number}).{fmt}"


def _key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path)).casefold()


def plan_outputs(
    inputs: Sequence[str | os.PathLike[str]],
    formats: Sequence[str],
    output_dir: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    exists: Callable[[Path], bool] = os.path.lexists,
) -> list[PlannedOutput]:
    """One :class:`PlannedOutput` per input, in input order (see the module's rules).

    ``exists`` is how a path is checked on disk (tests and callers may narrow it).
    Raises ExportError for an input that can't name an output.
    """
    taken: set[str] = {_key(Path(os.fspath(i))) for i in inputs}
    plans: list[PlannedOutput] = []
    for raw in inputs:
        source = Path(os.fspath(raw))
        plain = {fmt: default_export_path(source, fmt, output_dir) for fmt in formats}
        folder = next(iter(plain.values())).parent if plain else source.parent
        stem = source.stem
        reason = ""
        for number in range(1, _MAX_NUMBER + 1):
            paths = {fmt: folder / numbered_name(stem, fmt, number) for fmt in formats}
            keys = [_key(p) for p in paths.values()]
            if any(k in taken for k in keys):
                reason = reason or "another input of this run has the same name"
                continue
            on_disk = [p for p in paths.values() if exists(p)]
            if on_disk and not overwrite:
                reason = reason or "the plain name exists already; nothing is overwritten"
                continue
            break
        else:  # pragma: no cover - ten thousand files of one name
            raise ExportError(f"{source.name}: no free output name in {folder}")
        taken.update(keys)
        plans.append(
            PlannedOutput(
                source=source,
                paths=paths,
                number=number,
                reason=reason if number > 1 else "",
                replaces=tuple(on_disk) if overwrite else (),
            )
        )
    return plans


def existing_outputs(
    inputs: Sequence[str | os.PathLike[str]],
    formats: Sequence[str],
    output_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """The files that a run with ``overwrite`` would replace (to ask before)."""
    plans = plan_outputs(inputs, formats, output_dir, overwrite=True)
    return [p for plan in plans for p in plan.replaces]


__all__ = ["PlannedOutput", "existing_outputs", "numbered_name", "plan_outputs"]
