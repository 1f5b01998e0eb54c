"""One media file, start to end, as a generator of plain events.

decode -> detect speech -> cut into chunks at pauses -> (load model) ->
batched transcription -> cues timed from the speech inside each chunk.

Decoding and speech detection run on a producer, stretch by stretch; by default the
chunks of early stretches are transcribed while later ones are still decoded
(pipelining), with the same result as doing one stage after the other. For long files
the producer is a child process (:mod:`app.core.audio.stretch_process`), so that its
Python work does not share the interpreter lock with the model's.

The CLI, the GUI worker and the library drive this same generator; progress,
cancellation and live display fall out of the events it yields.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Collection, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.core.asr.gaze import MIN_CONFIDENCE, heard_confidence
from app.core.asr.model_loader import default_threads
from app.core.asr.placement import MIN_WINDOWS
from app.core.audio import stretch_process
from app.core.audio.chunking import Chunk, ChunkOptions, ChunkPlanner, chunk_audio
from app.core.audio.media import (
    DecodedAudio,
    MediaInfo,
    StreamedSamples,
    decode_audio,
    probe,
    release_samples,
)
from app.core.audio.stretch_process import ProcessStretches
from app.core.audio.stretches import (
    AnyOf,
    Decoded,
    Detecting,
    Item,
    Restarted,
    SpeechStretches,
    Stretch,
    join_thread,
)
from app.core.audio.vad import SpeechRegion, VadOptions, detect_speech
from app.core.errors import Cancelled, MediaError
from app.core.events import (
    ChunksPlanned,
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
from app.core.transcript.cues import CueOptions, cues_for_pieces, cut_text
from app.core.transcript.text import join_texts

if TYPE_CHECKING:
    import threading as _threading

    import numpy as np

    from app.core.asr.engine import Decoded, Engine

# After the first group of chunks (one batch, at most _FIRST_GROUP chunks), each group
# handed to the engine is this many batches (sorted by length inside the group, so
# padding stays low), or at least a batch but at most _GROUP_CHUNKS chunks where batches
# are large (a GPU's): the GPU starts on the first seconds of a long file, and no group
# waits for a quarter of an hour of it to be decoded.
_GROUP_BATCHES = 4
_FIRST_GROUP = 32
_GROUP_CHUNKS = 256
# On a CPU a batch of GLM-ASR-Nano's takes minutes (16 windows: about 3 min on 2 cores),
# and the first text of a long file would wait for all of it. From LONG_MEDIA_S of
# declared length on, the first group there is _FIRST_GROUP_LONG_CPU chunk: its text
# came after 26-32 s instead of 207-226 s on an hour here, for one more batch's decoding
# steps (about 1 % of the hour; benchmarks/README.md, "The first text of a long file on
# a CPU").
LONG_MEDIA_S = 1200.0
_FIRST_GROUP_LONG_CPU = 1
# From this declared length on, "auto" decodes in a child process. Starting one costs
# about 0.3 s (and, before speech detection's weights are cached, a second import of
# torch); below 10 minutes the decoding and detection take a second or two, and the
# child would not pay for itself.
PROCESS_PRODUCER_S = 600.0
# With this many cores or more, speech detection gets a process of its own beside the
# decoding one, so that preparing the file takes about as long as decoding it (an hour
# of MP3 on 2 cores: 1.21-1.29x ffmpeg's decode against 1.52-1.60x with both in one
# process). On 2 cores the model's thread then shares them with both for those seconds:
# the first text of an hour came as soon (36.3 and 39.4 s against 36.8 and 37.6 s), and
# the whole CLI with the listener took as long (benchmarks/README.md, issue 14).
DETECTOR_PROCESS_CPUS = 2
# A packed chunk's text is cut where its tokens were heard unless a piece with at least
# this much speech got none of them (then it is shared by speaking time).
_HEARD_MIN_SPEECH_S = 0.5
# Said once a file when a packed window's pieces had to be transcribed one by one.
UNPLACED_NOTICE = (
    "The model's attention did not show where the words of a packed window were said, so "
    "its pieces were transcribed one by one"
)
# Said when packing stops for a model: once learned (app.core.asr.placement), and on each
# file where packing was asked for ("on") but this model is known not to place its words.
PACKING_OFF_NOTICE = (
    "This model's attention does not show where the words of packed windows were said, so "
    "Murmur cuts at pauses with it instead of packing (packing would be slower)"
)

log = logging.getLogger(__name__)


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
    # Transcribe the chunks of early stretches while later ones are still decoded and
    # searched for speech (the same chunks, text and times as without).
    pipeline: bool = True
    # Where decoding and speech detection run: "thread", "process" (a child process,
    # for long files), or "auto": a process for files of PROCESS_PRODUCER_S or more.
    producer: str = "auto"

    def __post_init__(self) -> None:
        check_script(self.chinese)
        if self.producer not in ("auto", "thread", "process"):
            raise ValueError(f"producer must be auto, thread or process, not {self.producer!r}")


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


class _ChunkAudio(Sequence[np.ndarray]):
    """The audio of each chunk, made when the engine asks for it (packed chunks are
    copies, and long audio is a memory map: nothing is read before it is needed)."""

    def __init__(
        self, samples: np.ndarray | StreamedSamples, sample_rate: int, chunks: list[Chunk]
    ) -> None:
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


def _pieces(chunk: Chunk) -> list[Chunk]:
    """A packed chunk's pieces as plain chunks (the chunks cut at pauses it was packed from)."""
    return [
        replace(chunk, start=a, end=b, regions=regions, pieces=(), gap_s=0.0)
        for (a, b), regions in zip(chunk.spans, chunk.piece_regions(), strict=True)
    ]


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


