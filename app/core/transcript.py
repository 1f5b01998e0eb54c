"""The transcript model: timed segments plus metadata.

(The editable Transcript class and its edit commands are added here.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str

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
