"""Read the audio of any media file as 16 kHz mono float32.

PyAV (FFmpeg in its wheel) opens the container, the first audio stream is
decoded packet by packet, mixed to mono and resampled *while streaming* to
float32 at the target rate, and the blocks are appended to a buffer
preallocated from the declared duration. The source stream (e.g. 48 kHz
stereo) is never held in memory. Plain WAV/FLAC files that are already at the
target rate are read with soundfile, which is faster.

A file may hold several audio tracks (:func:`probe` lists them as
:class:`AudioTrack`); the one the container flags as default is read unless
another is asked for. Channels are mixed here at the source rate, before
FFmpeg resamples the one mono channel (:class:`_ChannelMixer`), so that a mix
whose channels cancel (one of them phase-inverted) is noticed and the
strongest channel used instead, and so that 5.1 keeps its centre channel,
where the dialogue is, at full level.

Errors in a packet or frame are caught one by one, so a damaged or cut-short
file gives everything that decoded before the damage, flagged ``truncated``
with a one-line warning. Files that can't be read at all raise
:class:`~app.core.errors.MediaError` with ``"<file name>: <reason>"``.
"""

from __future__ import annotations

import math
import mmap
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.audio.blas import one_blas_thread
from app.core.errors import Cancelled, MediaError

SAMPLE_RATE = 16000

# Formats that soundfile reads directly (when the rate already matches).
_SOUNDFILE_SUFFIXES = frozenset({".wav", ".flac"})
# How far the decoded length may fall short of the declared duration before
# the file is reported as cut short (codec delay, rounding in headers).
_SHORT_TOLERANCE_S = 0.5
_SHORT_TOLERANCE_FRACTION = 0.01
# When only the container's duration is known and there is video, the video
# may run on past the audio, so allow more.
_SHORT_TOLERANCE_VIDEO_S = 2.0
_SHORT_TOLERANCE_VIDEO_FRACTION = 0.05
# A gap in frame timestamps longer than this is filled with silence so that
# later audio keeps its place in time (a skipped corrupt packet, a hole).
_GAP_FILL_S = 0.05
_MAX_GAP_FILL_S = 30.0
# Give up when this many packets in a row fail before anything decoded.
_MAX_LEADING_ERRORS = 200
_CANCEL_CHECK_PACKETS = 64
_MAX_PREALLOCATE_S = 12 * 3600.0
# Decoded frames (1,152 samples each in MP3) are gathered into blocks of about this many
# source samples, then mixed to mono and resampled a block at a time: FFmpeg's resampler
# then runs on one channel instead of every channel, as ``ffmpeg -ac 1`` does.
_NATIVE_BLOCK = 1 << 16
# Longer audio is kept in a memory-mapped temporary file, not in RAM (20 min).
_SPILL_SAMPLES = 20 * 60 * SAMPLE_RATE
_SPILL_WRITE_SAMPLES = 1 << 20  # write to the file in blocks of about 4 MB

CHANNEL_CHOICES = ("auto", "mix", "left", "right")
# The phase check looks at the first this many seconds of the stream, decides,
# then streams on; the whole file's figures are kept as it goes, and only when
# they disagree with that early decision is the file decoded a second time.
_PHASE_CHECK_S = 30.0
# The mix "loses most of the energy" when it keeps less than this share of the
# energy it would have if its channels were in phase (-10 dB).
_CANCEL_RATIO = 0.1
# Below this mean square (-60 dBFS) a stretch is too quiet to judge.
_SIGNAL_FLOOR = 1e-6
# Down-mix weights by channel name: the centre (dialogue) at full level, the
# front pair as in stereo ((L + R) / 2), surrounds at -9 dB, LFE left out.
_FRONT = frozenset({"FL", "FR", "DL", "DR", "FLC", "FRC"})
_NAMED_CHANNELS = {"FL": "left", "FR": "right", "FC": "centre"}


@dataclass(frozen=True)
class AudioTrack:
    """One audio stream of a media file, as :func:`probe` reports it."""

    index: int  # 1-based among the file's audio tracks (what --audio-track takes)
    stream_index: int  # the container's stream number
    codec: str
    channels: int
    layout: str  # "stereo", "5.1", ...
    sample_rate: int
    language: str  # "" when the container says nothing
    title: str
    default: bool  # flagged as the default track by the container

    def describe(self) -> str:
        """``track 2 (eng, opus, stereo, "Commentary", default)``."""
        parts = [self.language, self.codec, self.layout or f"{self.channels} ch"]
        if self.title:
            parts.append(f'"{self.title}"')
        if self.default:
            parts.append("default")
        return f"track {self.index} ({', '.join(p for p in parts if p)})"


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration: float | None  # declared by the container; None if unknown
    has_video: bool
    codec: str  # audio codec name
    sample_rate: int  # of the source audio stream
    channels: int
    tracks: tuple[AudioTrack, ...] = ()  # every audio track of the file
    track: int = 1  # the 1-based track these figures (and the decoded audio) are of


