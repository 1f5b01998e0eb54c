"""Record from a microphone to a crash-safe FLAC file, with a 16 kHz mono feed for the model.

No Qt here. sounddevice (PortAudio) is imported lazily, only when a device is listed or a
stream is opened; tests replace the stream with ``stream_factory``.

Threads and data flow::

    PortAudio callback --copy--> queue --> writer thread --> FLAC file (device rate/channels)
                                                         --> taps (16 kHz mono, PyAV resampler)
                                                         --> on_event(LevelChanged, ...)

* The callback only copies each block onto a queue; everything else is on the writer thread.
* The file keeps the device's own rate and channels (FLAC, 24 bit). libsndfile writes every
  finished FLAC frame (4096 samples) straight to the file and the writer flushes once a
  second, so a process killed with SIGKILL leaves a file that holds everything up to well
  under a second before the kill. Such a file has no total length in its header: libsndfile
  can't read it, FFmpeg (PyAV) can, and so can :func:`app.core.audio.media.decode_audio`.
  :func:`repair_recording` rewrites it as a complete FLAC.
* While a recording runs, a marker (JSON) in ``recordings_dir()/.in-progress`` names its
  file and process. A clean stop removes it; :func:`find_interrupted_recordings` lists the
  markers whose process is gone, so the app can offer them on its next start.
* Faults stop the recording and keep what was written: the device disappearing
  (``StopReason.DEVICE_LOST``), the disk filling up (``DISK_FULL``), any other write error
  (``ERROR``). Each comes with a one-line message in :class:`RecordingStopped`.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import json
import logging
import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from app.core.errors import MurmurError
from app.core.processes import pid_alive
from app.core.settings import data_dir

log = logging.getLogger(__name__)

MODEL_RATE = 16000
FILE_FORMAT = "FLAC"
FILE_SUBTYPE = "PCM_24"
FILE_SUFFIX = ".flac"
MARKER_FOLDER = ".in-progress"
_FLUSH_EVERY_S = 1.0
_LEVEL_FLOOR_DB = -120.0
_WATCHDOG_S = 2.0  # no block for this long while the stream says it is inactive: device lost
_MAX24 = 1.0 - 2.0**-23


# --------------------------------------------------------------------------- errors


class CaptureError(MurmurError):
    """A recording can't start or go on: bad device, PortAudio missing, permission denied."""


class NoInputDevice(CaptureError):
    """There is no input device at all."""


class PortAudioMissing(CaptureError):
    """The PortAudio library (the sound library sounddevice needs) is not installed."""


class MicrophonePermissionDenied(CaptureError):
    """The system did not let Murmur use the microphone (macOS privacy settings)."""


# --------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class InputDevice:
    index: int  # PortAudio device index (changes between runs; store the name)
    name: str
    channels: int  # maximum input channels
    default_rate: int  # the device's default sample rate, Hz
    is_default: bool  # the system's default input
    hostapi: str  # "ALSA", "Core Audio", "Windows WASAPI", ...

    def label(self) -> str:
        return f"{self.name} ({self.hostapi})" if self.hostapi else self.name