def group_size(batch_size: int, first: bool) -> int:
    """Chunks in a group handed to the engine: the first group is a batch, at most
    ``_FIRST_GROUP`` chunks; later ones are ``_GROUP_BATCHES`` batches, but at most
    ``_GROUP_CHUNKS`` chunks, and never less than a batch."""
    batch = max(1, batch_size)
    if first:
        return min(batch, _FIRST_GROUP)
    return max(batch, min(batch * _GROUP_BATCHES, _GROUP_CHUNKS))


class _Transcription:
    """The chunk cut as it grows, and the transcription of its chunks in groups.

    Groups are consecutive runs of the cut: the first of ``batch_size`` chunks, at most
    ``_FIRST_GROUP`` (the first segments come soon; of ``MIN_WINDOWS`` packed windows
    while the engine does not know yet whether the model places their words; of
    ``_FIRST_GROUP_LONG_CPU`` for a long file on a CPU), then
    ``_GROUP_BATCHES`` batches each, or one batch where that is over ``_GROUP_CHUNKS``.
    A group goes to the engine once the chunk after it is planned too (a chunk's cues stop
    halfway to the next chunk) or the cut is complete. The groups therefore depend only on the cut,
    never on timing: pipelined and sequential runs decode the same batches.
    """

    def __init__(
        self,
        path: Path,
        engine: Engine,
        options: PipelineOptions,
        cancel: _threading.Event | None,
        skip: Collection[int],
    ) -> None:
        self.path, self.engine, self.options, self.cancel = path, engine, options, cancel
        self.skip = skip
        self.samples: np.ndarray | StreamedSamples = np.zeros(0, np.float32)
        self.sample_rate = 16000
        self.declared = 0.0  # the container's duration (for estimates while decoding)
        self.duration: float | None = None  # the decoded length, once decoding is over
        self.frontier = 0.0  # speech detection is done up to here (s)
        self.producing = False  # the producer thread still decodes and detects
        self.producer_cores = 1  # the cores it takes while it does
        self.turns: list[Turn] | None = None
        self.reset()

    def reset(self) -> None:
        self.planned: list[Chunk] = []
        self.complete = False  # the cut is complete
        self.handed = 0  # chunks of ``planned`` handed to the engine so far
        self.groups = 0
        self.unplaced = 0  # packed windows whose attention did not place their words
        self.per_chunk: dict[int, list[Segment]] = {}
        self.done_seconds = self.done_before = 0.0
        self.started: float | None = None  # when the first chunk went to the engine

    def plan(self, chunks: Sequence[Chunk], *, restart: bool = False) -> Iterator[Event]:
        if chunks or restart:
            self.planned.extend(chunks)
            yield ChunksPlanned(tuple(chunks), restart=restart)

    def ready(self) -> Iterator[Event]:
        """Transcribe every group that is ready."""
        while True:
            size = group_size(self.engine.batch_size, first=not self.groups)
            if not self.groups and (
                self.engine.placement.verdict is None
                and self.engine.records_gaze()
                and any(c.packed for c in self.planned[self.handed : self.handed + size])
            ):
                # whether this model places the words of packed windows is not known yet:
                # a first group of a few windows tells, before the rest are decoded packed
                size = min(size, MIN_WINDOWS)
            elif not self.groups and self._long_on_cpu():
                size = min(size, _FIRST_GROUP_LONG_CPU)  # the first text comes soon
            end = self.handed + size
            if self.complete:
                end = min(end, len(self.planned))
            elif end >= len(self.planned):
                return
            if end <= self.handed:
                return
            group = self.planned[self.handed : end]
            self.handed = end
            self.groups += 1
            yield from self._transcribe(group)

    def _long_on_cpu(self) -> bool:
        """A long file (by its declared length, so that the groups depend on the file,
        never on timing) transcribed on a CPU."""
        info = self.engine.device_info
        return info is not None and info.device == "cpu" and self.declared >= LONG_MEDIA_S

    def _estimate(self) -> tuple[float, int]:
        """Audio seconds and chunks of the whole cut (estimated while it still grows)."""
        seconds = sum(c.audio_seconds for c in self.planned)
        if self.complete:
            return seconds or 1.0, len(self.planned)
        scale = max(1.0, self.declared / self.frontier) if self.frontier > 0 else 1.0
        return max(seconds * scale, 1e-9), max(len(self.planned), round(len(self.planned) * scale))

    def _bounds(self, chunk: Chunk) -> tuple[float, float]:
        """A chunk's cues stay between the midpoints to its neighbours, so cues of
        neighbouring chunks never overlap and each ``ChunkTranscribed`` is final."""
        i, planned = chunk.index, self.planned
        lo = 0.0 if i == 0 else (planned[i - 1].end + chunk.start) / 2
        if i + 1 < len(planned):
            return lo, (chunk.end + planned[i + 1].start) / 2
        return lo, self._media_duration()

    def _heard_parts(self, chunk: Chunk, decoded: Decoded) -> list[str] | None:
        """A packed chunk's text cut among its pieces where the model heard its tokens
        (:attr:`Decoded.heard`), or None: not packed, nothing recorded, a piece with
        speech that got no token, or attention that does not back the cut
        (:func:`~app.core.asr.gaze.heard_confidence` under its minimum)."""
        if not chunk.packed or not decoded.heard or len(decoded.heard) != len(decoded.ids):
            return None
        # where each piece ends in the model's audio, and the middle of each gap after it
        bounds, at = [], 0.0
        for a, b in chunk.spans[:-1]:
            at += b - a
            bounds.append(at + chunk.gap_s / 2)
            at += chunk.gap_s
        pieces = [bisect.bisect_left(bounds, t) for t in decoded.heard]
        for k in range(1, len(pieces)):  # the text runs forward through the pieces
            pieces[k] = max(pieces[k], pieces[k - 1])
        heard = set(pieces)
        for k, regions in enumerate(chunk.piece_regions()):
            if k not in heard and sum(r.end - r.start for r in regions) >= _HEARD_MIN_SPEECH_S:
                return None
        looks = decoded.gaze
        if looks is not None and len(looks) == len(pieces) and looks.shape[1] > 0:
            per_token = max(chunk.audio_seconds, 1e-9) / looks.shape[1]
            edges = [0, *(round(b / per_token) for b in bounds), looks.shape[1]]
            confidence = heard_confidence(looks, edges, pieces)
            if confidence < MIN_CONFIDENCE:
                log.info(
                    "Packed window at %.1f s: the model's attention does not say where its "
                    "words were (%.2f); its pieces are decoded one by one",
                    chunk.start,
                    confidence,
                )
                return None
        ends = self.engine.text_ends(decoded.ids)
        # after each piece, the end of the last token heard in it or before (pieces rise)
        last = [bisect.bisect_right(pieces, k) for k in range(len(bounds))]
        return cut_text(decoded.text, [ends[n - 1] if n else 0 for n in last])

    def _piece_texts(self, chunk: Chunk, decoded: Decoded) -> list[str]:
        """The text of each piece of a packed chunk, each decoded on its own: the window's
        attention (``decoded``) can't place its words."""
        audios = [chunk_audio(self.samples, self.sample_rate, p) for p in _pieces(chunk)]
        texts = [""] * len(audios)
        for index, result, _retried in self.engine.transcribe_decoded(audios, self.cancel):
            texts[index] = result.text
        return texts

    def _media_duration(self) -> float:
        if self.duration is not None:
            return self.duration
        return len(self.samples) / self.sample_rate

    def _transcribe(self, group: list[Chunk]) -> Iterator[Event]:
        if self.started is None:
            self.started = time.monotonic()
            self.done_before = sum(c.audio_seconds for c in self.planned if c.index in self.skip)
            self.done_seconds = self.done_before
            count = f" {len(self.planned)} chunks" if self.complete else ""
            yield StageChanged(Stage.TRANSCRIBING, f"Transcribing{count}")
        todo = [c for c in group if c.index not in self.skip]
        if not todo:
            return
        # Once this model is known not to place the words of packed windows, the pieces of
        # packed chunks still planned are decoded directly, as the chunks they were cut
        # into at pauses (the fallback's text, without the wasted packed pass).
        direct = self.engine.placement.verdict is False
        units: list[Chunk] = []  # what the engine decodes: chunks, or pieces of chunks
        owner: list[tuple[int, int | None]] = []  # (position in todo, piece or None)
        for position, chunk in enumerate(todo):
            if direct and chunk.packed:
                pieces = _pieces(chunk)
                units += pieces
                owner += [(position, k) for k in range(len(pieces))]
            else:
                units.append(chunk)
                owner.append((position, None))
        # While the producer decodes and detects speech, it has a core of its own: torch's
        # threads waiting on a busy core cost far more than they bring (benchmarks/README.md).
        self.engine.pin_threads(spare=self.producer_cores if self.producing else 0)
        audios = _ChunkAudio(self.samples, self.sample_rate, units)
        transcribed = self.engine.transcribe_decoded(
            audios,
            cancel=self.cancel,
            lengths=audios.lengths(),
            heard=any(u.packed for u in units),  # where packed text was heard, to cut it
        )
        piece_texts: dict[int, dict[int, str]] = {}
        piece_retried: dict[int, bool] = {}
        for index, decoded, retried in transcribed:
            _check(self.cancel)  # results of a finished batch are not reported after a cancel
            position, piece = owner[index]
            chunk = todo[position]
            if piece is not None:
                audios.release(index)
                texts = piece_texts.setdefault(position, {})
                texts[piece] = decoded.text
                piece_retried[position] = piece_retried.get(position, False) or retried
                if len(texts) < len(chunk.spans):
                    continue
                if self._unplaced_once():
                    yield Notice(UNPLACED_NOTICE)
                parts = [texts[k] for k in range(len(chunk.spans))]
                yield from self._finished(chunk, decoded.text, parts, piece_retried[position])
                continue
            parts = self._heard_parts(chunk, decoded)
            if chunk.packed and decoded.gaze is not None:
                known = self.engine.placement.verdict
                self.engine.placement.record(parts is not None)
                if known is not False and self.engine.placement.verdict is False:
                    yield Notice(PACKING_OFF_NOTICE)
                if parts is None:
                    # attention was recorded but can't place the words: no guessing by time
                    parts = self._piece_texts(chunk, decoded)
                    if self._unplaced_once():
                        yield Notice(UNPLACED_NOTICE)
            audios.release(index)
            yield from self._finished(chunk, decoded.text, parts, retried)
        if any(u.packed for u in units):
            self.engine.placement.save()

    def _unplaced_once(self) -> bool:
        """Count a packed window whose pieces were decoded one by one; True the first time."""
        self.unplaced += 1
        return self.unplaced == 1

    def _finished(
        self, chunk: Chunk, text: str, parts: list[str] | None, retried: bool
    ) -> Iterator[Event]:
        """The cues of a transcribed chunk (``parts``: its text cut among its pieces)."""
        if parts is None:
            text = convert_script(text, self.options.chinese)
        else:
            parts = [convert_script(part, self.options.chinese) for part in parts]
            text = join_texts(parts)
        lo, hi = self._bounds(chunk)
        segments = cues_for_pieces(
            text,
            chunk.piece_regions(),
            self.options.cues,
            media_duration=self._media_duration(),
            not_before=lo,
            not_after=hi,
            parts=parts,
        )
        if self.turns is not None:
            segments = assign_speakers(segments, self.turns, chunk.regions)
        self.per_chunk[chunk.index] = segments
        yield ChunkTranscribed(
            index=chunk.index,
            start=chunk.start,
            end=chunk.end,
            text=text,
            segments=tuple(segments),
            retried=retried,
        )
        if retried:
            yield Notice(f"Chunk at {chunk.start:.1f} s repeated itself and was decoded again")
        yield self._progress(chunk)

    def _progress(self, chunk: Chunk) -> Progress:
        self.done_seconds += chunk.audio_seconds
        total_seconds, total_chunks = self._estimate()
        done_before = self.done_before
        elapsed = time.monotonic() - (self.started or time.monotonic())
        run_fraction = (self.done_seconds - done_before) / max(1e-9, total_seconds - done_before)
        run_fraction = min(1.0, run_fraction)
        eta = elapsed / run_fraction * (1.0 - run_fraction) if run_fraction > 0 else None
        skipped = sum(1 for c in self.planned if c.index in self.skip)
        return Progress(
            fraction=min(1.0, self.done_seconds / total_seconds),
            chunks_done=skipped + len(self.per_chunk),
            chunks_total=total_chunks,
            elapsed_s=elapsed,
            eta_s=eta,
        )