def default_track(tracks: tuple[AudioTrack, ...] | list[AudioTrack]) -> int:
    """The track the container flags as default, else the first (1-based)."""
    return next((t.index for t in tracks if t.default), 1)


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 mono at sample_rate
    sample_rate: int
    info: MediaInfo
    truncated: bool  # decoding stopped early (file cut short / corrupt tail)
    warning: str | None  # one line for the user when something was wrong
    channel_note: str | None = None  # one line when a single channel was used instead of the mix

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def format_duration(seconds: float) -> str:
    """``"6.4 s"`` under a minute, else ``"m:ss"`` or ``"h:mm:ss"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _error(path: Path, reason: str) -> MediaError:
    return MediaError(f"{path.name}: {reason}")


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc) or type(exc).__name__
    return " ".join(text.split())


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.name:
        raise MediaError(f"{path}: not a file")
    if not p.exists():
        raise _error(p, "file not found")
    if p.is_dir():
        raise _error(p, "is a folder, not a media file")
    if not p.is_file():
        raise _error(p, "not a regular file")
    try:
        size = p.stat().st_size
        with p.open("rb") as f:
            f.read(1)
    except PermissionError:
        raise _error(p, "permission denied") from None
    except OSError as exc:
        raise _error(p, f"can't read the file ({_one_line(exc)})") from None
    if size == 0:
        raise _error(p, "the file is empty")
    return p


def _open_container(p: Path) -> Any:
    import av

    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.FFmpegError as exc:
        if isinstance(exc, av.error.PermissionError):
            raise _error(p, "permission denied") from None
        raise _error(p, "not a media file, or damaged, or in a format that can't be read") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise _error(p, f"can't open the file ({_one_line(exc)})") from None


def _is_real_video(stream: Any) -> bool:
    """A video stream that is not just cover art (attached picture)."""
    import av

    if stream.type != "video":
        return False
    try:
        return not bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return True


def _audio_stream(container: Any, p: Path, track: int | None = None) -> Any:
    """The audio stream to read: ``track`` (1-based), by default the default track."""
    streams = list(container.streams.audio)
    if not streams:
        if any(_is_real_video(s) for s in container.streams):
            raise _error(p, "no audio track (the video has no sound)")
        raise _error(p, "no audio stream")
    if track is None:
        track = default_track(_tracks(streams))
    if not 1 <= track <= len(streams):
        count = f"{len(streams)} audio track{'s' if len(streams) != 1 else ''}"
        raise _error(p, f"there is no audio track {track}; the file has {count}")
    return streams[track - 1]


def _tracks(streams: list[Any]) -> tuple[AudioTrack, ...]:
    import av

    tracks = []
    for number, stream in enumerate(streams, start=1):
        ctx = stream.codec_context
        metadata = dict(stream.metadata or {})
        try:
            default = bool(stream.disposition & av.stream.Disposition.default)
        except (AttributeError, TypeError):
            default = False
        language = getattr(stream, "language", None) or metadata.get("language") or ""
        layout = ctx.layout.name if ctx.layout is not None else ""
        tracks.append(
            AudioTrack(
                index=number,
                stream_index=int(stream.index),
                codec=str(ctx.name or "unknown"),
                channels=_channel_count(ctx),
                layout=layout,
                sample_rate=int(ctx.sample_rate or stream.sample_rate or 0),
                language="" if language == "und" else str(language),
                title=str(metadata.get("title") or ""),
                default=default,
            )
        )
    return tuple(tracks)


def _channel_count(ctx: Any) -> int:
    channels = int(getattr(ctx, "channels", 0) or 0)
    if not channels and ctx.layout is not None:
        channels = len(ctx.layout.channels)
    return channels


def _declared_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return None


def _info(container: Any, stream: Any, p: Path) -> MediaInfo:
    ctx = stream.codec_context
    streams = list(container.streams.audio)
    tracks = _tracks(streams)
    track = next((t.index for t in tracks if t.stream_index == stream.index), 1)
    return MediaInfo(
        path=str(p),
        duration=_declared_duration(container, stream),
        has_video=any(_is_real_video(s) for s in container.streams),
        codec=str(ctx.name or "unknown"),
        sample_rate=int(ctx.sample_rate or stream.sample_rate or 0),
        channels=_channel_count(ctx),
        tracks=tracks,
        track=track,
    )


def probe(path: str | os.PathLike[str], *, track: int | None = None) -> MediaInfo:
    """Read the container header: duration, audio codec, rate, channels, every track. Cheap.

    The figures are those of ``track`` (1-based; by default the default track).
    """
    p = _check_file(path)
    container = _open_container(p)
    try:
        return _info(container, _audio_stream(container, p, track), p)
    finally:
        container.close()


def list_tracks(path: str | os.PathLike[str]) -> tuple[AudioTrack, ...]:
    """Every audio track of ``path`` (raises MediaError like :func:`probe`)."""
    return probe(path).tracks


class _SampleBuffer:
    """A growable float32 buffer, preallocated from the expected length.

    Past ``_SPILL_SAMPLES`` the samples go to an anonymous temporary file instead of
    RAM, and :meth:`finish` returns a read-only memory map of it: a 10-hour file
    (2.3 GB of float32) then never needs its samples in memory at once. Pages of the
    map that were read can be handed back with :func:`release_samples`.
    """

    def __init__(self, expected: int, stream: StreamedSamples | None = None) -> None:
        self._data = np.empty(max(min(expected, _SPILL_SAMPLES), 1024), dtype=np.float32)
        self.size = 0
        self._file: Any = None  # the temporary file once spilled
        self._pending: list[np.ndarray] = []  # blocks not yet written to the file
        self._pending_size = 0
        # Reads from another thread (StreamedSamples) while samples are appended.
        self._lock = threading.Lock()
        self.final: np.ndarray | None = None  # what finish() returned
        self._stream = stream
        self._given = None if stream is None else stream.file
        if self._given is not None:
            self._spill()  # the file from the first sample
        if stream is not None:
            stream._attach(self)

    def _spill(self) -> None:
        with self._lock:
            if self._given is not None:
                self._file = self._given
                self._file.seek(0)
                self._file.truncate(0)
            else:
                self._file = tempfile.TemporaryFile(prefix="murmur-audio-", dir=_spill_dir())  # noqa: SIM115 (closed in finish)
            self._file.write(memoryview(self._data[: self.size]).cast("B"))
            self._data = np.empty(0, dtype=np.float32)

    def flush(self) -> None:
        with self._lock:
            if self._file is not None and self.final is None:
                self._flush_pending()
                self._file.flush()

    def _write(self, block: np.ndarray) -> None:
        with self._lock:
            self._pending.append(np.ascontiguousarray(block, dtype=np.float32))
            self._pending_size += len(block)
            self.size += len(block)
            if self._pending_size >= _SPILL_WRITE_SAMPLES:
                self._flush_pending()

    def _flush_pending(self) -> None:
        """Write the held blocks to the file (the caller holds the lock)."""
        for block in self._pending:
            self._file.write(memoryview(block).cast("B"))
        self._pending.clear()
        self._pending_size = 0

    def _reserve(self, extra: int) -> bool:
        """Room for ``extra`` more samples in RAM; False once the buffer is a file."""
        need = self.size + extra
        if self._file is None and need > _SPILL_SAMPLES:
            self._spill()
        if self._file is not None:
            return False
        if need > len(self._data):
            grown = np.empty(max(need, int(len(self._data) * 1.5)), dtype=np.float32)
            grown[: self.size] = self._data[: self.size]
            with self._lock:
                self._data = grown
        return True

    def append(self, block: np.ndarray) -> None:
        n = len(block)
        if not self._reserve(n):
            self._write(block)
        else:
            self._data[self.size : self.size + n] = block
            with self._lock:
                self.size += n
        if self._stream is not None:
            self._stream._grew(self.size)

    def append_silence(self, n: int) -> None:
        if n > 0:
            self.append(np.zeros(n, dtype=np.float32))

    def finish(self) -> np.ndarray:
        with self._lock:
            self.final = self._finish()
        return self.final

    def _finish(self) -> np.ndarray:
        if self._file is not None:
            self._flush_pending()
            self._file.flush()
            if self.size == 0:
                return np.zeros(0, dtype=np.float32)
            mapped = np.memmap(self._file, dtype=np.float32, mode="r", shape=(self.size,))
            if self._given is None:
                self._file.close()  # the map keeps the (already unlinked) file alive
            return mapped
        data = self._data
        if self.size < len(data) * 0.9:
            return data[: self.size].copy()
        data.resize(self.size, refcheck=False)
        return data

    def read(self, start: int, end: int) -> np.ndarray:
        """A copy of ``[start, end)`` of the samples appended so far (any thread)."""
        with self._lock:
            end = min(end, self.size)
            if end <= start:
                return np.zeros(0, dtype=np.float32)
            if self.final is not None:
                out = np.array(self.final[start:end], dtype=np.float32)
                release_samples(self.final, start, end)
                return out
            if self._file is None:
                return self._data[start:end].copy()
            if self._pending:
                self._flush_pending()
            out = np.empty(end - start, dtype=np.float32)
            self._file.flush()
            self._file.seek(start * 4)
            got = self._file.readinto(memoryview(out).cast("B"))
            self._file.seek(0, os.SEEK_END)
            if got != out.nbytes:
                raise OSError("the decoded audio file is shorter than expected")
            return out


class SliceReader:
    """Samples read a plain slice at a time: ``x[a:b]`` is ``x.read(a, b)`` within
    ``len(x)``. For views of audio that is still being decoded."""

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, start: int, end: int) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, index: slice) -> np.ndarray:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError(f"{type(self).__name__} takes plain slices")
        start, stop, _ = index.indices(len(self))
        return self.read(start, stop)


class StreamedSamples(SliceReader):
    """Decoded samples, readable from another thread while :func:`decode_audio` goes on.

    Pass one as ``decode_audio(..., into=stream)``. ``len(stream)`` is the number of
    samples decoded so far and ``stream[a:b]`` a copy of them (from the temporary file
    once the audio has spilled there, so reading never makes the whole file resident).
    ``on_grow(size)`` is called on the decoding thread after each block, and
    ``on_restart()`` when decoding starts again from the beginning (another reader, or
    the whole file disagreed with the early channel decision): samples read before
    are then void.
    """

    def __init__(
        self,
        on_grow: Callable[[int], None] | None = None,
        on_restart: Callable[[], None] | None = None,
        *,
        file: Any = None,
    ) -> None:
        self._buffer: _SampleBuffer | None = None
        self._on_grow = on_grow
        self._on_restart = on_restart
        self.restarts = 0
        # A binary file object every sample is written to from the first (emptied at a
        # restart), for a reader in another process; flush() makes what was appended
        # visible to it. The caller closes it.
        self.file = file

    def _attach(self, buffer: _SampleBuffer) -> None:
        had = self._buffer is not None and self._buffer.size > 0
        self._buffer = buffer
        if had:
            self.restarts += 1
            if self._on_restart is not None:
                self._on_restart()

    def _grew(self, size: int) -> None:
        if self._on_grow is not None:
            self._on_grow(size)

    def __len__(self) -> int:
        return 0 if self._buffer is None else self._buffer.size

    def read(self, start: int, end: int) -> np.ndarray:
        if self._buffer is None:
            return np.zeros(0, dtype=np.float32)
        return self._buffer.read(max(0, start), end)

    def flush(self) -> None:
        """Hand what was appended so far to the OS (a reader of ``file`` then sees it)."""
        if self._buffer is not None:
            self._buffer.flush()


def _channel_names(layout: Any) -> tuple[str, ...]:
    """FFmpeg's names for the channels; a layout without names (a WAV with no
    channel mask) is read as mono or left/right when it has one or two channels."""
    names = tuple(str(c.name) for c in layout.channels)
    if any(name in _FRONT or name == "FC" for name in names):
        return names
    return {1: ("FC",), 2: ("FL", "FR")}.get(len(names), names)


def _mix_weights(names: tuple[str, ...]) -> np.ndarray:
    """Down-mix weights for channels named as FFmpeg names them (FL, FR, FC, LFE...)."""
    n = len(names)
    if n <= 1:
        return np.ones(max(n, 1), dtype=np.float32)
    if not any(name in _FRONT or name == "FC" for name in names):
        return np.full(n, 1.0 / n, dtype=np.float32)  # unnamed channels: the plain average
    weights = []
    for name in names:
        if name == "FC":
            weights.append(1.0)
        elif name in _FRONT:
            weights.append(0.5)
        elif name.startswith("LFE"):
            weights.append(0.0)
        else:
            weights.append(0.35)
    return np.asarray(weights, dtype=np.float32)


def _channel_name(names: tuple[str, ...], index: int) -> str:
    name = names[index] if index < len(names) else f"channel {index + 1}"
    return _NAMED_CHANNELS.get(name, name)


def _pick_channel(names: tuple[str, ...], choice: str) -> int:
    """The index of the channel that ``left``/``right`` means in this layout."""
    wanted = "FL" if choice == "left" else "FR"
    if wanted in names:
        return names.index(wanted)
    return 0 if choice == "left" or len(names) < 2 else 1


class _ChannelMixer:
    """Mix blocks of ``(channels, n)`` samples to mono into a buffer, streaming.

    ``mode``: ``"mix"`` (weighted down-mix), ``"left"``/``"right"`` (one channel)
    or ``"auto"``: the first :data:`_PHASE_CHECK_S` seconds are held back and
    measured; when their mix keeps less than :data:`_CANCEL_RATIO` of the energy
    an in-phase mix would have (the channels cancel), the strongest channel is
    used from the start, else the mix. The whole stream's figures are kept
    as well; :attr:`second_opinion` says whether they disagree.
    """

    def __init__(self, buffer: _SampleBuffer | _Resampling, mode: str | int, rate: int) -> None:
        self.buffer = buffer  # where the mono samples go (at ``rate``, or resampled there)
        self.mode = mode  # an int: that channel (the whole file's verdict, see decode_audio)
        self._check_samples = int(_PHASE_CHECK_S * rate)
        self._scale = 1.0  # output samples per sample held back (see set_rate)
        self._pending: list[tuple[np.ndarray, tuple[str, ...]]] = []
        self._pending_n = 0
        # channel index, or None for the mix
        self._choice: int | None = mode if isinstance(mode, int) else None
        self._decided = mode != "auto"
        self._window = _Levels()
        self._whole = _Levels()
        self.names: tuple[str, ...] = ()
        self.note: str | None = None

    @property
    def size(self) -> int:
        """Samples out so far, at the output rate (those held back counted in)."""
        return self.buffer.size + round(self._pending_n * self._scale)

    def set_rate(self, rate: int, output_rate: int) -> None:
        """Blocks come at ``rate`` from now on (resampled to ``output_rate`` after the
        mix). Blocks held back at another rate are settled first."""
        if self._pending_n:
            self._decide()
        self._check_samples = int(_PHASE_CHECK_S * rate)
        self._scale = output_rate / rate

    def add(self, block: np.ndarray, names: tuple[str, ...]) -> None:
        block = np.asarray(block, dtype=np.float32).reshape(len(names) or 1, -1)
        if not block.shape[1]:
            return
        self.names = names
        weights = _mix_weights(names)
        mix = None
        if self.mode == "auto" and len(names) > 1:
            mix = self._whole.add(block, weights)
        if self._decided:
            if mix is not None and self._choice is None:
                self.buffer.append(mix)  # _mono's mix, computed once
            else:
                self.buffer.append(self._mono(block, names, weights))
            return
        if len(names) > 1:
            self._window.add(block, weights)
        self._pending.append((block, names))
        self._pending_n += block.shape[1]
        if self._pending_n >= self._check_samples:
            self._decide()

    def add_silence(self, n: int) -> None:
        if n <= 0:
            return
        if self._decided:
            self.buffer.append_silence(n)
        else:
            names = self.names or ("FC",)
            self.add(np.zeros((len(names), n), dtype=np.float32), names)

    def _mono(self, block: np.ndarray, names: tuple[str, ...], weights: np.ndarray) -> np.ndarray:
        if block.shape[0] == 1:
            return block[0]
        if self.mode in ("left", "right"):
            return block[_pick_channel(names, self.mode)]
        if self._choice is not None and self._choice < block.shape[0]:
            return block[self._choice]
        return weights @ block

    def _decide(self) -> None:
        self._choice = self._window.cancelled_channel()
        self._decided = True
        for block, names in self._pending:
            self.buffer.append(self._mono(block, names, _mix_weights(names)))
        self._pending = []
        self._pending_n = 0

    def finish(self) -> None:
        """Decide (if the stream was shorter than the check) and write what is held back."""
        if not self._decided:
            self._decide()
        if self.mode in ("left", "right") and len(self.names) > 1:
            self.note = None  # asked for by hand: nothing to say
        elif self._choice is not None:
            self.note = (
                "the channels cancel each other out when mixed (one is probably "
                f"phase-inverted); used the {_channel_name(self.names, self._choice)} channel "
                "only (--channel or Settings choose by hand)"
            )

    def second_opinion(self) -> int | str | None:
        """None when the whole stream agrees with the early decision, else what it
        says instead: a channel index, or ``"mix"``."""
        if self.mode != "auto" or not self._whole.frames:
            return None
        whole = self._whole.cancelled_channel()
        if (whole is None) == (self._choice is None):
            return None
        return "mix" if whole is None else whole


class _Levels:
    """Running energy of each channel and of their mix."""

    def __init__(self) -> None:
        self.channels: np.ndarray | None = None
        self.mix = 0.0
        self.frames = 0
        self.weights = np.ones(1, dtype=np.float32)

    def add(self, block: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Count ``block`` (channels x samples) in; returns its mix with ``weights``."""
        # a float32 dot per channel (BLAS), summed in float64 across blocks: 5x faster
        # than a float64 einsum, and ample for a ratio of energies
        energy = np.array([np.dot(row, row) for row in block], dtype=np.float64)
        if self.channels is None or len(self.channels) != len(energy):
            self.channels = np.zeros(len(energy), dtype=np.float64)
        self.channels += energy
        self.weights = weights
        mix = weights @ block
        self.mix += float(np.dot(mix, mix))
        self.frames += block.shape[1]
        return mix

    def cancelled_channel(self) -> int | None:
        """The strongest channel when the mix loses most of the energy, else None."""
        if self.channels is None or not self.frames:
            return None
        heard = self.weights > 0 if len(self.weights) == len(self.channels) else True
        strongest = int(np.argmax(np.where(heard, self.channels, -1.0)))
        if self.channels[strongest] / self.frames < _SIGNAL_FLOOR:
            return None  # too quiet to judge
        # the energy the mix would have if every channel were in phase
        coherent = float(np.dot(self.weights, np.sqrt(self.channels))) ** 2
        if coherent <= 0.0:
            return None
        return strongest if self.mix < _CANCEL_RATIO * coherent else None