def _sounddevice() -> Any:
    """Import sounddevice; a missing PortAudio library becomes one line."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio can't be loaded
        hint = {
            "linux": "on Debian/Ubuntu: sudo apt install libportaudio2",
            "darwin": "reinstall Murmur, or: brew install portaudio",
        }.get(sys.platform, "reinstall Murmur")
        raise PortAudioMissing(
            f"Recording needs the PortAudio sound library, which is missing ({hint})."
        ) from exc
    return sounddevice


def list_input_devices(refresh: bool = False) -> list[InputDevice]:
    """The devices that can record, the system default marked.

    ``refresh`` asks PortAudio to look again (for devices plugged in since it started);
    only do this when no stream is open.
    """
    sd = _sounddevice()
    if refresh:
        with contextlib.suppress(Exception):
            sd._terminate()
            sd._initialize()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise CaptureError(f"Can't list the sound devices: {_one_line(exc)}") from exc
    default = _default_input_index(sd)
    out: list[InputDevice] = []
    for index, d in enumerate(devices):
        channels = int(d.get("max_input_channels", 0) or 0)
        if channels <= 0:
            continue
        api = d.get("hostapi")
        api_name = (
            str(hostapis[api]["name"]) if isinstance(api, int) and api < len(hostapis) else ""
        )
        out.append(
            InputDevice(
                index=index,
                name=str(d.get("name", f"device {index}")),
                channels=channels,
                default_rate=round(float(d.get("default_samplerate") or 0)) or 48000,
                is_default=index == default,
                hostapi=api_name,
            )
        )
    if out and not any(d.is_default for d in out):
        # PortAudio has no default input but there are inputs: the first one stands in.
        first = out[0]
        out[0] = InputDevice(**{**first.__dict__, "is_default": True})
    return out


def _default_input_index(sd: Any) -> int:
    try:
        device = sd.default.device
        index = device[0] if isinstance(device, (list, tuple)) else device
        if isinstance(index, str):
            return int(sd.query_devices(index, "input")["index"])
        return int(index) if index is not None else -1
    except Exception:
        return -1


def resolve_input_device(
    spec: int | str | None, devices: list[InputDevice] | None = None
) -> InputDevice:
    """The device to record from: the system default when ``spec`` is None or "".

    ``spec`` is a PortAudio index or a name (exact, else a unique case-insensitive part of
    one). A chosen device that is not there raises :class:`CaptureError`; it is never
    silently replaced by another. No input devices at all: :class:`NoInputDevice`.
    """
    devices = list_input_devices() if devices is None else devices
    if not devices:
        raise NoInputDevice("No microphone or other input device was found.")
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return next(d for d in devices if d.is_default)
    if isinstance(spec, str) and spec.strip().lstrip("-").isdigit():
        spec = int(spec.strip())
    if isinstance(spec, int):
        for d in devices:
            if d.index == spec:
                return d
        raise CaptureError(
            f"Input device {spec} is not available (unplugged?); `murmur devices` lists them."
        )
    for d in devices:
        if d.name == spec:
            return d
    matches = [d for d in devices if spec.lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(repr(d.name) for d in matches[:4])
        raise CaptureError(f"Input device {spec!r} is ambiguous: {names}; give its index.")
    raise CaptureError(
        f"Input device {spec!r} is not available (unplugged?); `murmur devices` lists them."
    )


# --------------------------------------------------------------------------- folders


def recordings_dir() -> Path:
    """Where recordings go unless a path is given."""
    return data_dir() / "recordings"


def new_recording_path(folder: Path | None = None, now: datetime | None = None) -> Path:
    """``Recording 2026-11-30 14-03-12.flac`` in ``folder``, never an existing name."""
    folder = folder or recordings_dir()
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H-%M-%S")
    path = folder / f"Recording {stamp}{FILE_SUFFIX}"
    n = 2
    while path.exists():
        path = folder / f"Recording {stamp} ({n}){FILE_SUFFIX}"
        n += 1
    return path


# --------------------------------------------------------------------------- streams


@dataclass(frozen=True)
class StreamSpec:
    """What the recorder asks of a stream: float32 blocks of ``blocksize`` frames."""

    device: int | None
    samplerate: int
    channels: int
    blocksize: int


AudioCallback = Callable[[np.ndarray, int, Any, Any], None]
"""``callback(indata (frames, channels) float32, frames, time_info, status)``, as sounddevice."""


class InputStream(Protocol):
    """The part of ``sounddevice.InputStream`` the recorder uses."""

    @property
    def active(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


StreamFactory = Callable[[StreamSpec, AudioCallback, Callable[[], None]], InputStream]
"""``factory(spec, callback, finished_callback) -> stream`` (not started yet)."""


def sounddevice_stream(
    spec: StreamSpec, callback: AudioCallback, finished: Callable[[], None]
) -> InputStream:
    """The real stream: PortAudio through sounddevice."""
    sd = _sounddevice()
    try:
        return sd.InputStream(  # type: ignore[no-any-return]
            device=spec.device,
            samplerate=spec.samplerate,
            channels=spec.channels,
            dtype="float32",
            blocksize=spec.blocksize,
            callback=callback,
            finished_callback=finished,
        )
    except sd.PortAudioError as exc:
        raise _open_error(exc) from exc


def _open_error(exc: BaseException) -> CaptureError:
    text = _one_line(exc)
    lowered = text.lower()
    if sys.platform == "darwin" and (
        "permission" in lowered or "-9986" in lowered or "internal portaudio error" in lowered
    ):
        return MicrophonePermissionDenied(
            "Murmur may not use the microphone: allow it in System Settings › Privacy & "
            "Security › Microphone."
        )
    if "permission" in lowered or "denied" in lowered:
        return MicrophonePermissionDenied(f"Permission to use the microphone was denied ({text}).")
    return CaptureError(f"Can't open the input device: {text}")


default_stream_factory: StreamFactory = sounddevice_stream
"""What :class:`Recorder` uses when no ``stream_factory`` is given (tests may replace it)."""


# --------------------------------------------------------------------------- events


class StopReason(enum.Enum):
    REQUESTED = "requested"  # stop() was called
    DEVICE_LOST = "device lost"  # the stream ended by itself (unplugged, driver error)
    DISK_FULL = "disk full"
    ERROR = "error"  # any other write error


@dataclass(frozen=True)
class RecordingStarted:
    path: Path
    device: InputDevice | None
    samplerate: int
    channels: int


@dataclass(frozen=True)
class LevelChanged:
    """About 20 times a second: the level since the last report and the time recorded."""

    rms_dbfs: float
    peak_dbfs: float
    elapsed_s: float


@dataclass(frozen=True)
class SilenceWarning:
    """The input stayed near zero for ``seconds``: wrong device, or muted (once per stretch)."""

    seconds: float
    message: str


@dataclass(frozen=True)
class RecordingStopped:
    """The last event of a recording. The file holds everything that was written."""

    path: Path
    duration_s: float
    reason: StopReason
    message: str | None  # one line for the user when reason is not REQUESTED
    overflows: int = 0  # blocks PortAudio reported as overflowed (samples lost upstream)


CaptureEvent = RecordingStarted | LevelChanged | SilenceWarning | RecordingStopped


@dataclass(frozen=True)
class Recording:
    """What :meth:`Recorder.stop` returns."""

    path: Path
    samplerate: int
    channels: int
    frames: int
    reason: StopReason
    message: str | None

    @property
    def duration_s(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


# --------------------------------------------------------------------------- taps


_END = object()


class AudioTap:
    """A subscriber's feed of the recording as 16 kHz mono float32 blocks.

    Blocks are contiguous from the start of the recording, so sample ``n`` of the feed is at
    ``n / 16000`` s in the file. With ``events=True`` the capture events come through the
    same feed, in order. Iterating ends when the recording has stopped.
    """

    def __init__(self, events: bool = False) -> None:
        self.events = events
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.closed = False

    def _put(self, item: Any) -> None:
        if not self.closed:
            self._queue.put(item)

    def get(self, timeout: float | None = None) -> np.ndarray | CaptureEvent | None:
        """The next block (or event); None at the end. Raises queue.Empty on timeout."""
        item = self._queue.get(timeout=timeout)
        if item is _END:
            self._queue.put(_END)  # the end stays the end for later calls
            return None
        return item  # type: ignore[no-any-return]

    def __iter__(self) -> Any:
        while True:
            item = self.get()
            if item is None:
                return
            yield item

    def close(self) -> None:
        """Stop receiving (the recorder skips a closed tap)."""
        self.closed = True


class _Resampler:
    """Streaming mono resampler to 16 kHz (FFmpeg's swresample through PyAV)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._av: Any = None
        self._resampler: Any = None
        self._pts = 0
        if rate != MODEL_RATE:
            import av

            self._av = av
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=MODEL_RATE)

    def _frames(self, frames: list[Any]) -> np.ndarray:
        if not frames:
            return np.zeros(0, np.float32)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)

    def push(self, mono: np.ndarray) -> np.ndarray:
        if self._resampler is None:
            return mono
        frame = self._av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        self._pts += len(mono)
        return self._frames(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, np.float32)
        return self._frames(self._resampler.resample(None))


