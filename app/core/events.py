"""Plain, immutable events that the transcription pipeline yields.

The CLI, the GUI worker and the library all drive the same generator
(:func:`app.core.pipeline.transcribe_file`) and react to these events.
Every event is a frozen dataclass, safe to pass across threads.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.audio.chunking import Chunk
    from app.core.transcript import Segment, Transcript


class Stage(enum.Enum):
    DOWNLOADING_MODEL = "downloading model"
    LOADING_MODEL = "loading model"
    DECODING = "decoding"
    DETECTING_SPEECH = "detecting speech"
    DETECTING_SPEAKERS = "detecting speakers"
    TRANSCRIBING = "transcribing"
    DONE = "done"


@dataclass(frozen=True)
class StageChanged:
    stage: Stage
    message: str = ""


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes of the model fetched so far (all files together)."""

    bytes_done: int
    bytes_total: int | None
    filename: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.bytes_total:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)


@dataclass(frozen=True)
class DeviceInfo:
    """Where the model runs, said plainly.

    ``fallback_reason`` is set when a GPU was wanted (or would be expected)
    but the CPU is used, e.g. "this torch build has no CUDA support".
    """

    device: str  # "cuda", "mps" or "cpu"
    dtype: str  # "bf16", "fp16" or "fp32"
    name: str = ""  # "NVIDIA GeForce RTX 4090", "Apple GPU", CPU model
    fallback_reason: str | None = None

    def label(self) -> str:
        if self.device == "cuda":
            return f"CUDA: {self.name or 'GPU'}, {self.dtype}"
        if self.device == "mps":
            return f"Apple GPU (MPS), {self.dtype}"
        return f"CPU, {self.dtype}"


@dataclass(frozen=True)
class ModelReady:
    model: str
    device: DeviceInfo
    load_seconds: float


@dataclass(frozen=True)
class MediaOpened:
    path: str
    duration: float  # seconds, as declared by the container (or decoded length)
    has_video: bool


@dataclass(frozen=True)
class SpeechFound:
    """Speech detection is over (with pipelining, transcription may have begun already)."""

    regions: int
    speech_seconds: float
    chunks: int
    plan: tuple[Chunk, ...] = ()  # the chunk cut (kept by the library, so a resume matches)


@dataclass(frozen=True)
class ChunksPlanned:
    """More of the chunk cut is final: these chunks (numbered on from the ones before)
    come before any of them is transcribed. With pipelining the cut grows while earlier
    chunks are transcribed; ``restart``: the chunks planned before are void (decoding
    had to start again), numbering starts again at 0."""

    chunks: tuple[Chunk, ...]
    restart: bool = False


@dataclass(frozen=True)
class ChunkTranscribed:
    """One chunk of speech has been transcribed; its cues are ready."""

    index: int
    start: float
    end: float
    text: str
    segments: tuple[Segment, ...]
    retried: bool = False  # decoded again because of a repetition loop


@dataclass(frozen=True)
class Progress:
    fraction: float  # 0..1 over the whole file
    chunks_done: int
    chunks_total: int
    elapsed_s: float
    eta_s: float | None


@dataclass(frozen=True)
class Notice:
    """A warning for the user that does not stop the work (one line)."""

    message: str


@dataclass(frozen=True)
class Finished:
    transcript: Transcript


Event = (
    StageChanged
    | DownloadProgress
    | ModelReady
    | MediaOpened
    | SpeechFound
    | ChunksPlanned
    | ChunkTranscribed
    | Progress
    | Notice
    | Finished
)
