"""The transcription queue: one item per input file, shown by a list model."""

from __future__ import annotations

import enum
import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

if TYPE_CHECKING:
    from app.core.audio.media import AudioTrack
    from app.core.transcript import Segment
    from app.gui.document import TranscriptDocument


class JobState(enum.Enum):
    WAITING = "Waiting for the model"  # dropped before the model is on this machine
    QUEUED = "Queued"
    LOADING_MODEL = "Loading model"
    RUNNING = "Transcribing"
    DONE = "Done"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)

    @property
    def active(self) -> bool:
        return self in (JobState.LOADING_MODEL, JobState.RUNNING)


_ids = itertools.count(1)

# Containers that can hold more than one audio track: their headers are read
# when a file is queued, so that its card can offer a track picker.
MULTI_TRACK_SUFFIXES = frozenset(
    [
        ".mkv",
        ".mka",
        ".mk3d",
        ".webm",
        ".mp4",
        ".m4a",
        ".m4v",
        ".mov",
        ".avi",
        ".ts",
        ".m2ts",
        ".mts",
        ".mxf",
        ".ogg",
        ".ogv",
        ".vob",
        ".wmv",
        ".asf",
        ".flv",
        ".3gp",
    ]
)


def audio_tracks(path: str) -> tuple[AudioTrack, ...]:
    """The audio tracks of a container that may hold several; () when unreadable
    (the job then fails with the reason) or a plain audio file."""
    from app.core.audio.media import list_tracks
    from app.core.errors import MurmurError

    if Path(path).suffix.lower() not in MULTI_TRACK_SUFFIXES:
        return ()
    try:
        return list_tracks(path)
    except MurmurError:
        return ()


def format_eta(seconds: float | None) -> str:
    """A short human duration: "45 s", "3 min 5 s", "1 h 02 min"."""
    if seconds is None or seconds < 0:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


@dataclass
class QueueItem:
    """One input file and everything known about its transcription."""

    path: str
    id: int = field(default_factory=lambda: next(_ids))
    state: JobState = JobState.QUEUED
    stage: str = ""  # finer detail while active ("decoding", "detecting speech"...)
    fraction: float = 0.0
    eta_s: float | None = None
    error: str = ""  # one line
    details: str = ""  # longer text (traceback for unexpected errors)
    notices: list[str] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)  # live, while running
    duration: float | None = None
    document: TranscriptDocument | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    tracks: tuple[AudioTrack, ...] = ()  # the file's audio tracks (a picker when several)
    track: int | None = None  # chosen by the user (1-based); None: the default track
    track_used: int | None = None  # the track of the latest (or current) job
    library_id: int | None = None  # its transcript in the library
    # Detect speakers: "off", "auto" or a number (settings.SPEAKER_CHOICES); None until
    # queued, then the settings' default unless the user picks another on the card.
    speakers: str | None = None
    speakers_used: str | None = None  # the choice of the latest (or current) job

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def default_track(self) -> int:
        return next((t.index for t in self.tracks if t.default), 1)

    @property
    def chosen_track(self) -> int:
        return self.track if self.track is not None else self.default_track

    @property
    def track_changed(self) -> bool:
        """A finished job read another track than the one chosen now."""
        return self.track_used is not None and self.track_used != self.chosen_track

    @property
    def rerun_offered(self) -> bool:
        """A finished job was made with another track or speaker choice than chosen now."""
        speakers_changed = self.speakers_used is not None and self.speakers_used != self.speakers
        return self.state is JobState.DONE and (self.track_changed or speakers_changed)

    def status_text(self) -> str:
        """The one line shown under the file name."""
        if self.state is JobState.RUNNING:
            text = f"{self.stage.capitalize() or 'Transcribing'}"
            if self.stage in ("", "transcribing"):
                text = f"Transcribing {self.fraction * 100:.0f}%"
                eta = format_eta(self.eta_s)
                if eta:
                    text += f" · about {eta} left"
            return text
        if self.state is JobState.FAILED:
            return f"Failed: {self.error}"
        if self.state is JobState.DONE:
            n = len(self.document.transcript.segments) if self.document else len(self.segments)
            text = f"Done · {n} segment{'s' if n != 1 else ''}"
            if self.document is not None and self.document.is_dirty():
                text += " · edited"
            return text
        if self.state is JobState.LOADING_MODEL and self.stage:
            return self.stage
        return self.state.value

    def reset_for_retry(self) -> None:
        self.state = JobState.QUEUED
        self.stage = ""
        self.fraction = 0.0
        self.eta_s = None
        self.error = ""
        self.details = ""
        self.notices = []
        self.segments = []
        self.document = None
        self.cancel_event = threading.Event()


ItemRole = Qt.ItemDataRole.UserRole + 1


class QueueModel(QAbstractListModel):
    """A flat list of :class:`QueueItem`; ``ItemRole`` gives the item itself."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[QueueItem] = []

    # -- Qt model API -------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [item.path, item.status_text()]
            if item.details and item.details != item.error:
                lines.append(item.details)
            lines.extend(item.notices)
            return "\n".join(lines)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{item.name}: {item.status_text()}"
        if role == ItemRole:
            return item
        return None

    # -- item access ----------------------------------------------------------
    @property
    def items(self) -> list[QueueItem]:
        return list(self._items)

    def item(self, row: int) -> QueueItem:
        return self._items[row]

    def row_of(self, item_id: int) -> int:
        for row, item in enumerate(self._items):
            if item.id == item_id:
                return row
        return -1

    def find(self, item_id: int) -> QueueItem | None:
        row = self.row_of(item_id)
        return self._items[row] if row >= 0 else None

    def add(self, paths: list[str]) -> list[QueueItem]:
        new = [QueueItem(path=str(p)) for p in paths]
        if not new:
            return []
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._items.extend(new)
        self.endInsertRows()
        return new

    def remove(self, item_id: int) -> QueueItem | None:
        row = self.row_of(item_id)
        if row < 0:
            return None
        self.beginRemoveRows(QModelIndex(), row, row)
        item = self._items.pop(row)
        self.endRemoveRows()
        return item

    def touch(self, item_id: int) -> None:
        """Tell views that the item changed."""
        row = self.row_of(item_id)
        if row >= 0:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def count(self, *states: JobState) -> int:
        return sum(1 for i in self._items if i.state in states)
