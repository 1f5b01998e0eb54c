"""The drop zone: takes files and folders dragged from a file manager."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.gui.icon_label import IconLabel
from app.gui.theme import icon

_AUDIO = ".wav .mp3 .m4a .aac .flac .ogg .oga .opus .wma .aif .aiff .amr .ac3 .caf .mka .weba"
_VIDEO = ".mp4 .m4v .mov .mkv .webm .avi .wmv .flv .mpg .mpeg .ts .mts .m2ts .3gp .ogv"
MEDIA_EXTENSIONS: frozenset[str] = frozenset(f"{_AUDIO} {_VIDEO}".split())


def is_media_file(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTENSIONS


def collect_media_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files as given (any extension: the user chose them), folders searched
    recursively for media by extension, in a stable order, without duplicates."""
    found: list[str] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = str(p.resolve())
        if key not in seen:
            seen.add(key)
            found.append(str(p))

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    child = Path(root) / name
                    if not name.startswith(".") and is_media_file(child):
                        add(child)
        elif path.exists():
            add(path)
    return found


class DropZone(QFrame):
    """A dashed panel with an icon, a line of text and an "Add files…" button."""

    filesDropped = Signal(list)  # list[str] of media files (folders expanded)
    addFilesClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setAccessibleName("Drop zone")
        self.setAccessibleDescription("Drop audio or video files or folders here to transcribe")
        self.setProperty("active", False)

        self.icon_label = IconLabel(40)
        self.icon_label.set_icon(icon("drop"))
        self.text_label = QLabel("Drop audio or video files here")
        self.text_label.setObjectName("heading")
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel("Folders are searched for media too")
        hint.setObjectName("muted")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.add_button = QPushButton(icon("add"), "Add files…")
        self.add_button.setObjectName("primary")
        self.add_button.setAccessibleName("Add files")
        self.add_button.setToolTip("Choose audio or video files to transcribe (Ctrl+O)")
        self.add_button.clicked.connect(self.addFilesClicked)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.add_button)
        row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(8)
        layout.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.text_label)
        layout.addWidget(hint)
        layout.addSpacing(4)
        layout.addLayout(row)

    # -- drag and drop ----------------------------------------------------------
    def _set_active(self, active: bool) -> None:
        self.setProperty("active", active)
        self.style().unpolish(self)
        self.style().polish(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
            self._set_active(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_active(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_active(False)
        local = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        files = collect_media_files(local)
        if not local:
            event.ignore()
            return
        event.acceptProposedAction()
        self.filesDropped.emit(files)  # may be empty: the window says so
