"""The transcript model: timed segments plus metadata, editable through commands.

A :class:`Transcript` holds an ordered list of :class:`Segment` objects. Every
edit goes through a command object (see :mod:`app.core.transcript.edits`) whose ``apply``
returns the exact inverse, which makes undo and redo trivial for any front end.
Listeners subscribe to precise :class:`TranscriptChange` notifications so that a
Qt model can emit row-level signals without the core knowing about Qt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, Protocol

from app.core.errors import MurmurError
from app.core.transcript.text import join_texts

FORMAT_VERSION = 1


class TranscriptError(MurmurError, ValueError):
    """Transcript data can't be read (bad JSON structure, bad times)."""


class EditError(TranscriptError):
    """An edit was refused; the transcript is left unchanged."""


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str | None = None  # "Speaker 1", a name, or None (no speaker detection)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class TranscriptMeta:
    source: str = ""  # media path
    duration: float = 0.0  # media duration, s
    model: str = ""
    device: str = ""  # DeviceInfo.label()
    created: str = ""  # ISO 8601
    processing_seconds: float = 0.0
    speech_seconds: float = 0.0


ChangeKind = Literal["changed", "inserted", "removed", "reset"]


@dataclass(frozen=True)
class TranscriptChange:
    """What just changed. Rows are inclusive; for ``removed`` they are the old rows.

    ``reset`` means "everything may have changed" (rows cover the new list, and
    ``last_row`` is -1 when it is empty).
    """

    kind: ChangeKind
    first_row: int
    last_row: int


class Command(Protocol):
    """An edit: ``apply`` mutates the transcript and returns the exact inverse."""

    @property
    def label(self) -> str: ...

    def apply(self, transcript: Transcript) -> Command: ...


Listener = Callable[[TranscriptChange], None]


