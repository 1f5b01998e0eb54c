"""Text stage: the editable transcript, its edit commands, and subtitle cue shaping.

``Segment``, ``Transcript`` and friends are re-exported here because nearly every
layer uses them; edits, cues and text helpers are imported from their modules.
"""

from app.core.transcript.model import (
    FORMAT_VERSION,
    Command,
    EditError,
    Segment,
    Transcript,
    TranscriptChange,
    TranscriptError,
    TranscriptMeta,
)

__all__ = [
    "FORMAT_VERSION",
    "Command",
    "EditError",
    "Segment",
    "Transcript",
    "TranscriptChange",
    "TranscriptError",
    "TranscriptMeta",
]
