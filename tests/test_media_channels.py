"""Audio tracks and channels: which one is read, and a mix that cancels is noticed.

Files are made with ffmpeg from tones at known frequencies, so the decoded audio
shows which track or channel it came from, and at what level.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from app.cli.transcribe import run as cli_run
from app.core.audio import media
from app.core.audio.media import decode_audio, default_track, list_tracks, probe
from app.core.errors import MediaError
from tests import media_layouts, speech

RATE = media.SAMPLE_RATE


def level_db(x: np.ndarray) -> float:
    return 20 * float(np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


def dominant_hz(x: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("tones")
    return {
        name: speech.write_wav(out / f"{name}.wav", speech.tone(3.0, hz, amplitude=0.3))
        for name, hz in (("a", 300.0), ("b", 700.0), ("c", 1100.0))
    }


@pytest.fixture(scope="module")
def three_tracks(tones: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("tracks") / "film.mkv"
    return media_layouts.multi_track_mkv(
        [(tones["a"], "fra", "Music"), (tones["b"], "eng", "Commentary"), (tones["c"], "deu", "")],
        dst,
        default=2,
    )


def test_probe_reports_every_track(three_tracks: Path) -> None:
    info = probe(three_tracks)
    assert [t.index for t in info.tracks] == [1, 2, 3]
    assert [t.language for t in info.tracks] == ["fra", "eng", "deu"]
    assert [t.title for t in info.tracks] == ["Music", "Commentary", ""]
    assert [t.default for t in info.tracks] == [False, True, False]
    assert all(t.codec == "opus" and t.channels == 1 for t in info.tracks)
    assert default_track(info.tracks) == 2 and info.track == 2
    assert info.tracks[1].describe() == 'track 2 (eng, opus, mono, "Commentary", default)'
    assert list_tracks(three_tracks) == info.tracks
    assert probe(three_tracks, track=3).track == 3


def test_decode_reads_the_default_track_or_the_one_asked_for(three_tracks: Path) -> None:
    assert abs(dominant_hz(decode_audio(three_tracks).samples) - 700) < 5  # flagged default
    for track, hz in ((1, 300), (2, 700), (3, 1100)):
        audio = decode_audio(three_tracks, track=track)
        assert abs(dominant_hz(audio.samples) - hz) < 5
        assert audio.info.track == track
        assert abs(audio.duration - 3.0) < 0.05


def test_no_default_flag_means_the_first_track(tones: dict[str, Path], tmp_path: Path) -> None:
    path = media_layouts.multi_track_mkv(
        [(tones["a"], "eng", ""), (tones["b"], "eng", "")], tmp_path / "x.mkv", default=0
    )
    assert [t.default for t in probe(path).tracks] == [False, False]
    assert abs(dominant_hz(decode_audio(path).samples) - 300) < 5


def test_a_missing_track_is_one_clear_line(three_tracks: Path) -> None:
    with pytest.raises(MediaError) as err:
        decode_audio(three_tracks, track=4)
    assert str(err.value) == "film.mkv: there is no audio track 4; the file has 3 audio tracks"


@pytest.mark.parametrize(
    ("name", "codec_args"),
    [
        ("inverted.m4a", ("-ar", "44100", "-c:a", "aac", "-b:a", "128k")),
        ("inverted16k.wav", ("-ar", "16000", "-c:a", "pcm_s16le")),  # the soundfile path
    ],
)
def test_a_mix_that_cancels_uses_the_strongest_channel(
    tones: dict[str, Path], tmp_path: Path, name: str, codec_args: tuple[str, ...]
) -> None:
    path = media_layouts.phase_inverted_stereo(tones["a"], tmp_path / name, codec_args)
    source = level_db(speech.tone(3.0, 300.0, amplitude=0.3))
    mixed = decode_audio(path, channel="mix")
    assert level_db(mixed.samples) < source - 30  # what a plain downmix gives: nothing
    assert mixed.channel_note is None
    auto = decode_audio(path)
    assert abs(level_db(auto.samples) - source) < 1.0
    assert auto.channel_note is not None and "cancel" in auto.channel_note
    assert auto.channel_note.startswith(f"{name}: ") and "\n" not in auto.channel_note
    for side in ("left", "right"):
        one = decode_audio(path, channel=side)
        assert abs(level_db(one.samples) - source) < 1.0 and one.channel_note is None


def test_one_person_per_channel_mixes_and_each_side_can_be_chosen(
    tones: dict[str, Path], tmp_path: Path
) -> None:
    codec = ("-ar", "48000", "-c:a", "flac")
    path = media_layouts.two_channel(tones["a"], tones["c"], tmp_path / "interview.flac", codec)
    auto = decode_audio(path)
    assert auto.channel_note is None  # different voices don't cancel: the mix keeps both
    spectrum = np.abs(np.fft.rfft(auto.samples))
    freqs = np.fft.rfftfreq(len(auto.samples), 1 / RATE)
    for hz in (300, 1100):
        assert spectrum[np.argmin(np.abs(freqs - hz))] > 0.3 * spectrum.max()
    assert abs(dominant_hz(decode_audio(path, channel="left").samples) - 300) < 5
    assert abs(dominant_hz(decode_audio(path, channel="right").samples) - 1100) < 5


@pytest.mark.parametrize(
    ("name", "codec_args"),
    [
        ("centre.mkv", ("-ar", "48000", "-c:a", "ac3", "-b:a", "384k")),
        ("centre.m4a", ("-ar", "48000", "-c:a", "aac", "-b:a", "256k")),
    ],
)
def test_5_1_keeps_its_centre_channel_at_full_level(
    tones: dict[str, Path], tmp_path: Path, name: str, codec_args: tuple[str, ...]
) -> None:
    """FFmpeg's own normalised downmix puts the centre 10.6 dB down; ours keeps it."""
    path = media_layouts.centre_only_51(tones["b"], tmp_path / name, codec_args)
    assert probe(path).channels == 6
    audio = decode_audio(path)
    source = level_db(speech.tone(3.0, 700.0, amplitude=0.3))
    assert abs(level_db(audio.samples) - source) < 1.0
    assert audio.channel_note is None


