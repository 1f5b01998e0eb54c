"""One media file, start to end, as a generator of plain events.

decode -> detect speech -> cut into chunks at pauses -> (load model) ->
batched transcription -> cues timed from the speech inside each chunk.

The CLI, the GUI worker and the library drive this same generator; progress,
cancellation and live display fall out of the events it yields.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Collection, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.core.audio.chunking import Chunk, ChunkOptions, chunk_audio, make_chunks
from app.core.audio.media import DecodedAudio, MediaInfo, decode_audio, probe, release_samples
from app.core.audio.vad import SpeechRegion, VadOptions, clean_regions, detect_speech
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
from app.core.speakers import DiarizeOptions, Turn, assign_speakers, diarize, parse_speakers
from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.core.transcript.chinese import check_script, convert_script
from app.core.transcript.cues import CueOptions, cues_for_pieces

if TYPE_CHECKING:
    import threading as _threading

    import numpy as np

    from app.core.asr.engine import Engine

# Speech is detected in stretches of at most this long, each read once and then
# released, so that long audio (memory-mapped by decode_audio) is never resident whole.
_VAD_STRETCH_S = 20 * 60.0


@dataclass(frozen=True)
class PipelineOptions:
    vad: VadOptions = field(default_factory=VadOptions)
    chunks: ChunkOptions = field(default_factory=ChunkOptions)
    cues: CueOptions = field(default_factory=CueOptions)
    # Which audio track (1-based); None: the one flagged default, else the first;
    # "auto": the track with the most detected speech.
    track: int | str | None = None
    # "auto" (mix, unless the channels cancel), "mix", "left" or "right".
    channel: str = "auto"
    # Chinese characters: "original" (as the model wrote them), "simplified",
    # "traditional", "hk" or "tw"; converted once, before cue shaping.
    chinese: str = "original"

    # Speaker detection after speech detection: None = off, "auto" = estimate the
    # number of speakers, N = that many speakers. The transcription is unchanged;
    # cues get a speaker and are split where the speaker changes.
    speakers: int | str | None = None
    # Keep the waveform of the decoded audio in the cache the editor's timeline reads
    # (app.core.audio.peaks), so that it shows at once; the window turns this on.
    waveform: bool = False

    def __post_init__(self) -> None:
        check_script(self.chinese)


log = logging.getLogger(__name__)


def _keep_waveform(
    path: Path,
    samples: np.ndarray,
    track: int | None,
    channel: str,
    cancel: _threading.Event | None,
) -> None:
    """Cache the waveform peaks of the audio just decoded; a failure only loses the cache."""
    from app.core.audio.peaks import cache_path, compute_peaks, save_peaks

    try:
        target = cache_path(path, track=track, channel=channel)
        if not target.is_file():
            save_peaks(compute_peaks(samples, cancel=cancel), target)
    except OSError as exc:
        log.warning("waveform not cached for %s: %s", path.name, exc)


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


def _detect_speakers(
    samples: np.ndarray,
    sample_rate: int,
    regions: list[SpeechRegion],
    speakers: int | bool | None,
    cancel: _threading.Event | None,
) -> Generator[Event, None, list[Turn] | None]:
    """Who speaks when (None when speaker detection is off)."""
    if speakers is False or not regions:
        return None
    yield StageChanged(Stage.DETECTING_SPEAKERS, "Finding speakers")
    count = None if speakers is None or speakers is True else int(speakers)
    turns = diarize(samples, sample_rate, regions, DiarizeOptions(speakers=count), cancel)
    found = len({t.speaker for t in turns})
    yield Notice(f"{found} speaker{'s' if found != 1 else ''} found")
    return turns


def _detect_in_stretches(
    samples: np.ndarray, sample_rate: int, options: VadOptions, cancel: _threading.Event | None
) -> list[SpeechRegion]:
    """``detect_speech`` over stretches of at most ``_VAD_STRETCH_S``, releasing each.

    A region cut by a stretch boundary comes back as two regions that touch, which the
    chunking joins again (the pause between them is zero).
    """
    n = len(samples)
    count = max(1, math.ceil(n / (_VAD_STRETCH_S * sample_rate)))
    step = math.ceil(n / count)
    regions: list[SpeechRegion] = []
    for a in range(0, n, step):
        b = min(n, a + step)
        offset = a / sample_rate
        found = detect_speech(samples[a:b], sample_rate, options, cancel=cancel)
        release_samples(samples, a, b)
        regions += [SpeechRegion(r.start + offset, r.end + offset) for r in found]
    return regions if count == 1 else clean_regions(regions, n / sample_rate)


class _ChunkAudio(Sequence[np.ndarray]):
    """The audio of each chunk, made when the engine asks for it (packed chunks are
    copies, and long audio is a memory map: nothing is read before it is needed)."""

    def __init__(self, samples: np.ndarray, sample_rate: int, chunks: list[Chunk]) -> None:
        self.samples, self.sample_rate, self.chunks = samples, sample_rate, chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        return chunk_audio(self.samples, self.sample_rate, self.chunks[index])

    def lengths(self) -> list[int]:
        return [round(c.audio_seconds * self.sample_rate) for c in self.chunks]

    def release(self, index: int) -> None:
        for start, end in self.chunks[index].spans:
            a = round(start * self.sample_rate)
            release_samples(self.samples, a, round(end * self.sample_rate))


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


def track_notice(path: Path, info: MediaInfo) -> str:
    """Which of several audio tracks was used by default, and how to choose another."""
    used = info.tracks[info.track - 1].describe()
    return (
        f"{path.name} has {len(info.tracks)} audio tracks; used {used}. Choose another with "
        "--audio-track N (--list-tracks lists them) or the track picker on its queue card"
    )


def _most_speech_track(
    path: Path, info: MediaInfo, options: PipelineOptions, cancel: _threading.Event | None
) -> Generator[Event, None, tuple[DecodedAudio, list[SpeechRegion]]]:
    """``--audio-track auto``: decode each track, keep the one with the most speech."""
    best: tuple[float, int, DecodedAudio, list[SpeechRegion]] | None = None
    found: list[str] = []
    for t in info.tracks:
        yield StageChanged(Stage.DECODING, f"Decoding {path.name}, audio track {t.index}")
        audio = decode_audio(path, cancel=cancel, track=t.index, channel=options.channel)
        yield StageChanged(Stage.DETECTING_SPEECH, f"Finding speech in audio track {t.index}")
        regions = detect_speech(audio.samples, audio.sample_rate, options.vad, cancel=cancel)
        speech = sum(r.end - r.start for r in regions)
        found.append(f"track {t.index}: {speech:.1f} s")
        if best is None or speech > best[0]:
            best = (speech, t.index, audio, regions)
    assert best is not None
    speech, index, audio, regions = best
    yield Notice(
        f"{path.name}: --audio-track auto used {info.tracks[index - 1].describe()}, the one "
        f"with the most speech ({'; '.join(found)})"
    )
    return audio, regions


def transcribe_file(
    path: str | Path,
    engine: Engine,
    options: PipelineOptions | None = None,
    cancel: _threading.Event | None = None,
    *,
    chunks: Sequence[Chunk] | None = None,
    skip: Collection[int] = (),
) -> Iterator[Event]:
    """Transcribe one media file. Ends with ``Finished(transcript)``.

    ``chunks`` gives the chunk cut to use (``Chunk.index`` = position in the list) instead
    of detecting speech and cutting anew: a resumed job keeps its boundaries. Chunks whose
    index is in ``skip`` are not transcribed (they were stored before); the ``Finished``
    transcript then holds only the chunks transcribed in this run.

    Raises MediaError, ModelError or Cancelled with one-line messages.
    """
    options = options or PipelineOptions()
    speakers = parse_speakers(options.speakers)  # bad values fail before any work
    started = time.monotonic()
    path = Path(path)
    track = options.track if isinstance(options.track, int) else None
    info = probe(path, track=track)
    yield MediaOpened(path=str(path), duration=info.duration or 0.0, has_video=info.has_video)

    if options.track == "auto" and len(info.tracks) > 1:
        audio, regions = yield from _most_speech_track(path, info, options, cancel)
    else:
        if options.track is None and len(info.tracks) > 1:
            yield Notice(track_notice(path, info))
        yield StageChanged(Stage.DECODING, f"Decoding {path.name}")
        audio = decode_audio(path, cancel=cancel, track=track, channel=options.channel)
        regions: list[SpeechRegion] | None = None
        if options.waveform:
            _keep_waveform(path, audio.samples, track, options.channel, cancel)
    if audio.warning:
        yield Notice(audio.warning)
    if audio.channel_note:
        yield Notice(audio.channel_note)
    duration = audio.duration
    if audio.samples.size == 0:
        raise MediaError(f"{path.name}: no audio could be decoded")
    _check(cancel)

    if chunks is None:
        if regions is None:
            yield StageChanged(Stage.DETECTING_SPEECH, "Finding speech")
            regions = _detect_in_stretches(audio.samples, audio.sample_rate, options.vad, cancel)

        def cut(chunk_options: ChunkOptions) -> list[Chunk]:
            return make_chunks(
                regions,
                chunk_options,
                media_duration=duration,
                samples=audio.samples,
                sample_rate=audio.sample_rate,
            )

        chunks = cut(options.chunks)
        if chunks:
            yield from load_engine(engine, cancel)
            window = engine.window_seconds
            if window is not None and window < options.chunks.max_chunk_s:
                # the processor would split a longer chunk across windows: cut at pauses instead
                chunks = cut(replace(options.chunks, max_chunk_s=window))
    else:
        chunks = list(chunks)
        if any(c.index != i for i, c in enumerate(chunks)):
            raise ValueError("chunks must be numbered by their position")
        regions = [r for c in chunks for r in c.regions]
        if any(c.index not in skip for c in chunks):
            yield from load_engine(engine, cancel)
    turns = yield from _detect_speakers(audio.samples, audio.sample_rate, regions, speakers, cancel)
    speech_seconds = sum(r.end - r.start for r in regions)
    yield SpeechFound(
        regions=len(regions),
        speech_seconds=speech_seconds,
        chunks=len(chunks),
        plan=tuple(chunks),
    )

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

    todo = [c for c in chunks if c.index not in skip]
    yield StageChanged(Stage.TRANSCRIBING, f"Transcribing {len(todo)} chunks")
    audios = _ChunkAudio(audio.samples, audio.sample_rate, todo)
    total_seconds = sum(c.audio_seconds for c in chunks) or 1.0
    done_before = done_seconds = sum(c.audio_seconds for c in chunks if c.index in skip)
    skipped = len(chunks) - len(todo)
    transcribe_started = time.monotonic()
    bounds = _chunk_bounds(chunks, duration)
    per_chunk: dict[int, list[Segment]] = {}
    transcribed = engine.transcribe(audios, cancel=cancel, lengths=audios.lengths())
    for position, text, retried in transcribed:
        _check(cancel)  # results of a finished batch are not reported after a cancel
        audios.release(position)
        chunk = todo[position]
        index = chunk.index
        text = convert_script(text, options.chinese)
        segments = cues_for_pieces(
            text,
            chunk.piece_regions(),
            options.cues,
            media_duration=duration,
            not_before=bounds[index][0],
            not_after=bounds[index][1],
        )
        if turns is not None:
            segments = assign_speakers(segments, turns, chunk.regions)
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
        done_seconds += chunk.audio_seconds
        fraction = done_seconds / total_seconds
        elapsed = time.monotonic() - transcribe_started
        run_fraction = (done_seconds - done_before) / max(1e-9, total_seconds - done_before)
        eta = elapsed / run_fraction * (1.0 - run_fraction) if run_fraction > 0 else None
        yield Progress(
            fraction=fraction,
            chunks_done=skipped + len(per_chunk),
            chunks_total=len(chunks),
            elapsed_s=elapsed,
            eta_s=eta,
        )
    _check(cancel)

    ordered = [seg for i in sorted(per_chunk) for seg in per_chunk[i]]
    meta.processing_seconds = time.monotonic() - started
    yield StageChanged(Stage.DONE, "Done")
    yield Finished(Transcript(ordered, meta, speech=((r.start, r.end) for r in regions)))
