"""Export: the per-format save dialog and "Export all finished"."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.core.errors import MurmurError

if TYPE_CHECKING:
    from app.core.export.exporters import ExportOptions
    from app.core.settings import Settings
    from app.gui.document import TranscriptDocument

FORMAT_LABELS: dict[str, str] = {
    "srt": "SubRip subtitles",
    "vtt": "WebVTT subtitles",
    "txt": "Plain text",
    "docx": "Word document",
    "json": "JSON (segments and details)",
}
FORMAT_SHORTCUTS: dict[str, str] = {
    "srt": "Ctrl+E",
    "vtt": "Ctrl+Alt+V",
    "txt": "Ctrl+Alt+T",
    "docx": "Ctrl+Alt+D",
    "json": "Ctrl+Alt+J",
}


def export_options(settings: Settings) -> ExportOptions:
    """The exporter options from the settings (subtitle limits reshape the cues)."""
    from app.core.export.exporters import ExportOptions

    return ExportOptions(
        timestamps=settings.txt_timestamps,
        cues=settings.cue_options(),
        speakers=settings.export_speakers,
    )


def _file_filter(fmt: str) -> str:
    return f"{FORMAT_LABELS.get(fmt, fmt.upper())} (*.{fmt})"


def suggested_path(doc: TranscriptDocument, fmt: str, settings: Settings) -> Path:
    """Where the save dialog starts: the last export folder, then the default one."""
    from app.core.export.exporters import default_export_path

    media = Path(doc.media_path)
    name = default_export_path(media, fmt).name
    for folder in (settings.last_export_dir, settings.export_dir):
        if folder and Path(folder).is_dir():
            return Path(folder) / name
    return media.parent / name


def write_export(
    doc: TranscriptDocument, fmt: str, path: Path, settings: Settings, mark: bool = True
) -> Path:
    """Write one export (and mark the document exported). Raises MurmurError."""
    from app.core.export.exporters import export

    written = export(doc.transcript, fmt, path, export_options(settings))
    if mark:
        doc.mark_exported()
    return Path(written)


def export_with_dialog(
    parent: QWidget, doc: TranscriptDocument, fmt: str, settings: Settings
) -> Path | None:
    """Ask where to save, export, remember the folder. None when cancelled or failed."""
    start = suggested_path(doc, fmt, settings)
    chosen, _ = QFileDialog.getSaveFileName(
        parent, f"Export {fmt.upper()}", str(start), _file_filter(fmt)
    )
    if not chosen:
        return None
    path = Path(chosen)
    if path.suffix.lower() != f".{fmt}":
        path = path.with_name(path.name + f".{fmt}")
    try:
        written = write_export(doc, fmt, path, settings)
    except MurmurError as exc:
        QMessageBox.warning(parent, "Export failed", str(exc))
        return None
    except OSError as exc:
        QMessageBox.warning(parent, "Export failed", f"{path.name}: {exc.strerror or exc}")
        return None
    settings.last_export_dir = str(written.parent)
    return written


@dataclass
class ExportAllResult:
    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)  # one line per numbered input


def _sources(docs: list[TranscriptDocument]) -> list[str]:
    return [doc.media_path for doc in docs]


def existing_exports(docs: list[TranscriptDocument], settings: Settings) -> list[Path]:
    """The files "Export all finished" would replace if the user agrees to it."""
    from app.core.export.naming import existing_outputs

    formats = settings.export_formats
    return existing_outputs(_sources(docs), formats, settings.export_dir or None)


def export_all(
    docs: list[TranscriptDocument], settings: Settings, overwrite: bool = False
) -> ExportAllResult:
    """Every document in the default formats, to the export folder or next to its input.

    Names follow :mod:`app.core.export.naming`: documents that would share a name
    are numbered (``talk (2).srt``); an existing file is replaced only with
    ``overwrite``, otherwise that document takes the next free number.
    """
    from app.core.export.naming import plan_outputs

    result = ExportAllResult()
    folder = settings.export_dir or None
    try:
        plans = plan_outputs(_sources(docs), settings.export_formats, folder, overwrite=overwrite)
    except MurmurError as exc:
        result.errors.append(str(exc))
        return result
    for doc, plan in zip(docs, plans, strict=True):
        ok = True
        if plan.renamed:
            result.renamed.append(plan.note())
        for fmt, target in plan.paths.items():
            try:
                written = write_export(doc, fmt, target, settings, mark=False)
                result.written.append(written)
            except MurmurError as exc:
                ok = False
                result.errors.append(str(exc))
            except OSError as exc:
                ok = False
                result.errors.append(f"{target.name}: {exc.strerror or exc}")
        if ok:  # a document stays "unexported" until every default format is written
            doc.mark_exported()
    return result
