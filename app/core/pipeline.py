"""One media file, start to end, as a generator of plain events.

decode -> detect speech -> cut into chunks at pauses -> (load model) ->
batched transcription -> cues timed from the speech inside each chunk.

The CLI, the GUI worker and the library drive this same generator; progress,
cancellation and live display fall out of the events it yields.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.audio.chunking import Chunk, ChunkOptions, chunk_audio, make_chunks
from app.core.audio.media import decode_audio, probe
from app.core.audio.vad import VadOptions, detect_speech
from app.core.errors import Cancelled, MediaError
from app.core.events import (
    ChunkTranscribed,
    DownloadProgress,
    Event,
    Finished,
    MediaOpened,
    ModelReady,
    Notice,
    Progress,
    SpeechFound,
    Stage,
    StageChanged,
)
from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.cues import CueOptions, cues_for_chunk

if TYPE_CHECKING:
    import threading as _threading

    from app.core.asr.engine import Engine


@dataclass(frozen=True)
class PipelineOptions:
    vad: VadOptions = field(default_factory=VadOptions)
    chunks: ChunkOptions = field(default_factory=ChunkOptions)
    cues: CueOptions = field(default_factory=CueOptions)


def _check(cancel: _threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def load_engine(engine: Engine, cancel: _threading.Event | None = None) -> Iterator[Event]:
    """Load the model (download if needed), yielding progress as it goes.

    ``Engine.load`` reports download progress through a callback; it runs on a
    helper thread here so that its progress can be yielded as events.
    """
    if engine.loaded:
        return
    yield StageChanged(Stage.LOADING_MODEL, f"Loading {engine.options.model}")
    events: queue.Queue[DownloadProgress] = queue.Queue()
    outcome: dict[str, object] = {}
    started = time.monotonic()

    def run() -> None:
        try:
            outcome["device"] = engine.load(progress=events.put, cancel=cancel)
        except BaseException as exc:  # handed to the generator's thread below
            outcome["error"] = exc

    # Not a daemon, and always joined: the process must never exit while this
    # thread is inside torch. On a cancel it ends at the loader's next check.
    loader = threading.Thread(target=run, name="murmur-model-load")
    loader.start()
    try:
        announced_download = False
        while loader.is_alive() or not events.empty():
            try:
                progress = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if not announced_download:
                announced_download = True
                yield StageChanged(Stage.DOWNLOADING_MODEL, f"Downloading {engine.options.model}")
            yield progress
    finally:
        loader.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    yield ModelReady(
        model=engine.options.model,
        device=outcome["device"],  # type: ignore[arg-type]
        load_seconds=time.monotonic() - started,
    )


def _chunk_bounds(chunks: list[Chunk], duration: float) -> list[tuple[float, float]]:
    """Each chunk's cues stay between the midpoints to its neighbours.

    Then cues of neighbouring chunks can never overlap, so the segments sent
    with ``ChunkTranscribed`` are already final.
    """
    bounds = []
    for i, chunk in enumerate(chunks):
        lo = 0.0 if i == 0 else (chunks[i - 1].end + chunk.start) / 2
        hi = duration if i + 1 == len(chunks) else (chunk.end + chunks[i + 1].start) / 2
        bounds.append((lo, hi))
    return bounds


def transcribe_file(
    path: str | Path,
    engine: Engine,
    options: PipelineOptions | None = None,
    cancel: _threading.Event | None = None,
) -> Iterator[Event]:
    """Transcribe one media file. Ends with ``Finished(transcript)``.

    Raises MediaError, ModelError or Cancelled with one-line messages.
    """
    options = options or PipelineOptions()
    started = time.monotonic()
    path = Path(path)
    info = probe(path)
    yield MediaOpened(path=str(path), duration=info.duration or 0.0, has_video=info.has_video)

    yield StageChanged(Stage.DECODING, f"Decoding {path.name}")
    audio = decode_audio(path, cancel=cancel)
    if audio.warning:
        yield Notice(audio.warning)
    duration = audio.duration
    if audio.samples.size == 0:
        raise MediaError(f"{path.name}: no audio could be decoded")
    _check(cancel)

    yield StageChanged(Stage.DETECTING_SPEECH, "Finding speech")
    regions = detect_speech(audio.samples, audio.sample_rate, options.vad, cancel=cancel)

    def cut(chunk_options: ChunkOptions) -> list[Chunk]:
        return make_chunks(
            regions,
            chunk_options,
            media_duration=duration,
            samples=audio.samples,
            sample_rate=audio.sample_rate,
        )

    chunks = cut(options.chunks)
    speech_seconds = sum(r.end - r.start for r in regions)
    if chunks:
        yield from load_engine(engine, cancel)
        window = engine.window_seconds
        if window is not None and window < options.chunks.max_chunk_s:
            # the processor would split a longer chunk across windows: cut at pauses instead
            chunks = cut(replace(options.chunks, max_chunk_s=window))
    yield SpeechFound(regions=len(regions), speech_seconds=speech_seconds, chunks=len(chunks))

    meta = TranscriptMeta(
        source=str(path),
        duration=duration,
        model=engine.options.model,
        created=datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        speech_seconds=speech_seconds,
    )
    if not chunks:
        yield Notice(f"{path.name}: no speech found")
        meta.processing_seconds = time.monotonic() - started
        if engine.device_info is not None:
            meta.device = engine.device_info.label()
        yield Finished(Transcript([], meta))
        return

    if engine.device_info is not None:
        meta.device = engine.device_info.label()

    yield StageChanged(Stage.TRANSCRIBING, f"Transcribing {len(chunks)} chunks")
    audios = [chunk_audio(audio.samples, audio.sample_rate, c) for c in chunks]
    total_seconds = sum(c.duration for c in chunks) or 1.0
    done_seconds = 0.0
    transcribe_started = time.monotonic()
    bounds = _chunk_bounds(chunks, duration)
    per_chunk: dict[int, list[Segment]] = {}
    for index, text, retried in engine.transcribe(audios, cancel=cancel):
        _check(cancel)  # results of a finished batch are not reported after a cancel
        chunk = chunks[index]
        segments = cues_for_chunk(
            text,
            chunk.regions,
            options.cues,
            media_duration=duration,
            not_before=bounds[index][0],
            not_after=bounds[index][1],
        )
        per_chunk[index] = segments
        yield ChunkTranscribed(
            index=index,
            start=chunk.start,
            end=chunk.end,
            text=text,
            segments=tuple(segments),
            retried=retried,
        )
        if retried:
            yield Notice(f"Chunk at {chunk.start:.1f} s repeated itself and was decoded again")
        done_seconds += chunk.duration
        fraction = done_seconds / total_seconds
        elapsed = time.monotonic() - transcribe_started
        eta = elapsed / fraction * (1.0 - fraction) if fraction > 0 else None
        yield Progress(
            fraction=fraction,
            chunks_done=len(per_chunk),
            chunks_total=len(chunks),
            elapsed_s=elapsed,
            eta_s=eta,
        )
    _check(cancel)

    ordered = [seg for i in sorted(per_chunk) for seg in per_chunk[i]]
    meta.processing_seconds = time.monotonic() - started
    yield StageChanged(Stage.DONE, "Done")
    yield Finished(Transcript(ordered, meta))
