"""Session-scoped pytest fixtures with real test speech (espeak-ng) and bad media.

Loaded by ``tests/conftest.py``. Every file is generated once per test session
under ``tmp_path_factory`` (nothing is downloaded); functions to build more
material are in :mod:`tests.speech`.

Fixtures:

* ``speech_track`` – :class:`~tests.speech.SpeechTrack`: ~10 s, 16 kHz mono
  WAV, 3 short sentences with pauses of 1.0 s and 1.6 s, known onsets/offsets.
* ``speech_wav`` – its path.
* ``long_speech_track`` – ~40 s, 6 sentences, pauses 0.4–2.5 s.
* ``speech_containers`` – dict preset name -> path: the ``speech_track`` in
  every container of :data:`tests.speech.CONTAINERS` (same timings).
* ``speech_mp4_stereo_44k`` – MP4 (AAC 44.1 kHz stereo + small video track).
* ``speech_mp3`` – MP3 44.1 kHz stereo.
* ``speech_quiet_flac`` – the track 30 dB quieter (peak -33 dBFS), FLAC 16 kHz.
* ``quiet_track`` – that file as a SpeechTrack.
* ``truncated_files`` – dict ``"mp3" | "mp4" | "mkv"`` -> the file cut at 60 %.
* ``corrupt_files`` – dict name -> path of inputs that must raise MediaError:
  ``empty``, ``random_bytes``, ``text``, ``video_only``, ``garbled`` (header
  kept, no decodable audio), ``missing``, ``directory``.
* ``silence_wav`` (10 s of digital silence), ``music_wav`` (10 s of chords),
  ``sine_stereo_44k`` (1 kHz sine, 44.1 kHz stereo WAV, 2 s, amplitude 0.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import speech

SHORT_SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella tomorrow.",
    "We will meet her at the station.",
)
SHORT_PAUSES: tuple[float, ...] = (1.0, 1.6)
LONG_PAUSES: tuple[float, ...] = (0.4, 1.5, 0.8, 2.5, 1.2)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def speech_track(audio_dir: Path) -> speech.SpeechTrack:
    return speech.make_track(SHORT_SENTENCES, SHORT_PAUSES, audio_dir, name="speech")


@pytest.fixture(scope="session")
def speech_wav(speech_track: speech.SpeechTrack) -> Path:
    return speech_track.path


@pytest.fixture(scope="session")
def long_speech_track(audio_dir: Path) -> speech.SpeechTrack:
    return speech.make_track(speech.SENTENCES, LONG_PAUSES, audio_dir, name="long_speech")


@pytest.fixture(scope="session")
def speech_containers(speech_track: speech.SpeechTrack, audio_dir: Path) -> dict[str, Path]:
    out = audio_dir / "containers"
    out.mkdir(exist_ok=True)
    return {
        name: speech.convert(speech_track.path, out / f"speech_{name}{suffix}", name)
        for name, (suffix, *_rest) in speech.CONTAINERS.items()
    }


@pytest.fixture(scope="session")
def speech_mp4_stereo_44k(speech_containers: dict[str, Path]) -> Path:
    return speech_containers["mp4"]


@pytest.fixture(scope="session")
def speech_mp3(speech_containers: dict[str, Path]) -> Path:
    return speech_containers["mp3"]


@pytest.fixture(scope="session")
def quiet_track(speech_track: speech.SpeechTrack, audio_dir: Path) -> speech.SpeechTrack:
    path = speech.convert(
        speech_track.path, audio_dir / "speech_quiet_30db.flac", "flac", gain_db=-30.0
    )
    return speech_track.with_path(path)


@pytest.fixture(scope="session")
def speech_quiet_flac(quiet_track: speech.SpeechTrack) -> Path:
    return quiet_track.path


@pytest.fixture(scope="session")
def truncated_files(speech_containers: dict[str, Path], audio_dir: Path) -> dict[str, Path]:
    out = audio_dir / "truncated"
    out.mkdir(exist_ok=True)
    return {
        kind: speech.truncate_file(
            speech_containers[kind], out / f"cut{speech_containers[kind].suffix}", 0.6
        )
        for kind in ("mp3", "mp4", "mkv")
    }


@pytest.fixture(scope="session")
def corrupt_files(speech_containers: dict[str, Path], audio_dir: Path) -> dict[str, Path]:
    out = audio_dir / "bad"
    out.mkdir(exist_ok=True)
    folder = out / "a folder.mp3"
    folder.mkdir(exist_ok=True)
    return {
        "empty": speech.make_empty(out / "empty.wav"),
        "random_bytes": speech.make_random_bytes(out / "random.mp3"),
        "text": speech.make_text_file(out / "notes.mp4"),
        "video_only": speech.make_video_only(out / "video_only.mp4"),
        "garbled": speech.make_garbled(speech_containers["mp4"], out / "garbled.mp4", 3000),
        "missing": out / "does_not_exist.wav",
        "directory": folder,
    }


@pytest.fixture(scope="session")
def silence_wav(audio_dir: Path) -> Path:
    return speech.write_wav(audio_dir / "silence.wav", np.zeros(10 * speech.SAMPLE_RATE))


@pytest.fixture(scope="session")
def music_wav(audio_dir: Path) -> Path:
    return speech.write_wav(audio_dir / "music.wav", speech.music_like(10.0))


@pytest.fixture(scope="session")
def sine_stereo_44k(audio_dir: Path) -> Path:
    sine = speech.tone(2.0, 1000.0, sample_rate=44100, amplitude=0.5)
    return speech.write_wav(
        audio_dir / "sine_1k_44k_stereo.wav", np.stack([sine, sine], axis=1), 44100
    )