def _spill_dir() -> str | None:
    """Where long audio is spilled: ``MURMUR_TMPDIR`` if set, else the system's temp dir."""
    return os.environ.get("MURMUR_TMPDIR") or None


def release_samples(samples: np.ndarray, start: int = 0, end: int | None = None) -> None:
    """Let the OS drop ``samples[start:end]`` from this process's memory.

    For long audio, :func:`decode_audio` returns a memory map of a temporary file;
    pages of it that were read stay resident until released here, and are read
    back from the file (page cache) when needed again. A no-op for arrays in RAM.
    """
    mapped = getattr(samples, "_mmap", None)
    if mapped is None or samples.ndim != 1 or not hasattr(mmap, "MADV_DONTNEED"):
        return
    end = len(samples) if end is None else min(end, len(samples))
    if end <= start:
        return
    try:
        origin = np.frombuffer(mapped, dtype=np.uint8).ctypes.data
    except (TypeError, ValueError):
        return
    page = mmap.PAGESIZE
    lo = samples.ctypes.data + start * samples.itemsize - origin
    hi = samples.ctypes.data + end * samples.itemsize - origin
    lo = -(-lo // page) * page
    hi = min(hi // page * page, len(mapped))
    if hi > lo >= 0:
        mapped.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


_MAX_CHANNELS = 16  # 9.1.6 has 16; anything wider is damage
_MIN_RATE, _MAX_RATE = 1000, 768_000


def _channel_count_of(layout: Any) -> int:
    """The number of channels of a PyAV layout (``nb_channels`` where PyAV has it)."""
    count = getattr(layout, "nb_channels", None)
    return int(count) if count is not None else len(layout.channels)


class _Resampling:
    """Mono samples at a source rate in, resampled by FFmpeg to ``rate`` into a buffer:
    the mixer's output stage when the source rate differs (the same interface as
    :class:`_SampleBuffer` for the mixer)."""

    def __init__(self, buffer: _SampleBuffer, rate: int) -> None:
        self.target = buffer
        self.rate = rate
        self.source_rate = rate
        self._resampler: Any = None

    @property
    def size(self) -> int:
        return self.target.size

    def set_source_rate(self, rate: int) -> None:
        if rate != self.source_rate:
            self.flush()
            self.source_rate = rate

    def append(self, block: np.ndarray) -> None:
        if self.source_rate == self.rate:
            self.target.append(block)
            return
        import av

        if self._resampler is None:
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1),
            format="flt",
            layout="mono",
        )
        frame.sample_rate = self.source_rate
        for out in self._resampler.resample(frame):
            self.target.append(out.to_ndarray().reshape(-1))

    def append_silence(self, n: int) -> None:
        if n > 0:
            self.append(np.zeros(n, dtype=np.float32))

    def flush(self) -> None:
        """Drain what the resampler holds (the end of the stream, or of a rate). Should
        FFmpeg fail here, only its filter's last milliseconds are lost."""
        import av

        resampler, self._resampler = self._resampler, None
        if resampler is not None:
            try:
                tail = resampler.resample(None)
            except (av.FFmpegError, ValueError):
                return
            for out in tail:
                self.target.append(out.to_ndarray().reshape(-1))

    def finish(self) -> np.ndarray:
        self.flush()
        return self.target.finish()


