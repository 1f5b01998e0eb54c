"""File → Import subtitles…: an SRT or WebVTT file made elsewhere, opened beside its media.

The cues become the transcript's segments, so they can be checked, re-timed and
corrected in the editor while the media plays, then exported again. The import is
kept in the library like a finished job (titled after the subtitle file, marked
``source: imported``), so edits are autosaved and it reopens from the History.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.core.errors import MurmurError
from app.core.subtitles import media_beside, read_subtitles
from app.core.transcript import Transcript, TranscriptMeta
from app.gui.drop_zone import MEDIA_EXTENSIONS
from app.gui.history.library_jobs import store_imported

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow
    from app.gui.queue_model import QueueItem


def media_duration(media: Path | None) -> float:
    """The media's duration from its header, or 0 (unknown) when it can't be read."""
    if media is None:
        return 0.0
    from app.core.audio.media import probe

    try:
        return float(probe(media).duration or 0.0)
    except MurmurError:
        return 0.0


def load_imported(subtitles: str | Path, media: str | Path | None) -> Transcript:
    """The transcript of a subtitle file, with ``media`` as its source. Raises MurmurError."""
    segments = read_subtitles(subtitles)
    media_path = Path(media) if media else None
    meta = TranscriptMeta(
        source=str(media_path) if media_path else "",
        duration=media_duration(media_path),
        model=f"Imported from {Path(subtitles).name}",
        created=datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    return Transcript(segments, meta)


def import_subtitles(win: MainWindow, subtitles: str | Path, media: str | Path | None) -> QueueItem:
    """Open ``subtitles`` in the editor beside ``media`` (None: no playback). Raises MurmurError."""
    transcript = load_imported(subtitles, media)
    path = str(media) if media else str(subtitles)
    tid = store_imported(win.library, subtitles, media, transcript)
    item = win.add_finished(path, transcript, str(media or ""), library_id=tid)
    count = len(transcript)
    win.editor.show_message(
        f"Imported {count} cue{'s' if count != 1 else ''} from {Path(subtitles).name}"
        + ("" if media else " (no media to play)")
    )
    return item


def show_import_error(parent: QWidget, message: str) -> QMessageBox:
    """A warning box with the one-line reason (not modal, so work goes on)."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Can't import subtitles", message,
                      QMessageBox.StandardButton.Ok, parent)  # fmt: skip
    box.setObjectName("import_error")
    box.open()
    return box


def import_subtitles_dialog(win: MainWindow) -> QueueItem | None:
    """Ask for the subtitle file, find its media beside it (or ask for it), and import."""
    chosen, _ = QFileDialog.getOpenFileName(
        win, "Import subtitles", "", "Subtitles (*.srt *.vtt);;All files (*)"
    )
    if not chosen:
        return None
    media = media_beside(chosen, MEDIA_EXTENSIONS)
    if media is None:
        pattern = " ".join(f"*{ext}" for ext in sorted(MEDIA_EXTENSIONS))
        picked, _ = QFileDialog.getOpenFileName(
            win,
            f"Media of {Path(chosen).name} (Cancel: none)",
            str(Path(chosen).parent),
            f"Audio and video ({pattern});;All files (*)",
        )
        media = Path(picked) if picked else None
    try:
        return import_subtitles(win, chosen, media)
    except MurmurError as exc:
        show_import_error(win, str(exc))
        return None
