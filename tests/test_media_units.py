"""`app.core.audio.media` piece by piece, with written-out values and tiny inputs.

Frames are made in Python (``av.AudioFrame``) where a test needs an exact layout, rate,
time stamp or a gap; files are a few seconds long. Together with the fast tests of
``tests/test_media.py`` and ``tests/test_media_channels.py`` this file is the test
selection of a mutation run of ``media.py`` (see docs/MUTATION.md).
"""

from __future__ import annotations

import os
import re
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from app.core.audio import media
from app.core.audio.media import (
    AudioTrack,
    MediaInfo,
    StreamedSamples,
    decode_audio,
    default_track,
    format_duration,
    probe,
    release_samples,
)
from app.core.errors import Cancelled, MediaError
from tests import speech

RATE = media.SAMPLE_RATE


def track(index: int, **kw: Any) -> AudioTrack:
    values: dict[str, Any] = {
        "index": index,
        "stream_index": index,
        "codec": "aac",
        "channels": 2,
        "layout": "stereo",
        "sample_rate": 48000,
        "language": "",
        "title": "",
        "default": False,
    }
    values.update(kw)
    return AudioTrack(**values)


def info(duration: float | None, *, has_video: bool = False) -> MediaInfo:
    return MediaInfo("x", duration, has_video, "aac", 48000, 2)


def frame(
    samples: np.ndarray, layout: str = "stereo", rate: int = 48000, pts: int | None = None
) -> Any:
    """A planar float frame of ``samples`` (channels, n); ``pts`` in samples at ``rate``."""
    import av

    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32), "fltp", layout)
    out.sample_rate = rate
    if pts is not None:
        out.pts = pts
        out.time_base = Fraction(1, rate)
    return out


# --------------------------------------------------------------------------- descriptions


def test_track_descriptions() -> None:
    assert track(1).describe() == "track 1 (aac, stereo)"
    full = track(2, language="eng", title="Commentary", default=True, codec="opus")
    assert full.describe() == 'track 2 (eng, opus, stereo, "Commentary", default)'
    assert track(3, layout="", channels=3).describe() == "track 3 (aac, 3 ch)"


def test_default_track_is_the_flagged_one_else_the_first() -> None:
    assert default_track([track(1), track(2, default=True), track(3, default=True)]) == 2
    assert default_track([track(1), track(2)]) == 1
    assert default_track([]) == 1


def test_format_duration() -> None:
    assert format_duration(0) == "0.0 s"
    assert format_duration(6.44) == "6.4 s"
    assert format_duration(59.94) == "59.9 s"
    assert format_duration(60) == "1:00"
    assert format_duration(75.4) == "1:15"
    assert format_duration(3599.6) == "1:00:00"
    assert format_duration(3725) == "1:02:05"


def test_decoded_duration_is_samples_over_rate() -> None:
    audio = media.DecodedAudio(np.zeros(24000, np.float32), 16000, info(1.5), False, None)
    assert audio.duration == 1.5 and audio.channel_note is None


def test_one_line_reasons() -> None:
    assert media._one_line(OSError(2, "No such\n  file")) == "No such file"
    assert media._one_line(ValueError("bad   value\nhere")) == "bad value here"
    assert media._one_line(ValueError()) == "ValueError"


# --------------------------------------------------------------------------- bad files