def to_mono(block: np.ndarray) -> np.ndarray:
    """(frames, channels) -> mono float32: the mean of the channels."""
    if block.ndim == 1:
        return block.astype(np.float32, copy=False)
    if block.shape[1] == 1:
        return block[:, 0].astype(np.float32, copy=True)
    return block.mean(axis=1, dtype=np.float32)


def dbfs(value: float) -> float:
    return max(_LEVEL_FLOOR_DB, 20.0 * float(np.log10(max(value, 1e-12))))


# --------------------------------------------------------------------------- markers


def _marker_folder() -> Path:
    return recordings_dir() / MARKER_FOLDER


def _marker_path(path: Path) -> Path:
    import hashlib

    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    return _marker_folder() / f"{path.stem[:60]}-{key}.json"


def _write_marker(path: Path, spec: StreamSpec, device: InputDevice | None) -> Path:
    marker = _marker_path(path)
    marker.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "path": str(path.resolve()),
        "pid": os.getpid(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "samplerate": spec.samplerate,
        "channels": spec.channels,
        "device": device.name if device else "",
    }
    from app.core.atomic import atomic_write_text

    atomic_write_text(marker, json.dumps(data, indent=2) + "\n")
    return marker


_live_markers: set[Path] = set()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class InterruptedRecording:
    """A recording whose process died before it finished (found on the next start)."""

    path: Path
    marker: Path
    started: str  # ISO 8601, local time
    samplerate: int
    channels: int
    device: str
    size_bytes: int