def _import_model_runtime() -> None:
    """Import what loading the model will need (a failure shows when it loads)."""
    from app.core.asr.model_loader import import_runtime

    with contextlib.suppress(Exception):  # the loader reports it in its own words
        import_runtime()


def _produced(
    producer: SpeechStretches | ProcessStretches, cancel: _threading.Event | None
) -> Iterator[Item]:
    """The producer's items as they come, up to its last one; a cancel ends the wait."""
    while True:
        try:
            item = producer.items.get(timeout=0.1)
        except queue.Empty:
            _check(cancel)
            continue
        yield item
        if isinstance(item, Decoded | BaseException):
            return


def transcribe_file(
    path: str | Path,
    engine: Engine,
    options: PipelineOptions | None = None,
    cancel: _threading.Event | None = None,
    *,
    chunks: Sequence[Chunk] | None = None,
    skip: Collection[int] = (),
    extend: bool = False,
) -> Iterator[Event]:
    """Transcribe one media file. Ends with ``Finished(transcript)``.

    Decoding and speech detection run on a producer thread, stretch by stretch
    (:mod:`app.core.audio.stretches`). With ``options.pipeline`` the chunks of early
    stretches are transcribed while later ones are decoded, so that the first segments
    come soon; without it everything is decoded and searched first. Both give the same
    chunks, text and times. Speaker detection needs all the speech first, so it runs
    sequentially.

    ``chunks`` gives the chunk cut to use (``Chunk.index`` = position in the list) instead
    of detecting speech and cutting anew: a resumed job keeps its boundaries. Chunks whose
    index is in ``skip`` are not transcribed (they were stored before); the ``Finished``
    transcript then holds only the chunks transcribed in this run. ``extend``: ``chunks``
    may stop short of the end (a pipelined job stopped before its cut was complete):
    speech is detected again and the chunks after the last given one are added.

    Raises MediaError, ModelError or Cancelled with one-line messages.
    """
    options = options or PipelineOptions()
    speakers = parse_speakers(options.speakers)  # bad values fail before any work
    started = time.monotonic()
    path = Path(path)
    track = options.track if isinstance(options.track, int) else None
    info = probe(path, track=track)
    yield MediaOpened(path=str(path), duration=info.duration or 0.0, has_video=info.has_video)
    given = None if chunks is None else list(chunks)
    if given is not None and any(c.index != i for i, c in enumerate(given)):
        raise ValueError("chunks must be numbered by their position")
    run = _Transcription(path, engine, options, cancel, skip)
    run.declared = info.duration or 0.0
    pipelined = options.pipeline and given is None and speakers is False

    stop = AnyOf(cancel)
    producer = thread = importer = None
    items: Iterable[Item]
    if options.track == "auto" and len(info.tracks) > 1:
        audio, found = yield from _most_speech_track(path, info, options, cancel)
        run.samples, run.sample_rate = audio.samples, audio.sample_rate
        items = [Stretch(0.0, audio.duration, tuple(found)), Decoded(audio)]
    else:
        if options.track is None and len(info.tracks) > 1:
            yield Notice(track_notice(path, info))
        yield StageChanged(Stage.DECODING, f"Decoding {path.name}")
        in_process = options.producer == "process" or (
            options.producer == "auto"
            and stretch_process.SUPPORTED
            and (info.duration or 0.0) >= PROCESS_PRODUCER_S
        )
        detect = given is None or extend
        producer: SpeechStretches | ProcessStretches
        if in_process:
            apart = detect and default_threads() >= DETECTOR_PROCESS_CPUS
            producer = ProcessStretches(
                path, options.vad, track=track, channel=options.channel, stop=stop,
                detect=detect, detector=apart,
            )  # fmt: skip
            run.producer_cores = 2 if apart else 1
            if detect and not engine.loaded:
                # Nothing else runs Python in this process now: import the model's
                # libraries while the child starts, instead of after the first speech.
                importer = threading.Thread(target=_import_model_runtime, name="murmur-import")
                importer.start()
        else:
            producer = SpeechStretches(
                path, options.vad, track=track, channel=options.channel, stop=stop,
                detect=detect,
            )  # fmt: skip
        run.samples = producer.samples
        # Not a daemon, and always joined: the process must never exit while this
        # thread is inside torch or FFmpeg. A cancel or stop ends it at its next check.
        engine.hold_spare()

        def produce() -> None:
            try:
                producer.run()
            finally:
                engine.release_spare()  # the model's thread takes the core back

        thread = threading.Thread(target=produce, name="murmur-decode")
        thread.start()
        items = _produced(producer, cancel)
        run.producing = True
    try:
        yield from _consume(run, items, given, extend, pipelined, speakers)
    finally:
        if thread is not None:
            join_thread(thread, stop)
        if importer is not None:
            join_thread(importer, stop)
        if isinstance(producer, ProcessStretches):
            producer.close()
    _check(cancel)

    meta = TranscriptMeta(
        source=str(path),
        duration=run.duration or 0.0,
        model=engine.options.model,
        created=datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        speech_seconds=sum(r.end - r.start for c in run.planned for r in c.regions),
    )
    if engine.device_info is not None:
        meta.device = engine.device_info.label()
    if not run.planned:
        yield Notice(f"{path.name}: no speech found")
    ordered = [seg for i in sorted(run.per_chunk) for seg in run.per_chunk[i]]
    meta.processing_seconds = time.monotonic() - started
    if run.planned:
        yield StageChanged(Stage.DONE, "Done")
    speech = ((r.start, r.end) for c in run.planned for r in c.regions)
    yield Finished(Transcript(ordered, meta, speech=speech))


