"""Speaker detection (diarization): who spoke when, offline, from a bundled voice encoder."""

from app.core.speakers.diarize import (
    DiarizationError,
    DiarizeOptions,
    Turn,
    assign_speakers,
    diarize,
    parse_speakers,
    speaker_name,
)

__all__ = [
    "DiarizationError",
    "DiarizeOptions",
    "Turn",
    "assign_speakers",
    "diarize",
    "parse_speakers",
    "speaker_name",
]