def test_the_file_is_decoded_once_unless_the_whole_file_disagrees(
    tones: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The phase check decides on the first 30 s while streaming; a second pass only
    when the whole file says otherwise (here: 32 s of silence, then inverted speech)."""
    passes: list[object] = []
    real = media._decode

    def counting(*args: object, **kwargs: object) -> object:
        passes.append(args[-1])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(media, "_decode", counting)
    codec = ("-ar", "44100", "-c:a", "pcm_s16le")
    plain = media_layouts.phase_inverted_stereo(tones["a"], tmp_path / "early.wav", codec)
    assert decode_audio(plain).channel_note is not None and len(passes) == 1

    late_src = speech.write_wav(
        tmp_path / "late_src.wav",
        np.concatenate([np.zeros(32 * RATE, np.float32), speech.tone(3.0, 300.0, amplitude=0.3)]),
    )
    late = media_layouts.phase_inverted_stereo(late_src, tmp_path / "late.wav", codec)
    passes.clear()
    audio = decode_audio(late)
    assert len(passes) == 2 and passes[1] in (0, 1)  # the second pass reads one channel
    tail = audio.samples[33 * RATE : 34 * RATE]
    assert abs(level_db(tail) - level_db(speech.tone(1.0, 300.0, amplitude=0.3))) < 1.0
    assert audio.channel_note is not None
    assert abs(audio.duration - 35.0) < 0.05


def test_unknown_channel_choice_is_refused(tones: dict[str, Path]) -> None:
    with pytest.raises(MediaError, match="unknown channel"):
        decode_audio(tones["a"], channel="centre")


def test_list_tracks_on_the_command_line(three_tracks: Path, tones: dict[str, Path]) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli_run(["--list-tracks", str(three_tracks), str(tones["a"])], err, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{three_tracks}: 3 audio tracks"
    header = lines[1].split()
    assert header == ["#", "language", "codec", "channels", "title", "default"]
    assert lines[2].split() == ["1", "fra", "opus", "1", "(mono)", "Music"]
    assert lines[3].split() == ["2", "eng", "opus", "1", "(mono)", "Commentary", "yes"]
    assert lines[4].split() == ["3", "deu", "opus", "1", "(mono)"]
    assert lines[5] == f"{tones['a']}: 1 audio track"
    assert err.getvalue() == ""


def test_bad_track_options_are_one_line(three_tracks: Path, tmp_path: Path) -> None:
    err = io.StringIO()
    assert cli_run(["--list-tracks", str(tmp_path / "missing.mkv")], err, io.StringIO()) == 1
    assert err.getvalue() == "murmur: error: missing.mkv: file not found\n"
    with pytest.raises(SystemExit) as exit_:
        cli_run([str(three_tracks), "--audio-track", "0"], io.StringIO())
    assert exit_.value.code == 2