class Transcript:
    """An ordered, editable list of segments with metadata and change listeners."""

    def __init__(
        self,
        segments: Iterable[Segment] | None = None,
        meta: TranscriptMeta | None = None,
        speech: Iterable[tuple[float, float]] = (),
    ) -> None:
        self._segments: list[Segment] = list(segments or [])
        self.meta: TranscriptMeta = meta if meta is not None else TranscriptMeta()
        # (start, end) of the speech that detection found, sorted; () when not known.
        # Not part of equality: it describes the media, not the text.
        self.speech: tuple[tuple[float, float], ...] = tuple(
            sorted((float(a), float(b)) for a, b in speech)
        )
        self._revision = 0
        self._saved_revision = 0
        self._listeners: list[Listener] = []
        self._before_listeners: list[Listener] = []

    # -- reading -----------------------------------------------------------
    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    def __getitem__(self, index: int) -> Segment:
        return self._segments[index]

    def __iter__(self) -> Iterator[Segment]:
        return iter(tuple(self._segments))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transcript):
            return NotImplemented
        return self._segments == other._segments and self.meta == other.meta

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Transcript({len(self._segments)} segments, revision={self._revision})"

    def text(self) -> str:
        """The full plain text: segments joined with a space (none between CJK)."""
        return join_texts(seg.text for seg in self._segments)

    def row_at(self, seconds: float) -> int | None:
        """The row whose [start, end) holds ``seconds``, or None in a gap."""
        lo, hi = 0, len(self._segments)
        while lo < hi:  # last segment with start <= seconds
            mid = (lo + hi) // 2
            if self._segments[mid].start <= seconds:
                lo = mid + 1
            else:
                hi = mid
        row = lo - 1
        if row >= 0 and seconds < self._segments[row].end:
            return row
        return None

    # -- revision / saved state ---------------------------------------------
    @property
    def revision(self) -> int:
        return self._revision

    @property
    def saved_revision(self) -> int:
        return self._saved_revision

    @property
    def dirty(self) -> bool:
        return self._revision != self._saved_revision

    def mark_saved(self) -> None:
        self._saved_revision = self._revision

    # -- listeners -------------------------------------------------------------
    def subscribe(self, callback: Listener, *, before: bool = False) -> None:
        """Call ``callback(change)`` after every change.

        With ``before=True`` it is called just *before* the change instead (with the
        same description), which is what Qt's ``beginInsertRows`` & co. need.
        """
        listeners = self._before_listeners if before else self._listeners
        if callback not in listeners:
            listeners.append(callback)

    def unsubscribe(self, callback: Listener) -> None:
        for listeners in (self._listeners, self._before_listeners):
            if callback in listeners:
                listeners.remove(callback)

    def _about_to(self, kind: ChangeKind, first: int, last: int) -> None:
        change = TranscriptChange(kind, first, last)
        for callback in list(self._before_listeners):
            callback(change)

    def _notify(self, kind: ChangeKind, first: int, last: int) -> None:
        self._revision += 1
        change = TranscriptChange(kind, first, last)
        for callback in list(self._listeners):
            callback(change)

    # -- editing ------------------------------------------------------------
    def apply(self, command: Command) -> Command:
        """Apply an edit command; returns the command that undoes it exactly."""
        return command.apply(self)

    def append(self, segments: Iterable[Segment]) -> None:
        """Add streamed results at the end (not an undoable edit)."""
        new = list(segments)
        if new:
            self.insert_rows(len(self._segments), new)

    def reset(self, segments: Iterable[Segment], meta: TranscriptMeta | None = None) -> None:
        """Replace everything (not an undoable edit): e.g. with the final result."""
        new = list(segments)
        self._about_to("reset", 0, len(new) - 1)
        self._segments = new
        if meta is not None:
            self.meta = meta
        self._notify("reset", 0, len(new) - 1)

    # Low-level mutations used by the commands. They do no validation.
    def set_rows(self, index: int, segments: list[Segment]) -> None:
        if not segments:
            return
        if index < 0 or index + len(segments) > len(self._segments):
            raise EditError(f"Rows {index + 1}–{index + len(segments)} do not exist")
        self._about_to("changed", index, index + len(segments) - 1)
        self._segments[index : index + len(segments)] = segments
        self._notify("changed", index, index + len(segments) - 1)

    def insert_rows(self, index: int, segments: list[Segment]) -> None:
        if not segments:
            return
        if index < 0 or index > len(self._segments):
            raise EditError(f"Can't insert at row {index + 1}")
        self._about_to("inserted", index, index + len(segments) - 1)
        self._segments[index:index] = segments
        self._notify("inserted", index, index + len(segments) - 1)

    def remove_rows(self, index: int, count: int) -> None:
        if count <= 0:
            return
        if index < 0 or index + count > len(self._segments):
            raise EditError(f"Rows {index + 1}–{index + count} do not exist")
        self._about_to("removed", index, index + count - 1)
        del self._segments[index : index + count]
        self._notify("removed", index, index + count - 1)

    # -- serialisation -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "meta": asdict(self.meta),
            "segments": [_segment_dict(seg) for seg in self._segments],
        }
        if self.speech:  # older readers ignore it
            out["speech"] = [[a, b] for a, b in self.speech]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        if not isinstance(data, Mapping):
            raise TranscriptError("Transcript data must be a JSON object")
        version = data.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise TranscriptError(f"Unsupported transcript format version: {version!r}")
        meta_in = data.get("meta") or {}
        if not isinstance(meta_in, Mapping):
            raise TranscriptError("Transcript 'meta' must be an object")
        known = {f.name: f.type for f in fields(TranscriptMeta)}
        meta_kwargs: dict[str, Any] = {}
        for key, value in meta_in.items():
            if key not in known:
                continue  # written by a newer version: ignore
            if known[key] == "str":
                if not isinstance(value, str):
                    raise TranscriptError(f"Transcript meta '{key}' must be text")
            else:
                value = _number(value, f"meta '{key}'")
            meta_kwargs[key] = value
        raw = data.get("segments", [])
        if not isinstance(raw, list):
            raise TranscriptError("Transcript 'segments' must be a list")
        segments: list[Segment] = []
        for i, item in enumerate(raw, start=1):
            if not isinstance(item, Mapping):
                raise TranscriptError(f"Segment {i} must be an object")
            start = _number(item.get("start"), f"segment {i} start")
            end = _number(item.get("end"), f"segment {i} end")
            text = item.get("text", "")
            if not isinstance(text, str):
                raise TranscriptError(f"Segment {i} text must be a string")
            if start < 0 or end < start:
                raise TranscriptError(f"Segment {i} has bad times: {start}–{end}")
            speaker = item.get("speaker")
            if speaker is not None and not isinstance(speaker, str):
                raise TranscriptError(f"Segment {i} speaker must be text")
            segments.append(Segment(start, end, text, speaker or None))
        return cls(segments, TranscriptMeta(**meta_kwargs), _speech(data.get("speech", [])))


def _segment_dict(seg: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {"start": seg.start, "end": seg.end, "text": seg.text}
    if seg.speaker is not None:  # files without speakers stay as they were
        out["speaker"] = seg.speaker
    return out


def _speech(raw: Any) -> list[tuple[float, float]]:
    if not isinstance(raw, list):
        raise TranscriptError("Transcript 'speech' must be a list")
    regions: list[tuple[float, float]] = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, list) or len(item) != 2:
            raise TranscriptError(f"Speech region {i} must be a [start, end] pair")
        start, end = (_number(v, f"speech region {i}") for v in item)
        if start < 0 or end < start:
            raise TranscriptError(f"Speech region {i} has bad times: {start}–{end}")
        regions.append((start, end))
    return regions


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TranscriptError(f"Transcript {what} must be a number")
    if not math.isfinite(value):
        raise TranscriptError(f"Transcript {what} must be finite")
    return float(value)
