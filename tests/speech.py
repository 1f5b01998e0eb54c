"""Make real test speech with espeak-ng, with known sentence timings.

Everything here is plain functions so that any test (or benchmark) can build
its own material. ``tests/fixtures_audio.py`` wraps the common cases in
session-scoped fixtures.

A *track* is several sentences with pauses of known length between them. The
speech inside each espeak WAV is measured with an energy threshold (espeak adds
silence around its speech) and trimmed, so the onset and offset of every
sentence in the track are known to within one 10 ms frame.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000

SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things from the store.",
    "Six spoons of fresh snow peas and a big blue cheese for her brother Bob.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags, and we will meet her at the station.",
    "A large bird flew over the old stone bridge in the early morning light.",
)

# ffmpeg presets: name -> (suffix, codec arguments, channels, video track?).
# Stereo presets put the same signal at full level on both channels.
CONTAINERS: dict[str, tuple[str, tuple[str, ...], int, bool]] = {
    "wav16k": (".wav", ("-ar", "16000", "-c:a", "pcm_s16le"), 1, False),
    "wav8k": (".wav", ("-ar", "8000", "-c:a", "pcm_s16le"), 1, False),
    "wav44k_stereo": (".wav", ("-ar", "44100", "-c:a", "pcm_s16le"), 2, False),
    "flac": (".flac", ("-c:a", "flac"), 1, False),
    "mp3": (".mp3", ("-ar", "44100", "-c:a", "libmp3lame", "-b:a", "96k"), 2, False),
    "ogg_opus": (".ogg", ("-ar", "48000", "-c:a", "libopus", "-b:a", "48k"), 2, False),
    "m4a": (".m4a", ("-ar", "44100", "-c:a", "aac", "-b:a", "96k"), 2, False),
    "mp4": (
        ".mp4",
        ("-ar", "44100", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"),
        2,
        True,
    ),
    "mov": (".mov", ("-ar", "48000", "-c:a", "aac", "-b:a", "96k"), 2, True),
    "mkv": (".mkv", ("-ar", "48000", "-c:a", "libopus", "-b:a", "48k"), 2, True),
    "webm": (".webm", ("-ar", "48000", "-c:a", "libopus", "-b:a", "48k"), 2, True),
}

_VIDEO_ARGS: dict[str, tuple[str, ...]] = {
    ".mp4": ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    ".mov": ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    ".mkv": ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    ".webm": ("-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "50k"),
}


@dataclass(frozen=True)
class SpeechTrack:
    """A generated audio file with known sentence timings (seconds)."""

    path: Path
    sentences: tuple[str, ...]
    onsets: tuple[float, ...]
    offsets: tuple[float, ...]
    duration: float
    sample_rate: int = SAMPLE_RATE
    gain_db: float = 0.0

    @property
    def pauses(self) -> tuple[float, ...]:
        """Silence between consecutive sentences."""
        return tuple(b - a for a, b in zip(self.offsets[:-1], self.onsets[1:], strict=True))

    def with_path(self, path: Path) -> SpeechTrack:
        """The same timings for another file (e.g. the track in another container)."""
        return replace(self, path=Path(path))


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is needed to make test speech but is not installed")
    return path


def _run(args: Sequence[str]) -> None:
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {' | '.join(tail)}")


def _read_mono(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1).astype(np.float32), int(rate)


def synthesize(
    text: str,
    cache_dir: Path,
    *,
    voice: str = "en-us",
    speed: int = 160,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """espeak-ng speech for ``text`` as float32 mono at ``sample_rate`` (cached on disk)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(f"{voice}|{speed}|{sample_rate}|{text}".encode()).hexdigest()[:16]
    out = cache_dir / f"espeak-{key}.wav"
    if not out.exists():
        raw = cache_dir / f"espeak-{key}.raw.wav"
        _run([require_tool("espeak-ng"), "-v", voice, "-s", str(speed), "-w", str(raw), text])
        tmp = cache_dir / f"espeak-{key}.tmp.wav"
        _run(
            [
                require_tool("sox"),
                "-R",  # repeatable: the dither's noise is seeded, the same in every run
                str(raw),
                "-r",
                str(sample_rate),
                "-b",
                "16",
                str(tmp),
            ]
        )
        os.replace(tmp, out)
        raw.unlink(missing_ok=True)
    samples, rate = _read_mono(out)
    assert rate == sample_rate
    return samples