def test_files_that_are_not_media_files(tmp_path: Path) -> None:
    def reason(path: str | Path) -> str:
        with pytest.raises(MediaError) as err:
            probe(path)
        return str(err.value)

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all\n" * 100, encoding="utf-8")
    assert reason(tmp_path / "gone.wav") == "gone.wav: file not found"
    assert reason(tmp_path) == f"{tmp_path.name}: is a folder, not a media file"
    assert reason(fifo) == "pipe.wav: not a regular file"
    assert reason(empty) == "empty.wav: the file is empty"
    assert reason("") == ": not a file"
    assert reason(text) == (
        "notes.mp3: not a media file, or damaged, or in a format that can't be read"
    )


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root reads any file, so the refusal is made by hand, as the OS would."""
    path = tmp_path / "locked.wav"
    sf.write(path, np.zeros(1600, np.float32), RATE)
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(MediaError) as err:
        probe(path)
    assert str(err.value) == "locked.wav: permission denied"

    def broken(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "open", broken)
    with pytest.raises(MediaError) as err:
        probe(path)
    assert str(err.value) == "locked.wav: can't read the file (Input/output error)"


def test_unknown_channel_is_named() -> None:
    with pytest.raises(MediaError) as err:
        decode_audio("anything.wav", channel="centre")
    assert str(err.value) == "unknown channel 'centre'; choose from auto, mix, left, right"


# --------------------------------------------------------------------------- cut short


def test_cut_short_tolerances() -> None:
    # audio: 0.5 s or 1 % of the declared duration
    assert not media._cut_short(9.5, info(10.0), True)
    assert media._cut_short(9.49, info(10.0), True)
    assert not media._cut_short(990.0, info(1000.0), True)
    assert media._cut_short(989.9, info(1000.0), True)
    # video whose audio length is not declared: 2 s or 5 %
    assert not media._cut_short(8.0, info(10.0, has_video=True), False)
    assert media._cut_short(7.9, info(10.0, has_video=True), False)
    assert not media._cut_short(950.0, info(1000.0, has_video=True), False)
    assert media._cut_short(949.0, info(1000.0, has_video=True), False)
    # the audio declares its length: the audio's tolerance even with video
    assert media._cut_short(9.0, info(10.0, has_video=True), True)
    assert not media._cut_short(0.0, info(None), True)


# --------------------------------------------------------------------------- channels


def test_channel_names_and_mix_weights() -> None:
    import av

    assert media._channel_names(av.AudioLayout("stereo")) == ("FL", "FR")
    assert media._channel_names(av.AudioLayout("5.1")) == ("FL", "FR", "FC", "LFE", "BL", "BR")
    assert media._mix_weights(()).tolist() == [1.0]
    assert media._mix_weights(("FC",)).tolist() == [1.0]
    assert media._mix_weights(("FL", "FR")).tolist() == [0.5, 0.5]
    weights = media._mix_weights(("FL", "FR", "FC", "LFE", "BL", "BR"))
    assert weights.tolist() == pytest.approx([0.5, 0.5, 1.0, 0.0, 0.35, 0.35])
    assert media._mix_weights(("c0", "c1", "c2", "c3")).tolist() == [0.25] * 4
    assert media._mix_weights(("FL", "FR")).dtype == np.float32


def test_unnamed_channels_are_read_as_mono_or_left_right() -> None:
    class Layout:
        def __init__(self, *names: str) -> None:
            self.channels = [type("C", (), {"name": n})() for n in names]

    assert media._channel_names(Layout("USR0")) == ("FC",)
    assert media._channel_names(Layout("USR0", "USR1")) == ("FL", "FR")
    assert media._channel_names(Layout("USR0", "USR1", "USR2")) == ("USR0", "USR1", "USR2")


def test_channel_choice_by_name() -> None:
    assert media._pick_channel(("FL", "FR"), "left") == 0
    assert media._pick_channel(("FL", "FR"), "right") == 1
    assert media._pick_channel(("FC", "FR", "FL"), "left") == 2
    assert media._pick_channel(("FC", "FR", "FL"), "right") == 1
    assert media._pick_channel(("c0", "c1"), "left") == 0
    assert media._pick_channel(("c0", "c1"), "right") == 1
    assert media._pick_channel(("FC",), "right") == 0
    assert media._channel_name(("FL", "FR", "FC", "BL"), 0) == "left"
    assert media._channel_name(("FL", "FR", "FC", "BL"), 1) == "right"
    assert media._channel_name(("FL", "FR", "FC", "BL"), 2) == "centre"
    assert media._channel_name(("FL", "FR", "FC", "BL"), 3) == "BL"
    assert media._channel_name(("FL",), 3) == "channel 4"
    assert media._channel_name(("FL",), 1) == "channel 2"
    assert media._pick_channel(("FR", "FL"), "right") == 0
    assert media._pick_channel(("FR", "FL"), "left") == 1


class Sink:
    """What a mixer writes into (the real buffer, read back at the end)."""

    def __init__(self) -> None:
        self.buffer = media._SampleBuffer(0)

    def samples(self) -> np.ndarray:
        return self.buffer.finish()


def test_mixer_keeps_short_streams_until_it_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media, "_PHASE_CHECK_S", 0.001)  # 16 samples at 16 kHz
    sink = Sink()
    mixer = media._ChannelMixer(sink.buffer, "auto", RATE)
    left = np.full(10, 0.4, np.float32)
    mixer.add(np.stack([left, left * 0.5]), ("FL", "FR"))
    assert (sink.buffer.size, mixer.size) == (0, 10)  # held back
    mixer.add(np.stack([left, left * 0.5]), ("FL", "FR"))
    assert (sink.buffer.size, mixer.size) == (20, 20)  # decided: the mix
    mixer.add(np.zeros((2, 0), np.float32), ("FL", "FR"))  # an empty block changes nothing
    mixer.add_silence(3)
    mixer.add_silence(0)
    mixer.finish()
    assert sink.samples().tolist() == pytest.approx([0.3] * 20 + [0.0] * 3)
    assert mixer.note is None and mixer.second_opinion() is None


def test_mixer_uses_the_strongest_channel_when_the_mix_cancels() -> None:
    sink = Sink()
    mixer = media._ChannelMixer(sink.buffer, "auto", RATE)
    wave = np.sin(np.linspace(0, 60, 4000)).astype(np.float32) * 0.5
    mixer.add(np.stack([wave * 0.9, -wave]), ("FL", "FR"))
    mixer.add_silence(5)  # held with the rest, as two silent channels
    mixer.finish()
    out = sink.samples()
    assert len(out) == 4005
    assert np.allclose(out[:4000], -wave) and not out[4000:].any()
    assert mixer.note == (
        "the channels cancel each other out when mixed (one is probably phase-inverted); "
        "used the right channel only (--channel or Settings choose by hand)"
    )
    assert mixer.second_opinion() is None


@pytest.mark.parametrize(("mode", "sign"), [("left", 0.9), ("right", -1.0)])
def test_a_channel_chosen_by_hand_is_used_without_a_note(mode: str, sign: float) -> None:
    sink = Sink()
    mixer = media._ChannelMixer(sink.buffer, mode, RATE)
    wave = np.linspace(-0.5, 0.5, 100, dtype=np.float32)
    mixer.add(np.stack([wave * 0.9, -wave]), ("FL", "FR"))
    mixer.add_silence(2)
    mixer.finish()
    assert np.allclose(sink.samples(), np.concatenate([wave * sign, np.zeros(2)]))
    assert mixer.note is None and mixer.second_opinion() is None


def test_mono_blocks_pass_through() -> None:
    sink = Sink()
    mixer = media._ChannelMixer(sink.buffer, "auto", RATE)
    mixer.add(np.array([0.1, -0.2, 0.3], np.float32), ("FC",))
    mixer.finish()
    assert sink.samples().tolist() == pytest.approx([0.1, -0.2, 0.3])
    assert mixer.note is None and mixer.second_opinion() is None


def test_second_opinion_when_the_whole_file_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media, "_PHASE_CHECK_S", 0.01)  # 160 samples
    wave = np.sin(np.linspace(0, 30, 2000)).astype(np.float32) * 0.5
    # in phase at first, then the right channel inverted for the rest: the mix is
    # chosen early, the whole file says "channel 0"
    early = media._ChannelMixer(Sink().buffer, "auto", RATE)
    early.add(np.stack([wave[:200], wave[:200]]), ("FL", "FR"))
    early.add(np.stack([wave, -wave]), ("FL", "FR"))
    early.finish()
    assert early.note is None and early.second_opinion() == 0
    # inverted at first, then in phase for long: the whole file says "mix"
    late = media._ChannelMixer(Sink().buffer, "auto", RATE)
    late.add(np.stack([wave[:200], -wave[:200]]), ("FL", "FR"))
    for _ in range(5):
        late.add(np.stack([wave, wave]), ("FL", "FR"))
    late.finish()
    assert late.note is not None and late.second_opinion() == "mix"
    # a channel given by number (the second pass) has nothing more to say
    given = media._ChannelMixer(Sink().buffer, 1, RATE)
    given.add(np.stack([wave, -wave]), ("FL", "FR"))
    given.finish()
    assert given.second_opinion() is None


def test_levels_judge_only_what_is_loud_enough() -> None:
    levels = media._Levels()
    assert levels.cancelled_channel() is None  # nothing yet
    weights = np.array([0.5, 0.5], np.float32)
    quiet = np.full(1000, 5e-4, np.float32)  # -66 dBFS
    levels.add(np.stack([quiet, -quiet]), weights)
    assert levels.cancelled_channel() is None
    loud = media._Levels()
    wave = np.full(1000, 0.1, np.float32)
    loud.add(np.stack([wave * 0.8, -wave]), weights)
    assert loud.cancelled_channel() == 1
    assert loud.frames == 1000
    assert loud.mix == pytest.approx(1000 * 0.01**2, rel=1e-4)
    assert loud.channels.tolist() == pytest.approx([6.4, 10.0], rel=1e-4)  # type: ignore[union-attr]
    loud.add(np.stack([wave * 0.8, -wave])[:, :500], weights)  # the figures add up
    assert loud.frames == 1500
    assert loud.mix == pytest.approx(1500 * 0.01**2, rel=1e-4)
    assert loud.channels.tolist() == pytest.approx([9.6, 15.0], rel=1e-4)  # type: ignore[union-attr]
    fine = media._Levels()
    fine.add(np.stack([wave, wave * 0.2]), weights)
    assert fine.cancelled_channel() is None
    # the mix keeps 10.5 % of the energy it would have in phase: not cancelled; 9.4 %: is
    a = np.full(100, 1.0, np.float32)
    for c, cancelled in ((0.51, None), (0.53, 0), (0.6, 0)):
        edge = media._Levels()
        edge.add(np.stack([a, -c * a]), weights)
        assert edge.cancelled_channel() == cancelled
    # a short, fairly quiet stretch (-26 dBFS) whose in-phase energy is under 1
    short = media._Levels()
    short.add(np.stack([a * 0.05, -a * 0.04]), weights)
    assert short.cancelled_channel() == 0


def test_a_silent_lfe_is_not_the_strongest_channel() -> None:
    levels = media._Levels()
    names = ("FL", "FR", "FC", "LFE")
    wave = np.full(500, 0.02, np.float32)  # 0.2 of energy each: less than one
    block = np.stack([wave, -wave, np.zeros(500, np.float32), wave * 3])
    levels.add(block, media._mix_weights(names))
    assert levels.cancelled_channel() == 0  # the LFE, unheard in the mix, is not taken


# --------------------------------------------------------------------------- buffers


def test_sample_buffer_grows_and_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = media._SampleBuffer(10)
    assert len(buffer._data) == 1024  # at least a block
    buffer.append(np.arange(1000, dtype=np.float32))
    buffer.append(np.arange(100, dtype=np.float32))
    assert buffer.size == 1100 and len(buffer._data) == 1536  # grown by half
    assert buffer.read(998, 1003).tolist() == [998, 999, 0, 1, 2]
    assert buffer.read(1099, 5000).tolist() == [99]
    assert buffer.read(5, 5).tolist() == []
    out = buffer.finish()
    assert len(out) == 1100 and out.base is None  # a trimmed copy, not a view of 1536
    assert out[1000:1003].tolist() == [0, 1, 2] and buffer.final is out
    assert buffer.read(1000, 1002).tolist() == [0, 1]
    full = media._SampleBuffer(1024)
    full.append(np.ones(1000, np.float32))
    kept = full._data
    assert full.finish() is kept and len(kept) == 1000  # nearly full: resized in place


def test_sample_buffer_spills_to_a_memory_map(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(media, "_SPILL_SAMPLES", 2000)
    monkeypatch.setattr(media, "_SPILL_WRITE_SAMPLES", 300)
    monkeypatch.setenv("MURMUR_TMPDIR", str(tmp_path))
    created: list[object] = []
    real = media.tempfile.TemporaryFile

    def temporary(*args: Any, **kwargs: Any) -> Any:
        created.append(kwargs.get("dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(media.tempfile, "TemporaryFile", temporary)
    buffer = media._SampleBuffer(10**9)
    assert len(buffer._data) == 2000  # never more than the spill size in RAM
    data = np.arange(5000, dtype=np.float32)
    buffer.append(data[:1500])
    assert buffer._file is None
    buffer.append(data[1500:2100])  # past 2000: to the file
    assert created == [str(tmp_path)] and len(buffer._data) == 0
    for start in range(2100, 5000, 100):
        buffer.append(data[start : start + 100])
        assert buffer._pending_size < 300  # written out in blocks of 300 or more
    assert buffer.size == 5000
    # RAM holds less than a block; the rest is in the file already
    assert buffer._file.tell() >= (5000 - 300) * 4
    assert buffer.read(1990, 2010).tolist() == list(range(1990, 2010))
    assert buffer.read(4990, 6000).tolist() == list(range(4990, 5000))
    buffer.append(data[:10])  # still readable after a read moved the file's position
    assert buffer.read(5000, 5010).tolist() == list(range(10))
    out = buffer.finish()
    assert isinstance(out, np.memmap) and len(out) == 5010
    assert np.array_equal(out[:5000], data) and out[5000:].tolist() == list(range(10))
    assert buffer.read(4000, 4003).tolist() == [4000, 4001, 4002]
    release_samples(out, 0, 5010)  # pages dropped, read back from the file
    assert np.array_equal(out[:5000], data)


def test_spill_folder_is_the_system_one_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MURMUR_TMPDIR", raising=False)
    assert media._spill_dir() is None
    monkeypatch.setenv("MURMUR_TMPDIR", "")
    assert media._spill_dir() is None
    monkeypatch.setenv("MURMUR_TMPDIR", "/somewhere")
    assert media._spill_dir() == "/somewhere"


def test_release_samples_leaves_arrays_in_ram_alone() -> None:
    data = np.arange(10, dtype=np.float32)
    release_samples(data, 0, 10)
    assert data.tolist() == list(range(10))


def test_streamed_samples_view(monkeypatch: pytest.MonkeyPatch) -> None:
    grown: list[int] = []
    restarts: list[int] = []
    stream = StreamedSamples(on_grow=grown.append, on_restart=lambda: restarts.append(1))
    assert len(stream) == 0 and stream[0:10].tolist() == []
    first = media._SampleBuffer(10, stream)
    assert stream.restarts == 0
    first.append(np.array([1, 2, 3], np.float32))
    first.append(np.array([4], np.float32))
    assert grown == [3, 4] and len(stream) == 4
    assert stream[1:3].tolist() == [2, 3]
    assert stream[-2:].tolist() == [3, 4]
    assert stream.read(-5, 2).tolist() == [1, 2]
    with pytest.raises(TypeError, match="plain slices"):
        stream[0:4:2]
    with pytest.raises(TypeError, match="plain slices"):
        stream[1]  # type: ignore[call-overload]
    assert stream[0:4:1].tolist() == [1, 2, 3, 4]
    media._SampleBuffer(10, stream)  # decoding starts again
    assert stream.restarts == 1 and restarts == [1] and len(stream) == 0
    media._SampleBuffer(10, stream)  # nothing was read into the last one
    assert stream.restarts == 1 and restarts == [1]


# --------------------------------------------------------------------------- frames


def test_implausible_frames_are_errors() -> None:
    decoder = media._StreamDecoder(RATE, 100)
    with pytest.raises(ValueError, match="implausible frame: sample rate 500"):
        decoder.add(frame(np.zeros((2, 10)), rate=500))
    with pytest.raises(ValueError, match="implausible frame: sample rate 800000"):
        decoder.add(frame(np.zeros((2, 10)), rate=800_000))
    decoder.add(frame(np.zeros((2, 10)), rate=1000))  # the edges are fine
    decoder.add(frame(np.zeros((2, 10)), rate=768_000))
    decoder.add(frame(np.zeros((6, 10)), layout="5.1"))
    assert decoder.frames == 3


def test_frames_resample_to_mono_and_keep_their_place_in_time() -> None:
    decoder = media._StreamDecoder(RATE, 100, channel="mix")
    tone = speech.tone(0.5, 440.0, sample_rate=48000, amplitude=0.5).astype(np.float32)
    decoder.add(frame(np.stack([tone, tone]), pts=48000))  # the stream starts at 1 s
    decoder.add(frame(np.stack([tone, tone]), pts=72000))  # 0.5 s on: no gap
    decoder.add(frame(np.stack([tone, tone]), pts=120000))  # 0.5 s missing: silence
    decoder.add(frame(np.stack([tone, tone]), pts=10**8))  # a jump: no silence
    decoder.add(frame(np.stack([tone, tone]), pts=10**8 + 48000))  # 0.5 s on: silence
    decoder.flush()
    decoder.mixer.finish()
    out = decoder.buffer.finish()
    assert len(out) == pytest.approx(3.5 * RATE, abs=64)
    assert np.abs(out[int(2.55 * RATE) : int(2.95 * RATE)]).max() < 1e-3
    quiet = np.abs(out[int(1.05 * RATE) : int(1.45 * RATE)])
    assert quiet.max() < 1e-3  # the filled gap
    loud = np.abs(out[int(0.1 * RATE) : int(0.9 * RATE)])
    assert loud.max() == pytest.approx(0.5, abs=0.02)  # the average of equal channels
    assert np.abs(out[int(1.6 * RATE) : int(2.4 * RATE)]).max() == pytest.approx(0.5, abs=0.02)
    assert decoder.frames == 5


def test_small_gaps_are_not_filled() -> None:
    decoder = media._StreamDecoder(RATE, 100, channel="mix")
    block = np.full((1, 4800), 0.25, np.float32)  # 0.1 s at 48 kHz
    decoder.add(frame(block, layout="mono", pts=0))
    decoder.add(frame(block, layout="mono", pts=4800 + 2000))  # 42 ms late: not filled
    decoder.add(frame(block, layout="mono"))  # no time stamp: just appended
    decoder.flush()
    decoder.mixer.finish()
    assert len(decoder.buffer.finish()) == pytest.approx(0.3 * RATE, abs=64)


def test_a_new_layout_starts_a_new_resampler() -> None:
    decoder = media._StreamDecoder(RATE, 100, channel="mix")
    stereo = np.full((2, 4800), 0.2, np.float32)
    mono = np.full((1, 3200), -0.4, np.float32)
    decoder.add(frame(stereo, rate=48000))
    decoder.add(frame(mono, layout="mono", rate=32000))
    decoder.flush()
    decoder.mixer.finish()
    out = decoder.buffer.finish()
    assert len(out) == pytest.approx(0.2 * RATE, abs=64)
    assert np.median(out[200:1400]) == pytest.approx(0.2, abs=0.01)
    assert np.median(out[1800:3000]) == pytest.approx(-0.4, abs=0.01)


@pytest.mark.parametrize("layout", ["mono", "stereo", "5.1"])
@pytest.mark.parametrize(
    "fmt", ["u8", "u8p", "s16", "s16p", "s32", "s32p", "flt", "fltp", "dbl", "dblp"]
)
def test_every_sample_format_reads_as_ffmpeg_converts_it(fmt: str, layout: str) -> None:
    import av

    rng = np.random.default_rng(3)
    channels = {"mono": 1, "stereo": 2, "5.1": 6}[layout]
    planar = fmt.endswith("p")
    base = fmt.removesuffix("p")
    dtype = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "flt": np.float32}.get(
        base, np.float64
    )
    if base in ("flt", "dbl"):
        values = rng.uniform(-1, 1, (channels, 300))
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, (channels, 300), endpoint=True)
    data = values.astype(dtype)
    source = av.AudioFrame.from_ndarray(
        data if planar else np.ascontiguousarray(data.T).reshape(1, -1), fmt, layout
    )
    source.sample_rate = 44100
    ffmpeg = av.AudioResampler(format="fltp", layout=layout).resample(source)[0].to_ndarray()
    ours = media._sample_reader(source.format, channels, lambda f: f)(source)
    assert ours.shape == (channels, 300)
    assert ours.dtype == np.float32
    assert ours.flags.c_contiguous
    np.testing.assert_allclose(ours, ffmpeg, rtol=0, atol=1e-7)
    # the frame's own samples, not a view that a later frame could overwrite
    assert not np.shares_memory(ours, source.planes[0])


def test_stereo_mixed_before_resampling_is_the_mix_of_the_resampled_channels() -> None:
    import av

    rate = 44100
    left = speech.tone(3.0, 440.0, sample_rate=rate, amplitude=0.5).astype(np.float32)
    right = (0.2 * np.random.default_rng(4).standard_normal(len(left))).astype(np.float32)
    both = np.stack([left, right])
    decoder = media._StreamDecoder(RATE, 100, channel="mix")
    for start in range(0, len(left), 1152):  # MP3-sized frames
        decoder.add(frame(both[:, start : start + 1152], rate=rate))
    decoder.flush()
    decoder.mixer.finish()
    out = decoder.mixer.buffer.finish()
    # every channel resampled by FFmpeg, then mixed: what the decoder did until 2026-11-30
    whole = frame(both, rate=rate)
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
    channels = np.concatenate(
        [f.to_ndarray() for f in resampler.resample(whole) + resampler.resample(None)], axis=1
    )
    reference = 0.5 * (channels[0] + channels[1])
    assert len(out) == len(reference)
    np.testing.assert_allclose(out, reference, rtol=0, atol=1e-6)


def test_a_rate_change_while_the_phase_check_waits_settles_it_first() -> None:
    decoder = media._StreamDecoder(RATE, 100)  # auto: the first 30 s are held back
    stereo = np.full((2, 4800), 0.2, np.float32)
    decoder.add(frame(stereo, rate=48000))
    assert decoder.mixer.size == 0  # gathered, not yet mixed
    decoder.add(frame(np.full((2, 3200), -0.4, np.float32), rate=32000))
    decoder.flush()
    decoder.mixer.finish()
    out = decoder.mixer.buffer.finish()
    assert len(out) == pytest.approx(0.2 * RATE, abs=64)
    assert np.median(out[200:1400]) == pytest.approx(0.2, abs=0.01)
    assert np.median(out[1800:3000]) == pytest.approx(-0.4, abs=0.01)


# --------------------------------------------------------------------------- files


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two seconds of a 440 Hz tone at half scale in the ways a user has it."""
    folder = tmp_path_factory.mktemp("clips")
    tone = speech.tone(2.0, 440.0, amplitude=0.5)
    mono16 = speech.write_wav(folder / "mono16k.wav", tone)
    out = {"mono16k.wav": mono16}
    stereo = np.stack([tone, tone], axis=1)
    out["stereo16k.wav"] = speech.write_wav(folder / "stereo16k.wav", stereo)
    out["stereo16k.flac"] = folder / "stereo16k.flac"
    sf.write(out["stereo16k.flac"], stereo, RATE)
    out["mono22k.wav"] = folder / "mono22k.wav"
    sf.write(out["mono22k.wav"], speech.tone(2.0, 440.0, sample_rate=22050, amplitude=0.5), 22050)
    out["three16k.wav"] = folder / "three16k.wav"
    sf.write(out["three16k.wav"], np.stack([tone, tone, tone], axis=1), RATE)
    out["mp3"] = speech.convert(mono16, folder / "tone.mp3", "mp3")
    out["mp4"] = speech.convert(mono16, folder / "tone.mp4", "mp4")
    out["mkv"] = speech.convert(mono16, folder / "tone.mkv", "mkv")  # only the container's length
    five = np.concatenate([tone, tone, tone[: 1 * RATE]])
    out["five16k.wav"] = speech.write_wav(folder / "five16k.wav", five)
    return out


