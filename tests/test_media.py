"""Decoding any media to 16 kHz mono float32, and clear errors for bad input."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core.audio.media import SAMPLE_RATE, DecodedAudio, decode_audio, probe
from app.core.errors import Cancelled, MediaError
from tests import speech
from tests.speech import SpeechTrack

ROOT = Path(__file__).resolve().parents[1]

VIDEO_PRESETS = {"mp4", "mov", "mkv", "webm"}


def rms_db(x: np.ndarray) -> float:
    return 20 * float(np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


@pytest.fixture(scope="module")
def reference(speech_track: SpeechTrack) -> np.ndarray:
    data, rate = sf.read(str(speech_track.path), dtype="float32")
    assert rate == SAMPLE_RATE
    return data


@pytest.mark.parametrize("preset", sorted(speech.CONTAINERS))
def test_every_container_decodes_with_right_duration_and_level(
    preset: str,
    speech_containers: dict[str, Path],
    speech_track: SpeechTrack,
    reference: np.ndarray,
) -> None:
    path = speech_containers[preset]
    decoded = decode_audio(path)
    assert isinstance(decoded, DecodedAudio)
    assert decoded.sample_rate == SAMPLE_RATE
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    assert abs(decoded.duration - speech_track.duration) < 0.05
    assert not decoded.truncated and decoded.warning is None
    # Mono mixdown is the channel average: same signal on both channels keeps its level.
    assert abs(rms_db(decoded.samples) - rms_db(reference)) < 1.0
    assert decoded.info.has_video == (preset in VIDEO_PRESETS)
    assert np.abs(decoded.samples).max() <= 1.0


@pytest.mark.parametrize("preset", ["wav16k", "flac", "mp3", "m4a", "mp4", "mkv", "webm"])
def test_decoded_audio_is_aligned_with_the_source(
    preset: str, speech_containers: dict[str, Path], reference: np.ndarray
) -> None:
    """The waveform itself comes through (not just its length): correlate with the source."""
    got = decode_audio(speech_containers[preset]).samples
    n = min(len(got), len(reference))
    lags = range(-200, 201, 1)
    a = reference[4000 : n - 4000]
    scores = [float(np.dot(a, got[4000 + lag : n - 4000 + lag])) for lag in lags]
    best = int(np.argmax(scores))
    assert abs(lags[best]) <= 80  # within 5 ms (codec delay)
    corr = scores[best] / (np.linalg.norm(a) * np.linalg.norm(got[4000 + lags[best] :][: len(a)]))
    assert corr > 0.9


def test_probe_is_cheap_and_reports_the_stream(
    speech_containers: dict[str, Path], speech_track: SpeechTrack
) -> None:
    info = probe(speech_containers["mp4"])
    assert info.duration is not None and abs(info.duration - speech_track.duration) < 0.05
    assert info.has_video and info.codec == "aac"
    assert info.sample_rate == 44100 and info.channels == 2
    info = probe(speech_containers["mp3"])
    assert not info.has_video and info.codec.startswith("mp3")
    assert info.duration is not None and abs(info.duration - speech_track.duration) < 0.1
    info = probe(speech_containers["wav8k"])
    assert info.sample_rate == 8000 and info.channels == 1


def test_stereo_44k_resamples_to_16k_mono(sine_stereo_44k: Path) -> None:
    decoded = decode_audio(sine_stereo_44k)
    x = decoded.samples
    assert decoded.info.sample_rate == 44100 and decoded.info.channels == 2
    assert abs(len(x) - 2 * SAMPLE_RATE) <= 16
    spectrum = np.abs(np.fft.rfft(x[1000:-1000] * np.hanning(len(x) - 2000)))
    freqs = np.fft.rfftfreq(len(x) - 2000, 1 / SAMPLE_RATE)
    assert abs(freqs[int(np.argmax(spectrum))] - 1000.0) < 2.0
    # Amplitude 0.5 on both channels stays 0.5 (average, not sum).
    assert abs(np.abs(x[1000:-1000]).max() - 0.5) < 0.02


def test_mixdown_is_the_average_of_the_channels(tmp_path: Path) -> None:
    left = speech.tone(1.0, 440.0, sample_rate=48000, amplitude=0.6)
    right = np.zeros_like(left)
    path = speech.write_wav(tmp_path / "left_only.wav", np.stack([left, right], axis=1), 48000)
    x = decode_audio(path).samples
    assert abs(np.abs(x[500:-500]).max() - 0.3) < 0.02


def test_8k_wav_is_upsampled(speech_containers: dict[str, Path], speech_track: SpeechTrack) -> None:
    decoded = decode_audio(speech_containers["wav8k"])
    assert decoded.info.sample_rate == 8000
    assert abs(decoded.duration - speech_track.duration) < 0.01
    # Nothing above the source's Nyquist frequency appears.
    spectrum = np.abs(np.fft.rfft(decoded.samples))
    freqs = np.fft.rfftfreq(len(decoded.samples), 1 / SAMPLE_RATE)
    assert spectrum[freqs > 4300].sum() < 0.01 * spectrum.sum()


@pytest.mark.parametrize(
    "name", ["empty", "random_bytes", "text", "video_only", "garbled", "missing", "directory"]
)
def test_bad_input_raises_media_error_with_file_name(
    name: str, corrupt_files: dict[str, Path]
) -> None:
    """Each bad input is decoded in a fresh process, as the CLI would: damaged data goes
    through FFmpeg's decoders, and a native crash must show up as this test failing
    (exit status < 0), not take the whole suite down."""
    path = corrupt_files[name]
    probe_script = (
        "import sys\n"
        "from app.core.audio.media import decode_audio\n"
        "from app.core.errors import MediaError\n"
        "try:\n"
        "    decode_audio(sys.argv[1])\n"
        "except MediaError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    sys.exit('decoded without a MediaError')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe_script, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    message = done.stdout.rstrip("\n")
    assert message.startswith(f"{path.name}: ")
    assert "\n" not in message and len(message) < 200
    if name != "garbled":  # a garbled stream is only found out by decoding
        with pytest.raises(MediaError, match=path.name):
            probe(path)


def test_bad_input_reasons_are_specific(corrupt_files: dict[str, Path]) -> None:
    def reason(name: str) -> str:
        with pytest.raises(MediaError) as excinfo:
            decode_audio(corrupt_files[name])
        return str(excinfo.value).split(": ", 1)[1]

    assert "empty" in reason("empty")
    assert "not found" in reason("missing")
    assert "folder" in reason("directory")
    assert "audio" in reason("video_only")
    assert "decodable" in reason("garbled")
    assert "not a media file" in reason("random_bytes")


@pytest.mark.parametrize("kind", ["mp3", "mp4", "mkv"])
def test_truncated_file_decodes_as_far_as_it_goes(
    kind: str,
    truncated_files: dict[str, Path],
    speech_track: SpeechTrack,
    reference: np.ndarray,
) -> None:
    path = truncated_files[kind]
    decoded = decode_audio(path)
    assert decoded.truncated
    assert decoded.warning is not None and "\n" not in decoded.warning
    assert decoded.warning.startswith(f"{path.name}: ") and "decoded" in decoded.warning
    assert 0.3 * speech_track.duration < decoded.duration < 0.8 * speech_track.duration
    # The head that did decode is the real audio.
    head = decoded.samples[8000:40000]
    ref = reference[8000:40000]
    corr = float(np.dot(head, ref) / (np.linalg.norm(head) * np.linalg.norm(ref)))
    assert corr > 0.9


def test_cancel_stops_decoding(speech_containers: dict[str, Path]) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        decode_audio(speech_containers["mp3"], cancel=cancel)


@pytest.fixture(scope="module")
def long_noise(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Five minutes of quiet noise as WAV at 8 kHz (decoded by PyAV, resampled) and at
    16 kHz (read by soundfile)."""
    folder = tmp_path_factory.mktemp("long noise")
    noise = np.random.default_rng(7).standard_normal(300 * 16000).astype(np.float32) * 0.01
    out = {16000: folder / "noise16k.wav", 8000: folder / "noise8k.wav"}
    sf.write(out[16000], noise, 16000, subtype="PCM_16")
    sf.write(out[8000], noise[::2], 8000, subtype="PCM_16")
    return out