def _start_planner(run: _Transcription) -> Generator[Event, None, ChunkPlanner]:
    """Load the model (its window caps the chunk length), then a planner for the cut."""
    yield from load_engine(run.engine, run.cancel)
    chunk_options = run.options.chunks
    window = run.engine.window_seconds
    if window is not None and window < chunk_options.max_chunk_s:
        # the processor would split a longer chunk across windows: cut at pauses instead
        chunk_options = replace(chunk_options, max_chunk_s=window)
    pack = packs(chunk_options.pack, run.engine)
    if chunk_options.pack is True and not pack:
        yield Notice(PACKING_OFF_NOTICE)
    chunk_options = replace(chunk_options, pack=pack)
    return ChunkPlanner(chunk_options, samples=run.samples, sample_rate=run.sample_rate)


def packs(wanted: bool | None, engine: Engine) -> bool:
    """Whether to pack windows (``ChunkOptions.pack``: True, False or None for "auto").

    Auto packs wherever the decoder's attention is recorded to place each piece's words
    (:meth:`Engine.records_gaze`): on the CPU, where the encoder's whole window per chunk
    is most of the time (benchmarks/rtf.py: RTF 0.523 packed against 1.786 cut at
    pauses), and on a GPU, where an hour cut at pauses was 678 windows of a median 3.2 s
    and their encoder and features 45 % of the time on an H200 (benchmarks/README.md,
    "On a GPU"). Never packs with a model known not to place its words
    (:mod:`app.core.asr.placement`)."""
    if wanted is False or engine.placement.verdict is False:
        return False
    if wanted is True:
        return True
    return engine.records_gaze()