def find_interrupted_recordings() -> list[InterruptedRecording]:
    """Recordings whose process is gone without finishing them, oldest first.

    A marker whose file no longer exists (or is empty) is dropped silently.
    """
    folder = _marker_folder()
    if not folder.is_dir():
        return []
    found: list[InterruptedRecording] = []
    for marker in sorted(folder.glob("*.json")):
        with _live_lock:
            if marker in _live_markers:
                continue
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            path = Path(data["path"])
            pid = int(data.get("pid", 0))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid != os.getpid() and pid_alive(pid):
            continue  # still being recorded by another Murmur
        size = path.stat().st_size if path.is_file() else 0
        if size == 0:
            marker.unlink(missing_ok=True)
            if path.is_file():
                path.unlink(missing_ok=True)
            continue
        found.append(
            InterruptedRecording(
                path=path,
                marker=marker,
                started=str(data.get("started", "")),
                samplerate=int(data.get("samplerate", 0) or 0),
                channels=int(data.get("channels", 0) or 0),
                device=str(data.get("device", "")),
                size_bytes=size,
            )
        )
    return sorted(found, key=lambda r: r.started)


def repair_recording(recording: InterruptedRecording | str | os.PathLike[str]) -> Path:
    """Rewrite an interrupted recording as a complete FLAC (same rate and channels).

    The audio is decoded with FFmpeg (PyAV), which reads a FLAC whose header lacks its
    length and stops cleanly at a frame cut short by the kill. The new file replaces the old
    one atomically, and the marker is removed. Raises :class:`CaptureError` when nothing
    can be decoded.
    """
    path = Path(recording.path if isinstance(recording, InterruptedRecording) else recording)
    samples, rate = _decode_native(path)
    if samples.shape[0] == 0:
        raise CaptureError(f"{path.name}: nothing could be recovered from the recording.")
    import soundfile as sf

    temp = path.with_name(f".{path.stem}.repair{FILE_SUFFIX}")
    try:
        sf.write(str(temp), samples, rate, format=FILE_FORMAT, subtype=FILE_SUBTYPE)
        os.replace(temp, path)
    except (OSError, RuntimeError) as exc:
        temp.unlink(missing_ok=True)
        raise CaptureError(f"{path.name}: could not repair the recording ({exc}).") from exc
    if isinstance(recording, InterruptedRecording):
        recording.marker.unlink(missing_ok=True)
    else:
        _marker_path(path).unlink(missing_ok=True)
    return path


def discard_recording(recording: InterruptedRecording) -> None:
    """Delete an interrupted recording and its marker."""
    recording.path.unlink(missing_ok=True)
    recording.marker.unlink(missing_ok=True)


def _decode_native(path: Path) -> tuple[np.ndarray, int]:
    """All decodable audio of ``path`` as float32 (frames, channels) at its own rate."""
    import av

    blocks: list[np.ndarray] = []
    rate = 0
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise CaptureError(f"{path.name}: the recording can't be opened ({exc}).") from exc
    try:
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.sample_rate)
        try:
            for packet in container.demux(stream):
                try:
                    for frame in packet.decode():
                        data = frame.to_ndarray()
                        if frame.format.is_planar:
                            data = data.T
                        else:
                            data = data.reshape(-1, len(frame.layout.channels))
                        blocks.append(_to_float(data))
                except av.FFmpegError:
                    break  # a frame cut short by the kill: everything before it is kept
        except av.FFmpegError:
            pass
    finally:
        container.close()
    if not blocks:
        return np.zeros((0, 1), np.float32), rate
    return np.concatenate(blocks), rate


