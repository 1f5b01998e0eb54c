"""The history panel: every transcript, newest first, and search across all of them.

Reads go through the library on the GUI thread: the list query and a search take a
few milliseconds even with 1,000 transcripts (benchmarks/bench_library.py), and
search waits for a pause in typing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import MurmurError
from app.core.settings import EXPORT_FORMATS
from app.core.store import Entry, Library, LibraryError, Match

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
SEARCH_DELAY_MS = 200


def open_library() -> tuple[Library | None, str | None]:
    """The library for the window, and a line for the user when something is off."""
    try:
        library = Library.open()
    except LibraryError as exc:
        return None, f"{exc}. Transcripts are not kept."
    return library, library.notice


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _when(created: str) -> str:
    try:
        return datetime.fromisoformat(created).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return created


def entry_text(entry: Entry) -> str:
    from app.gui.history.library_jobs import is_imported

    kind = "imported subtitles" if is_imported(entry) else entry.kind
    return (
        f"{entry.title or Path(entry.media_path).name or 'Untitled'}\n"
        f"{_when(entry.created)} · {_clock(entry.duration)} · {kind} · {entry.status}"
    )


def match_text(match: Match) -> str:
    return f"{match.title} · {_clock(match.start)}\n{match.context}"


class HistoryPanel(QWidget):
    """Lists the library; a click opens a transcript (at the matching segment)."""

    openRequested = Signal(int, int)  # transcription id, row
    resumeRequested = Signal(int)  # transcription id
    deleted = Signal(int)  # transcription id

    def __init__(self, library: Library | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.setAccessibleName("History")
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search all transcripts")
        self.search_box.setAccessibleName("Search all transcripts")
        self.search_box.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setAccessibleName("Transcripts")
        self.list.setWordWrap(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.info = QLabel("")
        self.info.setObjectName("muted")
        self.info.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.search_box)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.info)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search_box.textChanged.connect(lambda _t: self._search_timer.start())
        self.search_box.returnPressed.connect(self.refresh)
        self.list.itemClicked.connect(self._open_item)
        self.list.itemActivated.connect(self._open_item)
        self.list.customContextMenuRequested.connect(self._menu)
        if library is None:
            self.search_box.setEnabled(False)
            self.info.setText("The library is not available.")
        self.refresh()

    # -- content ---------------------------------------------------------------------
    def refresh(self) -> None:
        self._search_timer.stop()
        self.list.clear()
        if self.library is None:
            return
        query = self.search_box.text().strip()
        try:
            if query:
                matches = self.library.search(query)
                for m in matches:
                    self._add(match_text(m), m.transcription_id, m.row)
                self.info.setText(
                    f"{len(matches)} matches" if matches else f"Nothing found for “{query}”"
                )
            else:
                entries = self.library.entries()
                for e in entries:
                    item = self._add(entry_text(e), e.id, 0)
                    item.setToolTip(e.error or e.media_path)
                count = f"{len(entries)} transcripts" if entries else "No transcripts yet"
                self.info.setText(count)
        except (MurmurError, OSError) as exc:
            self.info.setText(str(exc))

    def _add(self, text: str, tid: int, row: int) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setData(ID_ROLE, tid)
        item.setData(ROW_ROLE, row)
        self.list.addItem(item)
        return item

    def _open_item(self, item: QListWidgetItem) -> None:
        self.openRequested.emit(int(item.data(ID_ROLE)), int(item.data(ROW_ROLE)))

    # -- actions ---------------------------------------------------------------------
    def rename(self, tid: int, title: str) -> None:
        if self.library is not None and title.strip():
            self.library.rename(tid, title)
            self.refresh()

    def delete(self, tid: int) -> None:
        if self.library is not None:
            self.library.delete(tid)
            self.deleted.emit(tid)
            self.refresh()

    def export(self, tid: int, fmt: str, path: str | Path) -> Path:
        from app.core.export.exporters import ExportOptions, export
        from app.core.settings import load_settings

        assert self.library is not None
        settings = load_settings()
        options = ExportOptions(timestamps=settings.txt_timestamps, cues=settings.cue_options())
        return export(self.library.transcript(tid), fmt, path, options)

    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None or self.library is None:
            return
        tid = int(item.data(ID_ROLE))
        try:
            entry = self.library.get(tid)
        except LibraryError as exc:
            self.info.setText(str(exc))
            return
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.openRequested.emit(tid, int(item.data(ROW_ROLE))))
        if entry.status in ("interrupted", "failed", "cancelled"):
            menu.addAction("Resume", lambda: self.resumeRequested.emit(tid))
        menu.addAction("Rename…", lambda: self._ask_rename(entry))
        export_menu = menu.addMenu("Export")
        for fmt in EXPORT_FORMATS:
            export_menu.addAction(fmt.upper(), lambda f=fmt: self._ask_export(entry, f))
        show = menu.addAction("Show media in folder", lambda: self._show_media(entry))
        show.setEnabled(bool(entry.media_path) and Path(entry.media_path).exists())
        menu.addSeparator()
        menu.addAction("Delete…", lambda: self._ask_delete(entry))
        menu.popup(self.list.viewport().mapToGlobal(pos))

    def _ask_rename(self, entry: Entry) -> None:
        title, ok = QInputDialog.getText(self, "Rename", "Title:", text=entry.title)
        if ok:
            self.rename(entry.id, title)

    def _ask_delete(self, entry: Entry) -> None:
        answer = QMessageBox.question(
            self,
            "Delete transcript",
            f"Delete “{entry.title}” from the library? The media file is kept.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(entry.id)

    def _ask_export(self, entry: Entry, fmt: str) -> None:
        stem = Path(entry.media_path).stem or entry.title or "transcript"
        start = str(Path(entry.media_path).with_name(f"{stem}.{fmt}")) if entry.media_path else ""
        path, _ = QFileDialog.getSaveFileName(self, f"Export {fmt.upper()}", start)
        if not path:
            return
        try:
            written = self.export(entry.id, fmt, path)
        except MurmurError as exc:
            QMessageBox.warning(self, "Export failed", str(exc))
            return
        self.info.setText(f"Exported {written}")

    def _show_media(self, entry: Entry) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(entry.media_path).parent)))
