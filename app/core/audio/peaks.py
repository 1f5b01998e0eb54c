"""Waveform peaks for the editor's timeline: min/max per bucket at several zoom levels.

A :class:`Peaks` pyramid is built once per media file from its decoded 16 kHz mono
audio, in one vectorised pass over the samples (block by block, so a memory-mapped
3-hour decode is never copied whole), and cached on disk under
``data_dir()/waveforms`` (``MURMUR_DATA_DIR`` in tests), keyed by the media's path,
size and modification time. Reopening the file loads the cache (milliseconds).

Level 0 holds the min and max of each ``base`` samples (256 at 16 kHz: 16 ms);
each next level is ``factor`` times coarser and is built from the level below it,
so every level is the exact min/max of the samples its buckets cover. With the
default ``factor`` of 2, :meth:`Peaks.level_for` finds, for any zoom, a level whose
buckets are between half a pixel column and one column wide: painting a frame reads
at most two buckets per column and never the samples.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.atomic import write_bytes_atomic
from app.core.errors import Cancelled

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
BASE_BUCKET = 256  # samples per level-0 bucket (16 ms at 16 kHz)
LEVEL_FACTOR = 2  # each level is this many times coarser than the one below
TOP_BUCKETS = 256  # stop adding levels once one has at most this many buckets
BLOCK_BUCKETS = 8192  # level-0 buckets computed per block of samples (2 M samples)
CACHE_VERSION = 1
CACHE_FOLDER = "waveforms"
CACHE_LIMIT_BYTES = 512 * 1024 * 1024  # oldest waveforms are removed past this


@dataclass(frozen=True, eq=False)
class Peaks:
    """Min/max pyramid of one audio track.

    ``levels[k]`` is a float32 array of shape ``(2, n_k)``: row 0 the minimum and
    row 1 the maximum of the samples in each bucket of ``base * factor**k`` samples
    (the last bucket of a level may cover fewer).
    """

    sample_rate: int
    base: int
    factor: int
    n_samples: int
    levels: tuple[np.ndarray, ...]
    from_cache: bool = False

    @property
    def duration(self) -> float:
        return self.n_samples / self.sample_rate

    @property
    def peak(self) -> float:
        """The largest absolute sample value (0.0 for silence)."""
        top = self.levels[-1]
        if top.shape[1] == 0:
            return 0.0
        return float(max(-top[0].min(), top[1].max(), 0.0))

    def bucket_samples(self, level: int) -> int:
        return self.base * self.factor**level

    def bucket_seconds(self, level: int) -> float:
        return self.bucket_samples(level) / self.sample_rate

    def level_for(self, seconds_per_px: float, max_per_px: float = 2.0) -> int:
        """The finest level with at most ``max_per_px`` buckets per pixel column."""
        for level in range(len(self.levels)):
            if seconds_per_px / self.bucket_seconds(level) <= max_per_px:
                return level
        return len(self.levels) - 1

    def columns(
        self, start: float, seconds_per_px: float, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Min and max for each of ``width`` pixel columns from ``start`` (s).

        Column ``i`` covers ``[start + i*spp, start + (i+1)*spp)``. Every bucket of the
        chosen level goes to the column it starts in; a column narrower than a bucket
        shows the bucket it lies in. Columns outside the audio are NaN.
        """
        mins = np.full(width, np.nan, dtype=np.float32)
        maxs = np.full(width, np.nan, dtype=np.float32)
        if width <= 0 or seconds_per_px <= 0 or self.n_samples == 0:
            return mins, maxs
        level = self.level_for(seconds_per_px)
        data = self.levels[level]
        count = data.shape[1]
        bucket = self.bucket_seconds(level)
        edges = start + np.arange(width + 1, dtype=np.float64) * seconds_per_px
        valid = (edges[1:] > 0.0) & (edges[:-1] < self.duration)
        if not valid.any():
            return mins, maxs
        first = np.clip(np.floor(edges[:-1] / bucket), 0, count - 1).astype(np.intp)
        cols = np.flatnonzero(valid)
        lo, hi = cols[0], cols[-1] + 1
        starts = first[lo:hi]
        mins[lo:hi] = np.minimum.reduceat(data[0], starts)
        maxs[lo:hi] = np.maximum.reduceat(data[1], starts)
        # reduceat gives the last column every bucket to the end of the level: limit it
        # to the buckets that start inside it.
        end_bucket = min(count, max(math.ceil(edges[hi] / bucket), int(starts[-1]) + 1))
        mins[hi - 1] = data[0, starts[-1] : end_bucket].min()
        maxs[hi - 1] = data[1, starts[-1] : end_bucket].max()
        return mins, maxs


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _coarser(level: np.ndarray, factor: int) -> np.ndarray:
    """The next level up: min of mins and max of maxes over ``factor`` buckets."""
    n = level.shape[1]
    groups = -(-n // factor)
    pad = groups * factor - n
    lows = np.concatenate([level[0], np.full(pad, np.inf, np.float32)]).reshape(groups, factor)
    highs = np.concatenate([level[1], np.full(pad, -np.inf, np.float32)]).reshape(groups, factor)
    return np.stack([lows.min(axis=1), highs.max(axis=1)])


def compute_peaks(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    base: int = BASE_BUCKET,
    factor: int = LEVEL_FACTOR,
    top_buckets: int = TOP_BUCKETS,
    block_buckets: int = BLOCK_BUCKETS,
    cancel: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> Peaks:
    """Build the pyramid from mono samples (an array or a read-only memory map).

    The samples are read once, a block of ``base * block_buckets`` at a time; pages
    of a memory map are handed back after each block (``release_samples``).
    """
    from app.core.audio.media import release_samples

    if base < 1 or factor < 2:
        raise ValueError("base must be >= 1 and factor >= 2")
    n = len(samples)
    count = -(-n // base)
    level0 = np.empty((2, count), dtype=np.float32)
    step = base * block_buckets
    for pos in range(0, n, step):
        _check(cancel)
        block = np.asarray(samples[pos : pos + step], dtype=np.float32)
        full = len(block) // base
        first = pos // base
        if full:
            shaped = block[: full * base].reshape(full, base)
            shaped.min(axis=1, out=level0[0, first : first + full])
            shaped.max(axis=1, out=level0[1, first : first + full])
        if len(block) > full * base:  # the last, shorter bucket
            tail = block[full * base :]
            level0[0, first + full] = tail.min()
            level0[1, first + full] = tail.max()
        release_samples(samples, pos, pos + len(block))
        if progress is not None:
            progress(min(1.0, (pos + len(block)) / n))
    levels = [level0]
    while levels[-1].shape[1] > top_buckets:
        levels.append(_coarser(levels[-1], factor))
    return Peaks(sample_rate, base, factor, n, tuple(levels))


# -- the cache on disk ---------------------------------------------------------------------------
def cache_dir() -> Path:
    from app.core.settings import data_dir

    return data_dir() / CACHE_FOLDER


def cache_key(
    path: str | os.PathLike[str],
    *,
    track: int | None = None,
    channel: str = "auto",
    base: int = BASE_BUCKET,
    factor: int = LEVEL_FACTOR,
) -> str:
    """A name for the waveform of this file as it is now (path, size, modification time)."""
    p = Path(path).resolve()
    st = p.stat()
    ident = "\0".join(
        str(part)
        for part in (CACHE_VERSION, p, st.st_size, st.st_mtime_ns, track, channel, base, factor)
    )
    return hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def cache_path(path: str | os.PathLike[str], **key: object) -> Path:
    return cache_dir() / f"{cache_key(path, **key)}.npz"  # type: ignore[arg-type]


def save_peaks(peaks: Peaks, target: Path) -> Path:
    """Write ``peaks`` as one .npz, atomically."""
    buffer = io.BytesIO()
    header = np.array(
        [CACHE_VERSION, peaks.sample_rate, peaks.base, peaks.factor, peaks.n_samples],
        dtype=np.int64,
    )
    arrays = {f"level{i}": level for i, level in enumerate(peaks.levels)}
    np.savez(buffer, header=header, **arrays)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes_atomic(target, buffer.getvalue(), fsync=False)


def load_peaks(source: Path) -> Peaks | None:
    """The peaks stored in ``source``; None when it is missing, damaged or from another version."""
    try:
        with np.load(source, allow_pickle=False) as data:
            header = data["header"]
            version, rate, base, factor, n = (int(v) for v in header)
            if version != CACHE_VERSION:
                return None
            levels = []
            while f"level{len(levels)}" in data:
                level = np.ascontiguousarray(data[f"level{len(levels)}"], dtype=np.float32)
                levels.append(level)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("waveform cache %s is unreadable (%s); rebuilding it", source.name, exc)
        return None
    if not levels or levels[0].ndim != 2 or levels[0].shape != (2, -(-n // base)):
        return None
    return Peaks(rate, base, factor, n, tuple(levels), from_cache=True)


def _prune(folder: Path, keep: Path, limit: int = CACHE_LIMIT_BYTES) -> None:
    """Remove the least recently used waveforms while the folder is over ``limit``."""
    try:
        entries = [(e.stat().st_mtime, e.stat().st_size, e) for e in folder.glob("*.npz")]
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, entry in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if entry == keep:
            continue
        try:
            entry.unlink()
            total -= size
        except OSError:
            continue


def media_peaks(
    path: str | os.PathLike[str],
    *,
    track: int | None = None,
    channel: str = "auto",
    cancel: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
    use_cache: bool = True,
) -> Peaks:
    """The waveform of ``path``: from the cache, else decoded, computed and cached.

    Raises :class:`~app.core.errors.MediaError` when the file can't be decoded and
    :class:`Cancelled` when ``cancel`` is set. A cache that can't be written is only
    logged: the peaks are still returned.
    """
    from app.core.audio.media import decode_audio

    target = cache_path(path, track=track, channel=channel) if use_cache else None
    if target is not None:
        cached = load_peaks(target)
        if cached is not None:
            with contextlib.suppress(OSError):
                os.utime(target)  # recently used: pruned last
            return cached

    def decode_progress(fraction: float) -> None:
        if progress is not None:
            progress(0.9 * fraction)

    audio = decode_audio(
        path, cancel=cancel, progress=decode_progress, track=track, channel=channel
    )
    peaks = compute_peaks(
        audio.samples,
        audio.sample_rate,
        cancel=cancel,
        progress=None if progress is None else lambda f: progress(0.9 + 0.1 * f),
    )
    del audio
    if target is not None:
        try:
            save_peaks(peaks, target)
            _prune(target.parent, target)
        except OSError as exc:
            log.warning("waveform cache not written (%s)", exc)
    return peaks