def _to_float(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.int32:
        return (data.astype(np.float64) / 2.0**31).astype(np.float32)
    if data.dtype == np.int16:
        return (data.astype(np.float32) / 2.0**15).astype(np.float32)
    return data.astype(np.float32)


# --------------------------------------------------------------------------- recorder


class Recorder:
    """One recording from one input device to one FLAC file.

    ``start()`` opens the stream and the file; ``stop()`` ends it and returns the
    :class:`Recording`. ``on_event`` is called from the recorder's writer thread with
    :class:`RecordingStarted`, :class:`LevelChanged` (~20 Hz), :class:`SilenceWarning` and
    finally :class:`RecordingStopped` (also after a fault, without ``stop()``).
    :meth:`open_tap` gives a 16 kHz mono feed for dictation.
    """

    def __init__(
        self,
        device: InputDevice | int | str | None = None,
        path: str | os.PathLike[str] | None = None,
        *,
        samplerate: int | None = None,
        channels: int | None = None,
        block_s: float = 0.02,
        stream_factory: StreamFactory | None = None,
        on_event: Callable[[CaptureEvent], None] | None = None,
        level_interval_s: float = 0.05,
        silence_after_s: float = 5.0,
        silence_dbfs: float = -60.0,
    ) -> None:
        self._device_spec = device
        self._path_arg = Path(path) if path is not None else None
        self._samplerate = samplerate
        self._channels = channels
        self.block_s = block_s
        self._factory = stream_factory
        self._on_event = on_event
        self.level_interval_s = level_interval_s
        self.silence_after_s = silence_after_s
        self.silence_dbfs = silence_dbfs

        self.device: InputDevice | None = None
        self.path: Path | None = None
        self.spec: StreamSpec | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._taps: list[AudioTap] = []
        self._taps_lock = threading.Lock()
        self._stream: InputStream | None = None
        self._writer: threading.Thread | None = None
        self._file: Any = None
        self._marker: Path | None = None
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._stream_ended = threading.Event()
        self._frames = 0
        self._overflows = 0
        self._result: Recording | None = None
        self._last_block = time.monotonic()

    # ------------------------------------------------------------------ public

    @property
    def frames(self) -> int:
        """Frames written so far (at the device rate)."""
        return self._frames

    @property
    def elapsed_s(self) -> float:
        return self._frames / self.spec.samplerate if self.spec else 0.0

    @property
    def running(self) -> bool:
        return self._writer is not None and not self._done.is_set()

    @property
    def result(self) -> Recording | None:
        """The finished recording (after stop, or after a fault ended it)."""
        return self._result

    def open_tap(self, events: bool = False) -> AudioTap:
        """A new 16 kHz mono feed from now on (open it before ``start()`` to get every sample)."""
        tap = AudioTap(events=events)
        with self._taps_lock:
            if self._done.is_set():
                tap._put(_END)
            self._taps.append(tap)
        return tap

    def start(self) -> Path:
        """Open the device and the file and start recording. Returns the file's path.

        Raises :class:`CaptureError` (device gone, can't open, permission denied) or
        :class:`NoInputDevice`; nothing is left on disk then.
        """
        if self._writer is not None:
            raise RuntimeError("a Recorder records once")
        factory = self._factory or default_stream_factory
        if isinstance(self._device_spec, InputDevice):
            self.device = self._device_spec
        elif self._device_spec is None and factory is not sounddevice_stream:
            self.device = None  # a test stream: no PortAudio device
        else:
            self.device = resolve_input_device(self._device_spec)
        rate = self._samplerate or (self.device.default_rate if self.device else MODEL_RATE)
        channels = self._channels or (min(2, self.device.channels) if self.device else 1)
        blocksize = max(1, round(rate * self.block_s))
        self.spec = StreamSpec(
            device=self.device.index if self.device else None,
            samplerate=int(rate),
            channels=int(channels),
            blocksize=blocksize,
        )
        self.path = self._path_arg or new_recording_path()
        if not self.path.suffix:
            self.path = self.path.with_suffix(FILE_SUFFIX)
        elif self.path.suffix.lower() != FILE_SUFFIX:
            raise CaptureError(f"{self.path.name}: recordings are FLAC files; name it *.flac.")
        self._stream = factory(self.spec, self._callback, self._finished)
        try:
            self._open_file()
        except BaseException:
            with contextlib.suppress(Exception):
                self._stream.close()
            raise
        try:
            self._stream.start()
        except Exception as exc:
            self._close_file()
            self._discard_file()
            with contextlib.suppress(Exception):
                self._stream.close()
            raise exc if isinstance(exc, CaptureError) else _open_error(exc) from exc
        self._last_block = time.monotonic()
        self._writer = threading.Thread(
            target=self._write_loop, name="murmur-recorder", daemon=True
        )
        self._writer.start()
        return self.path

    def stop(self, timeout: float | None = 10.0) -> Recording:
        """Stop recording, finish the file, remove the marker; returns the recording.

        Safe to call after a fault ended the recording (returns that result) and more than
        once.
        """
        if self._writer is None:
            raise RuntimeError("the recorder was not started")
        self._stopping.set()
        self._stop_stream()
        self._queue.put(_END)
        self._writer.join(timeout)
        assert self._result is not None, "the writer thread did not finish"
        return self._result

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the recording has ended (by stop() or by a fault)."""
        return self._done.wait(timeout)

    # ------------------------------------------------------------------ PortAudio side

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # The audio thread: copy and queue, nothing else.
        self._queue.put((indata.copy(), bool(status)))

    def _finished(self) -> None:
        # The stream stopped: by our stop(), or by itself (device gone, driver error).
        self._stream_ended.set()
        if not self._stopping.is_set():
            self._queue.put(_END)

    def _stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with contextlib.suppress(Exception):
            stream.stop()
        with contextlib.suppress(Exception):
            stream.close()

    # ------------------------------------------------------------------ file

    def _open_file(self) -> None:
        import soundfile as sf

        assert self.path is not None and self.spec is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = sf.SoundFile(
                str(self.path),
                "x",
                samplerate=self.spec.samplerate,
                channels=self.spec.channels,
                format=FILE_FORMAT,
                subtype=FILE_SUBTYPE,
            )
            self._marker = _write_marker(self.path, self.spec, self.device)
        except FileExistsError as exc:
            raise CaptureError(f"{self.path} already exists; choose another file.") from exc
        except (OSError, RuntimeError) as exc:
            self._close_file()
            raise CaptureError(f"Can't write the recording {self.path}: {_one_line(exc)}") from exc
        with _live_lock:
            _live_markers.add(self._marker)

    def _close_file(self) -> str | None:
        """Close the file (libsndfile writes the final header); an error as one line."""
        f, self._file = self._file, None
        if f is None:
            return None
        try:
            f.close()
        except Exception as exc:
            return _one_line(exc)
        return None

    def _discard_file(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self._drop_marker()

    def _drop_marker(self) -> None:
        if self._marker is not None:
            self._marker.unlink(missing_ok=True)
            with _live_lock:
                _live_markers.discard(self._marker)

    # ------------------------------------------------------------------ writer thread

    def _emit(self, event: CaptureEvent) -> None:
        with self._taps_lock:
            taps = [t for t in self._taps if t.events]
        for tap in taps:
            tap._put(event)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("recorder event handler failed")

    def _feed_taps(self, samples: np.ndarray | object) -> None:
        with self._taps_lock:
            taps = list(self._taps)
        for tap in taps:
            tap._put(samples)

    def _write_loop(self) -> None:
        assert self.spec is not None and self.path is not None
        spec = self.spec
        resampler = _Resampler(spec.samplerate)
        level_every = max(1, round(spec.samplerate * self.level_interval_s))
        silence_frames = round(spec.samplerate * self.silence_after_s)
        silence_gain = 10.0 ** (self.silence_dbfs / 20.0)
        next_level_at = level_every
        quiet_run = 0
        warned = False
        acc_sq = 0.0
        acc_peak = 0.0
        acc_n = 0
        last_flush = 0
        reason, message = StopReason.REQUESTED, None
        self._emit(RecordingStarted(self.path, self.device, spec.samplerate, spec.channels))
        while True:
            try:
                item = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self._lost():
                    reason, message = StopReason.DEVICE_LOST, self._lost_message()
                    break
                continue
            if item is _END:
                if not self._stopping.is_set():
                    reason, message = StopReason.DEVICE_LOST, self._lost_message()
                break
            block, overflow = item
            self._last_block = time.monotonic()
            self._overflows += int(overflow)
            block = np.clip(block, -1.0, _MAX24)
            try:
                self._file.write(block)
                if self._frames + len(block) - last_flush >= spec.samplerate * _FLUSH_EVERY_S:
                    self._file.flush()
                    last_flush = self._frames + len(block)
            except Exception as exc:
                reason, message = self._write_failure(exc)
                break
            self._frames += len(block)
            mono = to_mono(block)
            self._feed_taps(resampler.push(mono))
            # Levels, by recorded time (not wall time), about 20 times a second.
            acc_sq += float(np.dot(mono, mono))
            acc_peak = max(acc_peak, float(np.max(np.abs(mono))) if len(mono) else 0.0)
            acc_n += len(mono)
            block_peak = float(np.max(np.abs(block))) if block.size else 0.0
            if block_peak < silence_gain:
                quiet_run += len(block)
            else:
                quiet_run, warned = 0, False
            if self._frames >= next_level_at:
                next_level_at += level_every * (1 + (self._frames - next_level_at) // level_every)
                rms = (acc_sq / acc_n) ** 0.5
                self._emit(LevelChanged(dbfs(rms), dbfs(acc_peak), self.elapsed_s))
                acc_sq = acc_peak = 0.0
                acc_n = 0
            if not warned and quiet_run >= silence_frames:
                warned = True
                self._emit(SilenceWarning(self.silence_after_s, self._silence_message()))
        self._finish(resampler, reason, message)

    def _lost(self) -> bool:
        """The stream has ended by itself, or delivers nothing and says it is inactive."""
        if self._stopping.is_set():
            return False
        if not self._queue.empty():
            # Blocks still wait: the writer is only behind (a busy process can even see
            # get(timeout=...) time out with items queued). They, and any end, come next.
            return False
        if self._stream_ended.is_set():
            return True
        stream = self._stream
        if stream is None:
            return False
        quiet_for = time.monotonic() - self._last_block
        try:
            active = bool(stream.active)
        except Exception:
            active = False
        return quiet_for > _WATCHDOG_S and not active

    def _lost_message(self) -> str:
        name = self.device.name if self.device else "the input device"
        return (
            f"Recording stopped: {name} stopped delivering sound (unplugged?); "
            f"kept the {self.elapsed_s:.1f} s recorded."
        )

    def _silence_message(self) -> str:
        name = self.device.name if self.device else "the input device"
        hint = " or Murmur may not use the microphone" if sys.platform == "darwin" else ""
        return (
            f"No sound from {name} for {self.silence_after_s:.0f} s: is it the right device, "
            f"or muted{hint}?"
        )

    def _write_failure(self, exc: BaseException) -> tuple[StopReason, str]:
        assert self.path is not None
        full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
        if not full:
            with contextlib.suppress(OSError):
                full = shutil.disk_usage(self.path.parent).free < 1 << 20
        kept = f"kept the {self.elapsed_s:.1f} s written"
        if full:
            return StopReason.DISK_FULL, f"Recording stopped: the disk is full; {kept}."
        return (
            StopReason.ERROR,
            f"Recording stopped: can't write {self.path.name} ({_one_line(exc)}); {kept}.",
        )

    def _finish(self, resampler: _Resampler, reason: StopReason, message: str | None) -> None:
        assert self.path is not None and self.spec is not None
        if reason is not StopReason.REQUESTED:
            self._stopping.set()
            self._stop_stream()
        close_error = self._close_file()
        if close_error and reason is StopReason.REQUESTED:
            reason, message = (
                StopReason.ERROR,
                f"Recording: closing {self.path.name} failed ({close_error}).",
            )
        if close_error is None:
            # The file is complete, with its length in the header: nothing to recover.
            self._drop_marker()
        with contextlib.suppress(Exception):
            tail = resampler.flush()
            if len(tail):
                self._feed_taps(tail)
        self._result = Recording(
            path=self.path,
            samplerate=self.spec.samplerate,
            channels=self.spec.channels,
            frames=self._frames,
            reason=reason,
            message=message,
        )
        self._emit(
            RecordingStopped(self.path, self.elapsed_s, reason, message, overflows=self._overflows)
        )
        self._feed_taps(_END)
        self._done.set()


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc) or type(exc).__name__
    return " ".join(text.split())