@pytest.mark.parametrize("rate", [8000, 16000], ids=["pyav", "soundfile"])
def test_cancel_during_decoding_stops_mid_way(long_noise: dict[int, Path], rate: int) -> None:
    """Cancel set at the first progress report stops the decode loop at its next check,
    long before the end of the file (not only at the final check after decoding)."""
    cancel = threading.Event()
    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        cancel.set()

    with pytest.raises(Cancelled):
        decode_audio(long_noise[rate], cancel=cancel, progress=progress)
    assert len(seen) == 1 and seen[0] < 0.1, seen


def test_progress_is_reported_up_to_one(speech_containers: dict[str, Path]) -> None:
    seen: list[float] = []
    decode_audio(speech_containers["mp3"], progress=seen.append)
    assert seen and seen[-1] == 1.0
    assert all(0.0 <= a <= b <= 1.0 for a, b in itertools.pairwise(seen))


def test_importing_the_core_is_cheap() -> None:
    code = (
        "import sys, app.core.audio.media, app.core.audio.vad, app.core.audio.chunking\n"
        "heavy = [m for m in ('av', 'torch', 'silero_vad', 'soundfile', 'PySide6')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_damaged_middle_keeps_later_audio_in_place(
    speech_containers: dict[str, Path], reference: np.ndarray, tmp_path: Path
) -> None:
    """Corrupt packets in the middle are skipped and the gap is filled with silence,
    so the audio after the damage keeps its time (MP4 timestamps tell where it goes)."""
    damaged = speech.damage_middle(speech_containers["mp4"], tmp_path / "damaged.mp4", 0.45, 0.5)
    decoded = decode_audio(damaged)
    assert decoded.warning is not None and decoded.warning.startswith("damaged.mp4: ")
    assert abs(decoded.duration - len(reference) / SAMPLE_RATE) < 0.05
    tail_ref = reference[-3 * SAMPLE_RATE : -SAMPLE_RATE // 2]
    tail = decoded.samples[len(reference) - 3 * SAMPLE_RATE : len(reference) - SAMPLE_RATE // 2]
    corr = float(np.dot(tail, tail_ref) / (np.linalg.norm(tail) * np.linalg.norm(tail_ref)))
    assert corr > 0.8


def test_mp3_cover_art_is_not_video(speech_track: SpeechTrack, tmp_path: Path) -> None:
    path = speech.make_mp3_with_cover(speech_track.path, tmp_path / "podcast.mp3")
    info = probe(path)
    assert not info.has_video
    decoded = decode_audio(path)
    assert abs(decoded.duration - speech_track.duration) < 0.05
