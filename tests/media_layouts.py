"""Media laid out as users really have it, made with ffmpeg from mono WAVs.

Several audio tracks in one MKV, stereo with one channel phase-inverted, 5.1 with
the dialogue in the centre channel only.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.speech import require_tool


def _ffmpeg(args: Sequence[str]) -> None:
    cmd = [require_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, capture_output=True)


def multi_track_mkv(
    tracks: Sequence[tuple[Path, str, str]], dst: Path, default: int = 1, codec: str = "libopus"
) -> Path:
    """One MKV audio track per ``(mono wav, language, title)``; track ``default`` (1-based)
    is flagged default, the others not."""
    args: list[str] = []
    for src, _, _ in tracks:
        args += ["-i", str(src)]
    for i in range(len(tracks)):
        args += ["-map", f"{i}:a:0"]
    args += ["-c:a", codec, "-b:a", "64k", "-ar", "48000"]
    for i, (_, language, title) in enumerate(tracks):
        args += [f"-metadata:s:a:{i}", f"language={language}"]
        args += [f"-metadata:s:a:{i}", f"title={title}"]
        args += [f"-disposition:a:{i}", "default" if i + 1 == default else "0"]
    _ffmpeg([*args, str(dst)])
    return dst


def phase_inverted_stereo(src: Path, dst: Path, codec_args: Sequence[str] = ()) -> Path:
    """Stereo whose right channel is the left one upside down: sounds fine, mixes to nothing."""
    _ffmpeg(["-i", str(src), "-af", "pan=stereo|c0=c0|c1=-1*c0", *codec_args, str(dst)])
    return dst


def two_channel(left: Path, right: Path, dst: Path, codec_args: Sequence[str] = ()) -> Path:
    """Stereo with one mono source per channel (an interview, one person per channel)."""
    graph = "[0:a][1:a]join=inputs=2:channel_layout=stereo[a]"
    inputs = ["-i", str(left), "-i", str(right)]
    _ffmpeg([*inputs, "-filter_complex", graph, "-map", "[a]", *codec_args, str(dst)])
    return dst


def centre_only_51(src: Path, dst: Path, codec_args: Sequence[str] = ()) -> Path:
    """5.1 with the source in the centre channel and the other five silent."""
    _ffmpeg(["-i", str(src), "-af", "pan=5.1|FC=c0", *codec_args, str(dst)])
    return dst