# How numpy reads a sample format: its dtype, then scaled to [-1, 1) with an offset (as
# FFmpeg converts to float).
_SAMPLE_FORMATS: dict[str, tuple[Any, float, float]] = {
    "u8": (np.uint8, 1 / 128, -128.0),
    "s16": (np.int16, 1 / 32768, 0.0),
    "s32": (np.int32, 1 / 2147483648, 0.0),
    "flt": (np.float32, 1.0, 0.0),
    "dbl": (np.float64, 1.0, 0.0),
}


def _sample_reader(
    fmt: Any, channels: int, converter: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    """How to read a frame of this sample format as float32 ``(channels, samples)``:
    numpy where it can (scaled to [-1, 1)), else ``converter`` (an FFmpeg format
    conversion, for 64-bit integers).

    The planes are read straight from the frame's buffers (``np.frombuffer`` into one
    new array): PyAV's ``to_ndarray`` stacks the planes with ``np.vstack``, which cost
    about 3 us of the 9 us a frame took to read (an hour of MP3 has 138,000 frames)."""
    name = fmt.name.removesuffix("p")
    planar = bool(fmt.is_planar)
    if name not in _SAMPLE_FORMATS:
        return lambda frame: np.asarray(converter(frame).to_ndarray(), dtype=np.float32).reshape(
            channels, -1
        )
    dtype, scale, offset = _SAMPLE_FORMATS[name]

    if planar:

        def raw(frame: Any) -> Any:
            n = frame.samples
            planes = frame.planes
            out = np.empty((len(planes), n), dtype=np.float32)
            for i, plane in enumerate(planes):
                out[i] = np.frombuffer(plane, dtype=dtype, count=n)
            return out

    else:

        def raw(frame: Any) -> Any:
            n = frame.samples
            data = np.frombuffer(frame.planes[0], dtype=dtype, count=n * channels)
            return data.reshape(n, channels).T.astype(np.float32, order="C")

    if scale == 1.0 and not offset:  # float formats: as decoded
        return raw

    def read(frame: Any) -> Any:
        out = raw(frame)
        if offset:
            out += offset
        out *= scale
        return out

    return read


class _StreamDecoder:
    """Decode one audio stream into a mono buffer at ``rate``, frame by frame.

    Frames are gathered at the source rate into blocks of about :data:`_NATIVE_BLOCK`
    samples; :class:`_ChannelMixer` mixes each block (the phase check sees every
    channel), and :class:`_Resampling` resamples the mono result. Mixing and resampling
    are both linear, so the samples are those of resampling every channel and mixing
    after (to float rounding); the hour of MP3 in ``benchmarks/bench_prepare.py`` decodes
    in 4.46 s instead of 5.66 s (fastest of three runs each), FFmpeg's resampler running
    on one channel instead of two and called 56 times less often.
    """

    def __init__(
        self,
        rate: int,
        expected_samples: int,
        channel: str | int = "auto",
        stream: StreamedSamples | None = None,
    ) -> None:
        self.rate = rate
        self.buffer = _SampleBuffer(expected_samples, stream)
        self._sink = _Resampling(self.buffer, rate)
        self.mixer = _ChannelMixer(self._sink, channel, rate)
        self._layout_key: tuple[str, str, int] | None = None
        self._reader: Callable[[Any], Any] | None = None  # for the current format
        self._reader_key: tuple[str, str, int] | None = None
        self._names: tuple[str, ...] = ()
        self._converter: Any = None  # format conversion for formats numpy can't read
        self._blocks: list[np.ndarray] = []  # frames not yet mixed, at the source rate
        self._held = 0
        self._origin: float | None = None  # time of the first frame, s
        self._source_end: float = 0.0  # source time reached so far, s (from origin)
        self._time_base: float | None = None
        self.frames = 0

    def _convert(self, frame: Any) -> Any:
        import av

        if self._converter is None:
            self._converter = av.AudioResampler(format="fltp", layout=frame.layout)
        converted = self._converter.resample(frame)
        if len(converted) != 1:
            raise ValueError("can't convert this sample format")
        return converted[0]

    def _fill_gap(self, frame: Any) -> None:
        """Keep the audio's place in time when frames are missing (skipped packets)."""
        pts = frame.pts
        if pts is None:
            return
        if self._time_base is None:
            # a float, once: pts * Fraction per frame cost 1.3 s an hour of MP3 (1,152-sample
            # frames); a stream's time base does not change
            if frame.time_base is None:
                return
            self._time_base = float(frame.time_base)
        t = pts * self._time_base
        if self._origin is None:
            self._origin = t
        gap = (t - self._origin) - self._source_end
        if gap > _MAX_GAP_FILL_S:
            # A timestamp jump, not a hole: carry on from here without silence.
            self._origin += gap
        elif gap > _GAP_FILL_S:
            self._mix()
            self.mixer.add_silence(round(gap * self._sink.source_rate))
            self._source_end += gap

    def add(self, frame: Any) -> None:
        # Damaged data can decode into frames no real audio has (dozens of channels,
        # a rate of 0); resampling those has crashed FFmpeg inside the process. Such
        # a frame is a decoding error, never audio.
        # (PyAV builds an object for each property read: an hour of MP3 has 138,000
        # frames, so each is read once, and the channel count without the channels.)
        layout = frame.layout
        channels = _channel_count_of(layout)
        samples = frame.samples
        rate = int(frame.sample_rate or 0)
        if not (1 <= channels <= _MAX_CHANNELS and samples > 0):
            raise ValueError(f"implausible frame: {channels} channels, {samples} samples")
        if not _MIN_RATE <= rate <= _MAX_RATE:
            raise ValueError(f"implausible frame: sample rate {rate}")
        fmt = frame.format
        key = (fmt.name, layout.name, rate)
        if key != self._reader_key or self._reader is None:
            self._converter = None
            self._reader = _sample_reader(fmt, channels, self._convert)
            self._reader_key = key
        block = self._reader(frame)  # may raise: before anything else changes
        self._fill_gap(frame)
        first = self._layout_key is None
        if first or key[1:] != self._layout_key[1:]:  # type: ignore[index]
            self._mix()
            if first or rate != self._sink.source_rate:
                self.mixer.set_rate(rate, self.rate)  # settles what it holds at the old rate
                self._sink.set_source_rate(rate)
            self._names = _channel_names(layout)
        self._layout_key = key
        self._blocks.append(block)
        self._held += samples
        if self._held >= _NATIVE_BLOCK:
            self._mix()
        self._source_end += samples / rate
        self.frames += 1

    def _mix(self) -> None:
        """Hand the frames gathered so far to the mixer, as one block."""
        if self._blocks:
            blocks, self._blocks, self._held = self._blocks, [], 0
            block = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
            self.mixer.add(block, self._names)

    def flush(self) -> None:
        """Mix what is gathered (the end of the stream)."""
        self._mix()


def _decode_with_soundfile(
    p: Path,
    info: MediaInfo,
    sample_rate: int,
    cancel: threading.Event | None,
    progress: Callable[[float], None] | None,
    channel: str | int = "auto",
    stream: StreamedSamples | None = None,
) -> _ChannelMixer | None:
    """Read a plain mono/stereo WAV/FLAC at the target rate (into the returned
    mixer's buffer); None when soundfile doesn't apply."""
    if (
        p.suffix.lower() not in _SOUNDFILE_SUFFIXES
        or info.sample_rate != sample_rate
        or info.channels > 2
        or info.track != 1
    ):
        return None
    import soundfile as sf

    try:
        with sf.SoundFile(str(p)) as f:
            if f.samplerate != sample_rate or f.frames <= 0 or f.channels > 2:
                return None
            mixer = _ChannelMixer(_SampleBuffer(int(f.frames), stream), channel, sample_rate)
            names = ("FC",) if f.channels == 1 else ("FL", "FR")
            block = 1 << 16
            for data in f.blocks(blocksize=block, dtype="float32", always_2d=True):
                _check_cancel(cancel)
                mixer.add(data.T, names)
                if progress is not None:
                    progress(min(1.0, mixer.size / f.frames))
            mixer.finish()
            return mixer
    except (sf.LibsndfileError, RuntimeError, ValueError):
        return None


_MIN_USEFUL_S = 0.1  # seconds


def _cut_short(decoded: float, info: MediaInfo, audio_duration_known: bool) -> bool:
    """Did decoding end clearly before the declared duration?"""
    if info.duration is None:
        return False
    if info.has_video and not audio_duration_known:
        slack = max(_SHORT_TOLERANCE_VIDEO_S, _SHORT_TOLERANCE_VIDEO_FRACTION * info.duration)
    else:
        slack = max(_SHORT_TOLERANCE_S, _SHORT_TOLERANCE_FRACTION * info.duration)
    return decoded < info.duration - slack


def decode_audio(
    path: str | os.PathLike[str],
    sample_rate: int = SAMPLE_RATE,
    cancel: threading.Event | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    track: int | None = None,
    channel: str = "auto",
    into: StreamedSamples | None = None,
) -> DecodedAudio:
    """Decode one audio track of ``path`` to float32 mono at ``sample_rate``.

    ``track`` is 1-based (default: the track flagged default, else the first).
    ``channel``: ``"auto"`` mixes down unless the channels cancel each other out
    (then the strongest channel, said in ``channel_note``), ``"mix"`` always
    mixes, ``"left"``/``"right"`` take one channel.
    ``progress`` (optional) is called with the fraction of the declared duration
    decoded so far. ``into`` (optional) makes the samples readable while decoding goes
    on (see :class:`StreamedSamples`). Raises :class:`MediaError` when nothing can be
    decoded and :class:`Cancelled` when ``cancel`` is set.
    """
    if channel not in CHANNEL_CHOICES:
        raise MediaError(f"unknown channel {channel!r}; choose from {', '.join(CHANNEL_CHOICES)}")
    p = _check_file(path)
    one_blas_thread()  # the mixer's small products must not spin threads beside the model
    audio = _decode(p, sample_rate, cancel, progress, track, channel, stream=into)
    if audio[3].second_opinion() is not None:
        # The first seconds misled the phase check (e.g. a silent or mono intro):
        # the whole file says otherwise, so read it again the way it says.
        again = audio[3].second_opinion()
        audio = _decode(p, sample_rate, cancel, progress, track, again, stream=into)
    samples, info, (demux_error, decode_errors, audio_duration_known), mixer = audio

    decoded = len(samples) / sample_rate
    truncated = demux_error is not None or _cut_short(decoded, info, audio_duration_known)
    # A damaged file may yield a stray frame or two before its data turns to
    # garbage, or only the silence that stands in for skipped packets.
    damaged = truncated or decode_errors > 0
    if len(samples) == 0 or (damaged and (decoded < _MIN_USEFUL_S or not np.any(samples))):
        reason = "no decodable audio"
        if demux_error:
            reason += f" ({demux_error})"
        raise _error(p, reason)
    warning: str | None = None
    if truncated:
        of = f" of {format_duration(info.duration)}" if info.duration else ""
        warning = (
            f"{p.name}: the file seems cut short or damaged; decoded {format_duration(decoded)}{of}"
        )
    elif decode_errors:
        warning = (
            f"{p.name}: skipped {decode_errors} damaged audio packet"
            f"{'s' if decode_errors != 1 else ''}; the rest decoded"
        )
    if progress is not None:
        progress(1.0)
    return DecodedAudio(
        samples=samples,
        sample_rate=sample_rate,
        info=info,
        truncated=truncated,
        warning=warning,
        channel_note=f"{p.name}: {mixer.note}" if mixer.note else None,
    )


def _decode(
    p: Path,
    sample_rate: int,
    cancel: threading.Event | None,
    progress: Callable[[float], None] | None,
    track: int | None,
    channel: str | int,
    stream: StreamedSamples | None = None,
) -> tuple[np.ndarray, MediaInfo, tuple[str | None, int, bool], _ChannelMixer]:
    """One pass over the file: samples, info, (demux error, decode errors,
    whether the stream declares its duration) and the mixer that made the samples."""
    import av

    container = _open_container(p)
    try:
        audio_stream = _audio_stream(container, p, track)
        info = _info(container, audio_stream, p)
        audio_duration_known = bool(audio_stream.duration and audio_stream.duration > 0)
        mixer = _decode_with_soundfile(p, info, sample_rate, cancel, progress, channel, stream)
        demux_error: str | None = None
        decode_errors = 0
        if mixer is None:
            mixer, demux_error, decode_errors = _decode_with_av(
                container, audio_stream, info, sample_rate, cancel, progress, p, channel, stream
            )
    except av.FFmpegError as exc:
        raise _error(p, f"can't decode the audio ({_one_line(exc)})") from None
    finally:
        container.close()
    return mixer.buffer.finish(), info, (demux_error, decode_errors, audio_duration_known), mixer


def _decode_with_av(
    container: Any,
    stream: Any,
    info: MediaInfo,
    sample_rate: int,
    cancel: threading.Event | None,
    progress: Callable[[float], None] | None,
    p: Path,
    channel: str | int = "auto",
    samples: StreamedSamples | None = None,
) -> tuple[_ChannelMixer, str | None, int]:
    """Stream-decode with PyAV. Returns (the mixer holding the samples, demux error
    or None, decode error count)."""
    import av

    # np.empty only reserves address space; cap it in case the header is bogus.
    declared = min(info.duration or 0.0, _MAX_PREALLOCATE_S)
    expected = math.ceil(declared * sample_rate) + sample_rate
    decoder = _StreamDecoder(sample_rate, expected, channel, samples)
    demuxer = container.demux(stream)
    demux_error: str | None = None
    decode_errors = 0
    leading_errors = 0
    packets = 0
    while True:
        try:
            packet = next(demuxer)
        except StopIteration:
            break
        except av.FFmpegError as exc:
            demux_error = _one_line(exc)
            break
        packets += 1
        if packets % _CANCEL_CHECK_PACKETS == 0:
            _check_cancel(cancel)
            if progress is not None and info.duration:
                progress(min(1.0, decoder.mixer.size / (info.duration * sample_rate)))
        try:
            frames = packet.decode()
        except av.FFmpegError:
            decode_errors += 1
            if decoder.frames == 0:
                leading_errors += 1
                if leading_errors >= _MAX_LEADING_ERRORS:
                    break
            continue
        for frame in frames:
            try:
                decoder.add(frame)
            except (av.FFmpegError, ValueError):
                decode_errors += 1
    if demux_error is not None:
        # The demuxer stopped early: take what the codec still holds.
        try:
            for frame in stream.codec_context.decode(None):
                decoder.add(frame)
        except (av.FFmpegError, ValueError):
            pass
    try:
        decoder.flush()
    except (av.FFmpegError, ValueError):
        decode_errors += 1
    try:
        decoder.mixer.finish()  # writes what the phase check held back (resampled)
    except (av.FFmpegError, ValueError):
        decode_errors += 1
    _check_cancel(cancel)
    return decoder.mixer, demux_error, decode_errors