def frame_rms_db(samples: np.ndarray, sample_rate: int, frame_s: float = 0.01) -> np.ndarray:
    """RMS level of consecutive frames, in dB relative to full scale."""
    hop = max(1, round(frame_s * sample_rate))
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0)
    frames = samples[: n * hop].astype(np.float64).reshape(n, hop)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def speech_bounds(
    samples: np.ndarray, sample_rate: int, *, below_peak_db: float = 35.0, frame_s: float = 0.01
) -> tuple[int, int]:
    """(first, end) sample indices of the speech in ``samples`` by an energy threshold.

    A frame is speech when its RMS is within ``below_peak_db`` of the loudest frame.
    """
    db = frame_rms_db(samples, sample_rate, frame_s)
    if db.size == 0:
        raise ValueError("no audio")
    active = np.flatnonzero(db >= db.max() - below_peak_db)
    hop = max(1, round(frame_s * sample_rate))
    return int(active[0] * hop), int(min(len(samples), (active[-1] + 1) * hop))


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def peak_dbfs(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20.0 * np.log10(max(peak, 1e-10))


def build_track_samples(
    sentences: Sequence[str],
    pauses: Sequence[float],
    cache_dir: Path,
    *,
    sample_rate: int = SAMPLE_RATE,
    lead_s: float = 0.5,
    tail_s: float = 0.5,
    gain_db: float = 0.0,
    peak_dbfs_target: float | None = -3.0,
    noise_dbfs: float | None = None,
    seed: int = 0,
    voices: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[float], list[float]]:
    """Samples of the sentences separated by ``pauses`` seconds, and their onsets/offsets.

    The speech is first scaled to ``peak_dbfs_target`` (if given), then by ``gain_db``.
    ``noise_dbfs`` adds white noise with that RMS level everywhere. ``voices``
    (one espeak-ng voice per sentence, e.g. ``"en-gb+f4"``) makes a conversation.
    """
    if len(pauses) != max(0, len(sentences) - 1):
        raise ValueError("need one pause between each pair of sentences")
    parts: list[np.ndarray] = [np.zeros(round(lead_s * sample_rate), np.float32)]
    onsets: list[float] = []
    offsets: list[float] = []
    pos = len(parts[0])
    for i, text in enumerate(sentences):
        voice = voices[i] if voices else "en-us"
        speech = synthesize(text, Path(cache_dir), voice=voice, sample_rate=sample_rate)
        first, end = speech_bounds(speech, sample_rate)
        speech = speech[first:end]
        onsets.append(pos / sample_rate)
        offsets.append((pos + len(speech)) / sample_rate)
        parts.append(speech)
        pos += len(speech)
        gap = pauses[i] if i < len(pauses) else tail_s
        silence = np.zeros(round(gap * sample_rate), np.float32)
        parts.append(silence)
        pos += len(silence)
    samples = np.concatenate(parts).astype(np.float32)
    if peak_dbfs_target is not None:
        samples *= db_to_gain(peak_dbfs_target) / max(1e-9, float(np.abs(samples).max()))
    samples *= db_to_gain(gain_db)
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        samples += rng.standard_normal(len(samples)).astype(np.float32) * db_to_gain(noise_dbfs)
    return samples, onsets, offsets


def conversation(
    voices: Sequence[str], sentences: int, cache: Path, seed: int = 1
) -> tuple[np.ndarray, list[str], list[float], list[float]]:
    """Voices taking turns, one sentence each, 0.5-1.5 s apart: samples, each
    sentence's voice, onsets and offsets."""
    rng = np.random.default_rng(seed)
    texts = [SENTENCES[i % len(SENTENCES)] for i in range(sentences)]
    who = [voices[i % len(voices)] for i in range(sentences)]
    pauses = [float(p) for p in rng.uniform(0.5, 1.5, sentences - 1)]
    samples, onsets, offsets = build_track_samples(texts, pauses, cache, voices=who)
    return samples, who, onsets, offsets


def make_track(
    sentences: Sequence[str],
    pauses: Sequence[float],
    out_dir: Path,
    *,
    name: str = "track",
    sample_rate: int = SAMPLE_RATE,
    lead_s: float = 0.5,
    tail_s: float = 0.5,
    gain_db: float = 0.0,
    peak_dbfs_target: float | None = -3.0,
    noise_dbfs: float | None = None,
    seed: int = 0,
) -> SpeechTrack:
    """Write a 16-bit mono WAV of the sentences with known pauses; return its timings.

    ``pauses`` has one entry less than ``sentences``. ``gain_db`` attenuates
    (negative) or amplifies the whole track after it is scaled to
    ``peak_dbfs_target``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples, onsets, offsets = build_track_samples(
        sentences,
        pauses,
        out_dir / "espeak-cache",
        sample_rate=sample_rate,
        lead_s=lead_s,
        tail_s=tail_s,
        gain_db=gain_db,
        peak_dbfs_target=peak_dbfs_target,
        noise_dbfs=noise_dbfs,
        seed=seed,
    )
    path = out_dir / f"{name}.wav"
    sf.write(str(path), np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16")
    return SpeechTrack(
        path=path,
        sentences=tuple(sentences),
        onsets=tuple(onsets),
        offsets=tuple(offsets),
        duration=len(samples) / sample_rate,
        sample_rate=sample_rate,
        gain_db=gain_db,
    )


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write float samples (mono, or (n, channels)) as a 16-bit WAV."""
    sf.write(str(path), np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16")
    return Path(path)


def convert(
    src: Path,
    dst: Path,
    preset: str | None = None,
    *,
    extra_args: Sequence[str] = (),
    gain_db: float = 0.0,
    video: bool | None = None,
) -> Path:
    """Re-encode ``src`` (a WAV/FLAC) with ffmpeg into ``dst`` using a preset from
    :data:`CONTAINERS`.

    With ``video`` (default: the preset's choice) a small black video track as
    long as the audio is added (``src`` must then be a file soundfile can read).
    """
    src, dst = Path(src), Path(dst)
    args: list[str] = [require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-i", str(src)]
    codec_args: tuple[str, ...] = ()
    channels = 0
    want_video = False
    if preset is not None:
        _suffix, codec_args, channels, want_video = CONTAINERS[preset]
    if video is not None:
        want_video = video
    if want_video:
        seconds = sf.info(str(src)).duration
        args += ["-f", "lavfi", "-i", f"color=c=black:s=160x120:r=5:d={seconds:.3f}"]
        args += ["-map", "0:a:0", "-map", "1:v:0"]
        args += list(_VIDEO_ARGS.get(dst.suffix.lower(), _VIDEO_ARGS[".mkv"]))
    filters: list[str] = []
    extra = list(extra_args)
    if "-af" in extra:  # merge a caller's audio filter with ours (ffmpeg keeps only one -af)
        i = extra.index("-af")
        filters.append(extra[i + 1])
        del extra[i : i + 2]
    if channels == 2 and sf.info(str(src)).channels == 1:
        filters.append("pan=stereo|c0=c0|c1=c0")
    elif channels:
        args += ["-ac", str(channels)]
    if gain_db:
        filters.append(f"volume={gain_db}dB")
    if filters:
        args += ["-af", ",".join(filters)]
    args += list(codec_args) + extra + [str(dst)]
    _run(args)
    return dst


def tone(
    seconds: float,
    freq: float,
    sample_rate: int = SAMPLE_RATE,
    amplitude: float = 0.5,
) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def music_like(seconds: float, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A sustained chord progression with a soft noise bed: music-ish, not speech."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n, np.float64)
    chord_s = 2.0
    roots = (220.0, 246.94, 196.0, 261.63)
    for k in range(int(np.ceil(seconds / chord_s))):
        a, b = round(k * chord_s * sample_rate), min(n, round((k + 1) * chord_s * sample_rate))
        root = roots[k % len(roots)]
        for ratio in (1.0, 1.26, 1.5, 2.0):
            out[a:b] += 0.08 * np.sin(2 * np.pi * root * ratio * t[a:b])
    out += 0.01 * rng.standard_normal(n)
    return out.astype(np.float32)


def truncate_file(src: Path, dst: Path, fraction: float) -> Path:
    """Copy the first ``fraction`` of the bytes of ``src`` to ``dst``."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def make_video_only(dst: Path, seconds: float = 2.0) -> Path:
    """An MP4 with a video stream and no audio stream."""
    _run(
        [
            require_tool("ffmpeg"),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c=black:s=160x120:r=5:d={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(dst),
        ]
    )
    return Path(dst)


def make_random_bytes(dst: Path, size: int = 65536, seed: int = 0) -> Path:
    Path(dst).write_bytes(np.random.default_rng(seed).bytes(size))
    return Path(dst)


def make_empty(dst: Path) -> Path:
    Path(dst).write_bytes(b"")
    return Path(dst)


def make_text_file(dst: Path) -> Path:
    Path(dst).write_text("This is not a media file.\n" * 50, encoding="utf-8")
    return Path(dst)


def make_garbled(src: Path, dst: Path, keep_bytes: int = 4096, seed: int = 0) -> Path:
    """Keep the container header of ``src`` and replace all coded data with random bytes."""
    data = bytearray(Path(src).read_bytes())
    rng = np.random.default_rng(seed)
    data[keep_bytes:] = rng.bytes(len(data) - keep_bytes)
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def damage_middle(src: Path, dst: Path, start: float, end: float, seed: int = 3) -> Path:
    """``src`` with the bytes from ``start`` to ``end`` (fractions of its size) replaced by
    random ones: packets damaged in the middle, header and tail intact."""
    data = bytearray(Path(src).read_bytes())
    a, b = int(len(data) * start), int(len(data) * end)
    data[a:b] = np.random.default_rng(seed).bytes(b - a)
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def make_mp3_with_cover(src: Path, dst: Path) -> Path:
    """An MP3 with cover art (an attached-picture video stream), like many podcasts."""
    dst = Path(dst)
    cover = dst.with_suffix(".cover.png")
    ffmpeg = require_tool("ffmpeg")
    quiet = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    _run([*quiet, "-f", "lavfi", "-i", "color=c=red:s=64x64:d=0.2", "-frames:v", "1", str(cover)])
    _run(
        [
            *quiet,
            "-i",
            str(src),
            "-i",
            str(cover),
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            "-c:v",
            "mjpeg",
            "-disposition:v",
            "attached_pic",
            "-id3v2_version",
            "3",
            str(dst),
        ]
    )
    return dst
