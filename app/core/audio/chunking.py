"""Cut detected speech into chunks the model can take (at most 30 s), at pauses.

Every chunk keeps its exact place in the media: absolute start/end and the
speech regions inside it. Rules:

* a chunk never spans a pause longer than ``max_pause_s``;
* regions separated by shorter pauses are merged, up to ``max_chunk_s``;
  where a run of such regions must be cut, the cuts give the fewest chunks and,
  among those, fall on the longest pauses;
* a single region longer than ``max_chunk_s`` is split at its quietest point
  near the end of the allowed span (from the samples' short-time energy), or
  evenly when no samples are given;
* chunk bounds are the bounds of their regions (which carry the VAD padding as
  context), so chunks are sorted and never overlap.

Packing (``ChunkOptions.pack``): the encoder pays for a whole window however
little speech it holds, so short chunks separated by long pauses are packed
into one window. The chunks above become the *pieces* of a packed chunk; the
model hears the pieces laid end to end with ``pack_gap_s`` of silence between
them (the long pauses are left out), up to ``pack_fill`` of ``max_chunk_s``; a chunk
that does not fit whole may leave its head, cut at one of its pauses of at least
``pack_split_pause_s``, to fill the window, and its rest opens the next. A packed
chunk's ``start``/``end`` still span its speech in the media, and its
``pieces`` say where each piece lies, so its text can be shared among them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.core.audio.vad import SpeechRegion, clean_regions

# Where to look for the quietest point of an over-long region: the last
# fraction of the allowed span.
_SPLIT_SEARCH_FRACTION = 0.35
_ENERGY_FRAME_S = 0.025
_ENERGY_HOP_S = 0.010
_ENERGY_SMOOTH_S = 0.1
_EPS = 1e-9
# A group's head left in a packed window when the rest opens the next is at least this long.
_PACK_MIN_HEAD_S = 1.0


@dataclass(frozen=True)
class Chunk:
    index: int
    start: float
    end: float
    regions: tuple[SpeechRegion, ...]  # speech inside the chunk, absolute times
    # Packed chunks: the media spans the model hears, in order, with ``gap_s`` of
    # silence between them. Empty for a plain chunk (the one span start..end).
    pieces: tuple[tuple[float, float], ...] = ()
    gap_s: float = 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def spans(self) -> tuple[tuple[float, float], ...]:
        """The media spans the model hears, in order."""
        return self.pieces or ((self.start, self.end),)

    @property
    def audio_seconds(self) -> float:
        """Length of the audio handed to the model (pieces plus the gaps between them)."""
        spans = self.spans
        return sum(b - a for a, b in spans) + self.gap_s * (len(spans) - 1)

    @property
    def packed(self) -> bool:
        return len(self.pieces) > 1

    def piece_regions(self) -> list[tuple[SpeechRegion, ...]]:
        """The speech regions of each piece (one group for a plain chunk)."""
        return [
            tuple(r for r in self.regions if a - _EPS <= r.start and r.end <= b + _EPS)
            for a, b in self.spans
        ]

    @property
    def speech_seconds(self) -> float:
        return sum(r.end - r.start for r in self.regions)


@dataclass(frozen=True)
class ChunkOptions:
    max_chunk_s: float = 30.0
    max_pause_s: float = 1.0  # never merge across a pause longer than this
    # Pack chunks separated by longer pauses into one window (see the module doc): on
    # benchmarks/rtf.py's 5 minutes, 13 encoder windows instead of 53, RTF 0.523 instead
    # of 1.786 on this CPU. The text is cut among the pieces where the model heard it (or,
    # where its attention does not say, each piece is decoded alone). With the listener,
    # 97.6-98.5 % of the onsets stay within 0.3 s against 98.5-99.4 % cutting at pauses
    # (benchmarks/README.md). None = auto: the pipeline packs on the CPU, where windows
    # are dear and the attention is recorded, unless the model is known not to place its
    # words (app.core.pipeline.packs); make_chunks and ChunkPlanner take None as False.
    pack: bool | None = False
    pack_gap_s: float = 0.5  # silence between packed pieces in the model's audio
    # A packed window's audio fills at most this share of ``max_chunk_s``. With the
    # listener (three sets of 30-60 held-out tracks), full windows had 3.8-4.5 % WER,
    # windows filled to 75 % 1.2-1.5 %, cutting at pauses 1.7-1.8 %; on the CPU the
    # 5-minute file took 14 windows instead of 10 (RTF 0.596 against 0.503).
    pack_fill: float = 0.75
    # A packed window is topped up with the head of the next chunk, cut at one of its
    # pauses of at least this much (inf: never). See benchmarks/README.md.
    pack_split_pause_s: float = 0.5


def _short_time_energy(
    samples: np.ndarray, sample_rate: int, start: float, end: float
) -> tuple[np.ndarray, float]:
    """Smoothed frame energies (dB) over [start, end) and the time of frame centre 0."""
    frame = max(1, round(_ENERGY_FRAME_S * sample_rate))
    hop = max(1, round(_ENERGY_HOP_S * sample_rate))
    a = max(0, round(start * sample_rate))
    b = min(len(samples), round(end * sample_rate))
    seg = np.asarray(samples[a:b], dtype=np.float32)
    if len(seg) < frame:
        return np.zeros(0), start
    count = 1 + (len(seg) - frame) // hop
    frames = np.lib.stride_tricks.sliding_window_view(seg, frame)[::hop][:count]
    energy = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / frame
    smooth = max(1, round(_ENERGY_SMOOTH_S / _ENERGY_HOP_S))
    if smooth > 1 and len(energy) >= smooth:
        energy = np.convolve(energy, np.ones(smooth) / smooth, mode="same")
    return 10 * np.log10(energy + 1e-12), a / sample_rate + frame / (2 * sample_rate)


def _quietest_cut(samples: np.ndarray, sample_rate: int, lo: float, hi: float) -> float | None:
    """Time of the quietest point in [lo, hi]; ties go to the later point."""
    db, t0 = _short_time_energy(samples, sample_rate, lo, hi)
    if db.size == 0:
        return None
    # Reverse so that argmin picks the latest of equal minima.
    i = db.size - 1 - int(np.argmin(db[::-1]))
    return float(min(hi, max(lo, t0 + i * _ENERGY_HOP_S)))


def split_long_region(
    region: SpeechRegion,
    max_s: float,
    samples: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> list[SpeechRegion]:
    """Pieces of ``region``, each at most ``max_s`` long, adjacent to each other."""
    if region.end - region.start <= max_s + _EPS:
        return [region]
    if samples is None or len(samples) == 0:
        count = math.ceil((region.end - region.start) / max_s - _EPS)
        step = (region.end - region.start) / count
        bounds = [region.start + k * step for k in range(count)] + [region.end]
        return [SpeechRegion(a, b) for a, b in itertools.pairwise(bounds)]
    pieces: list[SpeechRegion] = []
    start = region.start
    while region.end - start > max_s + _EPS:
        hi = start + max_s
        lo = start + max_s * (1.0 - _SPLIT_SEARCH_FRACTION)
        cut = _quietest_cut(samples, sample_rate, lo, hi)
        if cut is None or cut <= start + _EPS:
            cut = hi
        pieces.append(SpeechRegion(start, cut))
        start = cut
    pieces.append(SpeechRegion(start, region.end))
    return pieces


def _cut_run(run: Sequence[SpeechRegion], max_s: float) -> list[list[SpeechRegion]]:
    """Group a run of regions (all pauses short) into the fewest chunks of at most
    ``max_s``; among equal counts, cut at the longest pauses."""
    n = len(run)
    # best[i]: (chunks, -pause total at cuts) for run[:i]; prev[i]: start of the last group.
    best: list[tuple[int, float]] = [(0, 0.0)] + [(n + 1, 0.0)] * n
    prev = [0] * (n + 1)
    for i in range(1, n + 1):
        end = run[i - 1].end
        for j in range(i - 1, -1, -1):
            if end - run[j].start > max_s + _EPS:
                break
            pause = run[j].start - run[j - 1].end if j > 0 else 0.0
            cand = (best[j][0] + 1, best[j][1] - pause)
            if cand < best[i]:
                best[i] = cand
                prev[i] = j
    groups: list[list[SpeechRegion]] = []
    i = n
    while i > 0:
        j = prev[i]
        groups.append(list(run[j:i]))
        i = j
    groups.reverse()
    return groups


def make_chunks(
    regions: Sequence[SpeechRegion],
    options: ChunkOptions = ChunkOptions(),
    media_duration: float | None = None,
    *,
    samples: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> list[Chunk]:
    """Chunks of speech, in order, each at most ``options.max_chunk_s`` long.

    ``samples`` (mono at ``sample_rate``, optional) lets an over-long region be
    split at its quietest point instead of evenly.
    """
    if options.max_chunk_s <= 0:
        raise ValueError("max_chunk_s must be positive")
    if media_duration is None:
        media_duration = max((r.end for r in regions), default=0.0)
        if samples is not None:
            media_duration = max(media_duration, len(samples) / sample_rate)
    cleaned = clean_regions(list(regions), media_duration)
    pieces: list[SpeechRegion] = []
    for r in cleaned:
        pieces.extend(split_long_region(r, options.max_chunk_s, samples, sample_rate))

    runs: list[list[SpeechRegion]] = []
    for r in pieces:
        if runs and r.start - runs[-1][-1].end <= options.max_pause_s + _EPS:
            runs[-1].append(r)
        else:
            runs.append([r])

    groups = [group for run in runs for group in _cut_run(run, options.max_chunk_s)]
    if options.pack:
        return _pack(groups, _pack_limit(options), options.pack_gap_s, options.pack_split_pause_s)
    return [
        Chunk(index=i, start=g[0].start, end=g[-1].end, regions=tuple(g))
        for i, g in enumerate(groups)
    ]


class ChunkPlanner:
    """:func:`make_chunks` fed a stretch at a time, handing out chunks once they are final.

    Speech is detected stretch after stretch while the model already works on the chunks
    of earlier stretches. :meth:`add` takes the regions of the next stretch (sorted, all
    at or after the previous stretch's end) and the time up to which detection is done;
    it returns the chunks that later regions can no longer change: those of runs of
    speech that end more than ``max_pause_s`` before that time (a later region can't join
    them) and, when packing, every packed window but the last (the greedy packing may
    still add to it). :meth:`finish` returns the rest. All chunks together, in order, are
    exactly ``make_chunks`` of all the regions.
    """

    def __init__(
        self,
        options: ChunkOptions = ChunkOptions(),
        *,
        samples: np.ndarray | None = None,
        sample_rate: int = 16000,
    ) -> None:
        if options.max_chunk_s <= 0:
            raise ValueError("max_chunk_s must be positive")
        self.options = options
        self.samples = samples
        self.sample_rate = sample_rate
        self._open: list[SpeechRegion] = []  # regions of runs that may still grow
        self._groups: list[list[SpeechRegion]] = []  # packing: groups of the open window
        self.planned = 0  # chunks handed out so far

    def add(self, regions: Sequence[SpeechRegion], done_until: float) -> list[Chunk]:
        """Regions of the next stretch; detection is complete up to ``done_until``."""
        self._open.extend(regions)
        runs = self._runs()
        if runs and done_until - runs[-1][-1].end <= self.options.max_pause_s + _EPS:
            last = runs.pop()  # a region after done_until may still join it
            self._open = [r for r in self._open if r.start >= last[0].start - _EPS]
        else:
            self._open = []
        return self._plan(runs, final=False)

    def finish(self) -> list[Chunk]:
        """The remaining chunks (detection is over)."""
        runs = self._runs()
        self._open = []
        return self._plan(runs, final=True)

    def _runs(self) -> list[list[SpeechRegion]]:
        """The open regions split into pieces of at most ``max_chunk_s`` and grouped into
        runs (as in :func:`make_chunks`)."""
        runs: list[list[SpeechRegion]] = []
        for region in self._open:
            if runs and region.start - runs[-1][-1].end <= self.options.max_pause_s + _EPS:
                runs[-1].append(region)
            else:
                runs.append([region])
        return runs

    def _plan(self, runs: list[list[SpeechRegion]], final: bool) -> list[Chunk]:
        max_s = self.options.max_chunk_s
        groups = []
        for run in runs:
            pieces = [
                p for r in run for p in split_long_region(r, max_s, self.samples, self.sample_rate)
            ]
            groups.extend(_cut_run(pieces, max_s))
        if self.options.pack:
            self._groups.extend(groups)
            options = self.options
            chunks = _pack(
                self._groups, _pack_limit(options), options.pack_gap_s, options.pack_split_pause_s
            )
            if not final and chunks:
                open_window = chunks.pop()  # the greedy packing may still add to it
                # its pieces: whole groups, or the rest of one whose head filled the window before
                self._groups = [list(regions) for regions in open_window.piece_regions()]
            else:
                self._groups = []
        else:
            chunks = [
                Chunk(index=0, start=g[0].start, end=g[-1].end, regions=tuple(g)) for g in groups
            ]
        out = [replace(c, index=self.planned + i) for i, c in enumerate(chunks)]
        self.planned += len(out)
        return out


def _pack_limit(options: ChunkOptions) -> float:
    """The most audio a packed window holds (a single group longer than this, up to
    ``max_chunk_s``, still gets a window of its own)."""
    return options.max_chunk_s * min(1.0, max(0.0, options.pack_fill))


def _pack(
    groups: list[list[SpeechRegion]], max_s: float, gap_s: float, split_pause_s: float
) -> list[Chunk]:
    """Consecutive groups packed greedily into chunks of at most ``max_s`` of audio.

    A group that does not fit the open window whole may leave its head there, cut at a
    pause of at least ``split_pause_s`` (the longest head that fits, of at least
    ``_PACK_MIN_HEAD_S``); the rest opens the next window. Greedy filling with these cut
    points gives the fewest windows."""
    packs: list[list[list[SpeechRegion]]] = []
    length = 0.0
    for group in groups:
        rest = group
        if packs:
            room = max_s - length - gap_s
            if rest[-1].end - rest[0].start <= room + _EPS:
                packs[-1].append(rest)
                length += gap_s + rest[-1].end - rest[0].start
                continue
            head = _head_that_fits(rest, room, split_pause_s)
            if head:
                packs[-1].append(rest[:head])
                rest = rest[head:]
        packs.append([rest])
        length = rest[-1].end - rest[0].start
    chunks = []
    for i, pack in enumerate(packs):
        pieces = tuple((g[0].start, g[-1].end) for g in pack) if len(pack) > 1 else ()
        chunks.append(
            Chunk(
                index=i,
                start=pack[0][0].start,
                end=pack[-1][-1].end,
                regions=tuple(r for g in pack for r in g),
                pieces=pieces,
                gap_s=gap_s if pieces else 0.0,
            )
        )
    return chunks


def _head_that_fits(group: list[SpeechRegion], room: float, split_pause_s: float) -> int:
    """How many of ``group``'s regions, cut at a long enough pause, fill ``room`` best (0:
    none)."""
    for k in range(len(group) - 1, 0, -1):
        span = group[k - 1].end - group[0].start
        if (
            span <= room + _EPS
            and span >= _PACK_MIN_HEAD_S
            and group[k].start - group[k - 1].end >= split_pause_s - _EPS
        ):
            return k
    return 0


def chunk_audio(samples: np.ndarray, sample_rate: int, chunk: Chunk) -> np.ndarray:
    """The samples of ``chunk``: a view into ``samples`` for a plain chunk; for a packed
    one, its pieces joined with ``chunk.gap_s`` of silence between them (a copy)."""
    views = []
    for start, end in chunk.spans:
        a = max(0, round(start * sample_rate))
        b = min(len(samples), round(end * sample_rate))
        views.append(samples[a : max(a, b)])
    if len(views) == 1:
        return views[0]
    gap = np.zeros(round(chunk.gap_s * sample_rate), dtype=np.float32)
    parts = [views[0]]
    for view in views[1:]:
        parts += [gap, view]
    return np.concatenate(parts).astype(np.float32, copy=False)