@pytest.mark.parametrize(
    ("name", "soundfile"),
    [
        ("mono16k.wav", True),
        ("stereo16k.wav", True),
        ("stereo16k.flac", True),
        ("mono22k.wav", False),
        ("three16k.wav", False),
        ("mp3", False),
        ("mp4", False),
        ("mkv", False),
    ],
)
def test_each_clip_decodes_to_the_tone(
    clips: dict[str, Path], name: str, soundfile: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[str] = []
    real_av, real_sf = media._decode_with_av, media._decode_with_soundfile

    def by_av(*args: Any, **kwargs: Any) -> Any:
        used.append("av")
        return real_av(*args, **kwargs)

    def by_sf(*args: Any, **kwargs: Any) -> Any:
        got = real_sf(*args, **kwargs)
        if got is not None:
            used.append("soundfile")
        return got

    monkeypatch.setattr(media, "_decode_with_av", by_av)
    monkeypatch.setattr(media, "_decode_with_soundfile", by_sf)
    seen: list[float] = []
    audio = decode_audio(clips[name], progress=seen.append)
    assert used == (["soundfile"] if soundfile else ["av"])
    assert audio.sample_rate == RATE and audio.samples.dtype == np.float32
    assert abs(audio.duration - 2.0) < 0.06
    assert (audio.truncated, audio.warning, audio.channel_note) == (False, None, None)
    middle = audio.samples[RATE // 2 : 3 * RATE // 2]
    assert np.abs(middle).max() == pytest.approx(0.5, abs=0.03)
    spectrum = np.abs(np.fft.rfft(middle))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1  # 1 Hz bins over one second
    assert seen and seen[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert audio.info.has_video == (name in ("mp4", "mkv"))
    assert audio.info.path == str(clips[name])


def test_probe_figures(clips: dict[str, Path]) -> None:
    wav = probe(clips["stereo16k.wav"])
    assert (wav.codec, wav.sample_rate, wav.channels, wav.track) == ("pcm_s16le", RATE, 2, 1)
    assert wav.duration == pytest.approx(2.0) and not wav.has_video
    assert wav.path == str(clips["stereo16k.wav"])
    (only,) = wav.tracks
    assert (only.index, only.stream_index, only.language, only.title) == (1, 0, "", "")
    assert (only.codec, only.channels, only.sample_rate, only.default) == (
        "pcm_s16le",
        2,
        RATE,
        False,
    )
    mp4 = probe(clips["mp4"])
    assert mp4.has_video and mp4.codec == "aac" and mp4.sample_rate == 44100
    assert mp4.duration == pytest.approx(2.0, abs=0.05)
    assert mp4.tracks[0].stream_index == 0 and mp4.tracks[0].language == ""
    with pytest.raises(MediaError) as err:
        probe(clips["mp3"], track=2)
    assert str(err.value) == "tone.mp3: there is no audio track 2; the file has 1 audio track"


def test_cancel_set_before_decoding(clips: dict[str, Path]) -> None:
    for name in ("mono16k.wav", "mono22k.wav"):  # soundfile, PyAV
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(Cancelled):
            decode_audio(clips[name], cancel=cancel)


# --------------------------------------------------------------------------- the verdict


class Mixer:
    """What decode_audio reads of a pass's mixer."""

    def __init__(self, note: str | None = None, opinion: int | str | None = None) -> None:
        self.note = note
        self.opinion = opinion

    def second_opinion(self) -> int | str | None:
        return self.opinion


class Passes:
    """Stands in for ``media._decode``: each decoding pass returns the next of ``results``
    (samples, declared duration, demux error, decode errors, duration known, mixer);
    ``channels`` has the channel argument of each pass."""

    def __init__(self) -> None:
        self.results: list[tuple[Any, ...]] = []
        self.channels: list[object] = []
        self.given: list[tuple[object, ...]] = []  # cancel, progress, track, stream

    def append(self, result: tuple[Any, ...]) -> None:
        self.results.append(result)

    def __call__(self, p: Path, *args: Any, **kwargs: Any) -> Any:
        self.channels.append(args[4])
        self.given.append((args[1], args[2], args[3], kwargs.get("stream")))
        samples, duration, demux_error, errors, known, mixer = self.results.pop(0)
        found = MediaInfo(str(p), duration, False, "mp3", 44100, 2)
        return samples, found, (demux_error, errors, known), mixer


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Passes:
    fake = Passes()
    monkeypatch.setattr(media, "_decode", fake)
    return fake


@pytest.fixture
def some_file(tmp_path: Path) -> Path:
    path = tmp_path / "talk.mp3"
    path.write_bytes(b"stand-in")
    return path


def tone(seconds: float) -> np.ndarray:
    return np.full(round(seconds * RATE), 0.1, np.float32)


def test_a_clean_pass(passes: Passes, some_file: Path) -> None:
    passes.append((tone(10.0), 10.0, None, 0, True, Mixer()))
    seen: list[float] = []
    audio = decode_audio(some_file, progress=seen.append)
    assert (audio.truncated, audio.warning, audio.channel_note) == (False, None, None)
    assert audio.duration == 10.0 and seen == [1.0]
    assert passes.channels == ["auto"]


def test_skipped_packets_are_counted(passes: Passes, some_file: Path) -> None:
    passes.append((tone(10.0), 10.0, None, 1, True, Mixer()))
    assert decode_audio(some_file).warning == (
        "talk.mp3: skipped 1 damaged audio packet; the rest decoded"
    )
    passes.append((tone(10.0), 10.0, None, 3, True, Mixer()))
    audio = decode_audio(some_file)
    assert audio.warning == "talk.mp3: skipped 3 damaged audio packets; the rest decoded"
    assert not audio.truncated


def test_a_file_cut_short(passes: Passes, some_file: Path) -> None:
    passes.append((tone(4.0), 10.0, None, 0, True, Mixer()))
    audio = decode_audio(some_file)
    assert audio.truncated
    assert audio.warning == (
        "talk.mp3: the file seems cut short or damaged; decoded 4.0 s of 10.0 s"
    )
    passes.append((tone(4.0), None, "Invalid data found", 2, False, Mixer()))
    audio = decode_audio(some_file)
    assert audio.truncated  # the demuxer stopped: cut short whatever the length
    assert audio.warning == "talk.mp3: the file seems cut short or damaged; decoded 4.0 s"
    passes.append((tone(9.7), 10.0, None, 0, True, Mixer()))
    assert not decode_audio(some_file).truncated  # within half a second


@pytest.mark.parametrize(
    ("samples", "demux_error", "errors", "message"),
    [
        (np.zeros(0, np.float32), None, 0, "talk.mp3: no decodable audio"),
        (np.zeros(0, np.float32), "End of file", 0, "talk.mp3: no decodable audio (End of file)"),
        (tone(0.09), None, 1, "talk.mp3: no decodable audio"),  # a stray frame
        (np.zeros(RATE, np.float32), None, 4, "talk.mp3: no decodable audio"),  # only filler
        (
            np.zeros(RATE, np.float32),
            "End of file",
            0,
            "talk.mp3: no decodable audio (End of file)",
        ),
    ],
)
def test_nothing_useful_decoded(
    passes: Passes,
    some_file: Path,
    samples: np.ndarray,
    demux_error: str | None,
    errors: int,
    message: str,
) -> None:
    passes.append((samples, 1.0, demux_error, errors, True, Mixer()))
    with pytest.raises(MediaError) as err:
        decode_audio(some_file)
    assert str(err.value) == message


def test_undamaged_silence_and_short_clips_are_audio(passes: Passes, some_file: Path) -> None:
    passes.append((np.zeros(RATE, np.float32), 1.0, None, 0, True, Mixer()))
    assert decode_audio(some_file).duration == 1.0
    passes.append((tone(0.05), 0.05, None, 0, True, Mixer()))
    assert decode_audio(some_file).duration == 0.05
    passes.append((tone(0.1), 0.1, None, 1, True, Mixer()))  # damaged, but 0.1 s is enough
    assert decode_audio(some_file).warning is not None


def test_a_second_pass_when_the_whole_file_disagrees(passes: Passes, some_file: Path) -> None:
    passes.append((tone(1.0), 1.0, None, 0, True, Mixer(opinion=1)))
    passes.append((tone(2.0), 2.0, None, 0, True, Mixer(note="used the right channel only")))
    cancel, stream = threading.Event(), StreamedSamples()
    seen: list[float] = []
    audio = decode_audio(some_file, cancel=cancel, progress=seen.append, track=2, into=stream)
    assert passes.channels == ["auto", 1]
    assert passes.given == [(cancel, seen.append, 2, stream)] * 2  # the second pass as the first
    assert audio.duration == 2.0
    assert audio.channel_note == "talk.mp3: used the right channel only"


def test_progress_of_the_soundfile_reader(clips: dict[str, Path]) -> None:
    seen: list[float] = []
    decode_audio(clips["five16k.wav"], progress=seen.append)
    assert seen == [65536 / 80000, 1.0, 1.0]  # blocks of 65536 samples, then the end


def test_a_container_length_is_used_when_the_stream_has_none(clips: dict[str, Path]) -> None:
    found = probe(clips["mkv"])
    assert found.has_video and found.codec == "opus"
    assert found.duration == pytest.approx(2.0, abs=0.05)
    assert found.tracks[0].language == ""


def test_released_pages_are_handed_back() -> None:
    """On an anonymous private map, handed-back pages read back as zeros: exactly the
    whole pages inside the range go, the partial ones at its edges stay."""
    import mmap

    page_samples = mmap.PAGESIZE // 4
    anonymous = mmap.mmap(-1, 8 * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE)
    whole = np.frombuffer(anonymous, dtype=np.float32).view(np.memmap)
    whole._mmap = anonymous  # what np.memmap keeps of a mapped file
    whole[:] = 1.0
    release_samples(whole, page_samples - 24, 4 * page_samples + 10)
    assert not whole[page_samples : 4 * page_samples].any()
    assert (whole[:page_samples] == 1.0).all() and (whole[4 * page_samples :] == 1.0).all()
    # a view from an offset, to its end
    whole[:] = 1.0
    tail = whole[page_samples // 2 :]
    release_samples(tail, page_samples)  # from sample 1.5 pages in: pages 2.. go
    assert (whole[: 2 * page_samples] == 1.0).all() and not whole[2 * page_samples :].any()
    whole[:] = 1.0
    release_samples(whole, 0, 100 * page_samples)  # past the end: up to the end
    assert not whole.any()
    whole[:] = 1.0
    release_samples(whole, 3 * page_samples, 3 * page_samples)  # nothing
    release_samples(whole, 10, page_samples - 10)  # less than a page
    release_samples(whole.reshape(2, -1), 0, page_samples * 4)  # not one channel
    assert (whole == 1.0).all()
    del whole, tail


def test_reading_the_finished_samples_hands_their_pages_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released: list[tuple[object, int, int | None]] = []
    monkeypatch.setattr(media, "release_samples", lambda s, a=0, b=None: released.append((s, a, b)))
    buffer = media._SampleBuffer(10)
    buffer.append(np.arange(100, dtype=np.float32))
    final = buffer.finish()
    assert buffer.read(10, 20).tolist() == list(range(10, 20))
    assert released == [(final, 10, 20)] and final is buffer.final


def test_empty_reads_are_float32() -> None:
    buffer = media._SampleBuffer(10)
    assert buffer.read(0, 5).dtype == np.float32
    assert StreamedSamples().read(0, 5).dtype == np.float32
    buffer.append_silence(1)
    buffer.append_silence(0)
    buffer.append_silence(-3)
    assert buffer.size == 1


def test_restarts_are_counted_each_time() -> None:
    stream = StreamedSamples()
    for _ in range(3):
        media._SampleBuffer(10, stream).append(np.ones(1, np.float32))
    assert stream.restarts == 2
    with pytest.raises(TypeError, match=r"^StreamedSamples takes plain slices$"):
        stream[0:1:2]


def test_a_single_sample_of_silence_counts() -> None:
    sink = Sink()
    mixer = media._ChannelMixer(sink.buffer, "mix", RATE)
    mixer.add_silence(1)
    undecided = media._ChannelMixer(Sink().buffer, "auto", RATE)
    undecided.add_silence(1)
    assert (sink.buffer.size, undecided.size) == (1, 1)


@pytest.mark.parametrize("name", ["mono16k.wav", "mp3"])
def test_samples_can_be_read_while_they_are_decoded(clips: dict[str, Path], name: str) -> None:
    grown: list[int] = []
    stream = StreamedSamples(on_grow=grown.append)
    audio = decode_audio(clips[name], into=stream)
    assert grown and grown == sorted(grown) and grown[-1] == len(audio.samples)
    assert len(stream) == len(audio.samples)
    assert np.array_equal(stream[100:200], audio.samples[100:200])


@pytest.mark.parametrize("name", ["mp3", "mp4"])
def test_a_file_cut_in_half_decodes_its_first_half(
    clips: dict[str, Path], tmp_path: Path, name: str
) -> None:
    cut = speech.truncate_file(clips[name], tmp_path / f"cut.{name}", 0.5)
    audio = decode_audio(cut)
    assert audio.truncated
    assert 0.6 < audio.duration < 1.4
    assert re.fullmatch(
        rf"cut\.{name}: the file seems cut short or damaged; decoded [01]\.\d s of 2\.0 s",
        audio.warning or "",
    ), audio.warning
    middle = audio.samples[RATE // 4 : RATE // 2]
    assert np.abs(middle).max() == pytest.approx(0.5, abs=0.05)


def test_a_damaged_middle_is_skipped(clips: dict[str, Path], tmp_path: Path) -> None:
    damaged = speech.damage_middle(clips["mp3"], tmp_path / "damaged.mp3", 0.4, 0.5)
    audio = decode_audio(damaged)
    assert audio.warning == "damaged.mp3: skipped 2 damaged audio packets; the rest decoded"
    assert abs(audio.duration - 2.0) < 0.25
    tail = audio.samples[int(1.5 * RATE) : int(1.9 * RATE)]
    assert np.abs(tail).max() == pytest.approx(0.5, abs=0.05)


def test_a_video_without_sound(tmp_path: Path) -> None:
    path = speech.make_video_only(tmp_path / "silent film.mp4", seconds=0.4)
    with pytest.raises(MediaError) as err:
        decode_audio(path)
    assert str(err.value) == "silent film.mp4: no audio track (the video has no sound)"


def test_decoding_puts_numpy_s_blas_on_one_thread_and_leaves_torch_s(
    clips: dict[str, Path],
) -> None:
    """Decoding alone (no speech detection in the process) limits numpy's OpenBLAS,
    whose spinning threads would take a core from the model, and only it."""
    import json
    import subprocess
    import sys

    script = (
        "import json, sys, torch\n"
        "from threadpoolctl import threadpool_info\n"
        "from app.core.audio.media import decode_audio\n"
        "def numpy_blas():\n"
        "    return [l['num_threads'] for l in threadpool_info()\n"
        "            if l['user_api'] == 'blas' and 'numpy' in l['filepath']]\n"
        "torch.set_num_threads(2)\n"
        "before = numpy_blas()\n"
        "decode_audio(sys.argv[1])\n"
        "print(json.dumps([before, numpy_blas(), torch.get_num_threads()]))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(clips["mp3"])],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    before, after, torch_threads = json.loads(done.stdout)
    assert before and all(n == 2 for n in before)
    assert after and all(n == 1 for n in after)
    assert torch_threads == 2