def _consume(
    run: _Transcription,
    items: Iterable[Item],
    given: list[Chunk] | None,
    extend: bool,
    pipelined: bool,
    speakers: int | bool | None,
) -> Iterator[Event]:
    """Plan and transcribe from the producer's items (see :func:`transcribe_file`)."""
    cancel = run.cancel
    held: list[Stretch] = []  # stretches not yet given to the planner
    regions: list[SpeechRegion] = []
    planner: ChunkPlanner | None = None
    restart = False

    def feed() -> Iterator[Event]:
        nonlocal restart
        assert planner is not None
        new: list[Chunk] = []
        for stretch in held:
            new += planner.add(stretch.regions, stretch.end)
        held.clear()
        yield from run.plan(new, restart=restart)
        restart = False

    for item in items:
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, Detecting):
            yield StageChanged(Stage.DETECTING_SPEECH, "Finding speech")
        elif isinstance(item, Restarted):
            # The whole file disagreed with the channel chosen from its first seconds, so
            # decoding started again: what was planned and transcribed is void.
            if run.planned:
                yield Notice(f"{run.path.name}: decoding again with another channel choice")
                restart = True
            held.clear()
            regions.clear()
            run.reset()
            planner = None
            pipelined = False
        elif isinstance(item, Stretch):
            held.append(item)
            regions += item.regions
            run.frontier = item.end
            if pipelined and regions:
                if planner is None:
                    planner = yield from _start_planner(run)
                yield from feed()
                yield from run.ready()
        elif isinstance(item, Decoded):
            run.producing = False
            audio = item.audio
            if audio.warning:
                yield Notice(audio.warning)
            if audio.channel_note:
                yield Notice(audio.channel_note)
            if audio.samples.size == 0:
                raise MediaError(f"{run.path.name}: no audio could be decoded")
            run.duration = audio.duration
            if run.options.waveform and run.options.track != "auto":
                track = run.options.track if isinstance(run.options.track, int) else None
                _keep_waveform(run.path, audio.samples, track, run.options.channel, cancel)
            _check(cancel)
            if given is not None:
                yield from _plan_given(run, given, held, extend)
                held.clear()
            elif regions:
                if planner is None:
                    planner = yield from _start_planner(run)
                yield from feed()
                yield from run.plan(planner.finish(), restart=restart)
            run.complete = True
            if given is None:
                run.turns = yield from _detect_speakers(
                    audio.samples, audio.sample_rate, regions, speakers, cancel
                )
            yield SpeechFound(
                regions=len(regions) if given is None else sum(len(c.regions) for c in given),
                speech_seconds=sum(r.end - r.start for c in run.planned for r in c.regions),
                chunks=len(run.planned),
                plan=tuple(run.planned),
            )
            yield from run.ready()


def _plan_given(
    run: _Transcription, given: list[Chunk], held: list[Stretch], extend: bool
) -> Iterator[Event]:
    """A stored chunk cut; with ``extend``, the chunks detected after its last one."""
    run.planned = list(given)
    if any(c.index not in run.skip for c in given):
        yield from load_engine(run.engine, run.cancel)
    if not extend:
        return
    if not any(stretch.regions for stretch in held):
        return
    planner = yield from _start_planner(run)
    whole = [c for s in held for c in planner.add(s.regions, s.end)] + planner.finish()
    after = given[-1].end if given else -math.inf
    more = [
        replace(c, index=len(given) + i)
        for i, c in enumerate(c for c in whole if c.start >= after - 1e-6)
    ]
    yield from run.plan(more)
