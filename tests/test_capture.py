"""Capture: the recorder fed real espeak-ng speech through a fake PortAudio stream.

The stream (tests/fake_stream.py) calls the recorder's callback with blocks of the size
PortAudio would use (20 ms), one block per 20 ms of wall time, from its own thread. The
checks are on the file on disk (sample for sample, at the device's rate and channels), the
16 kHz feed for the model, the level reports, the silence warning, the faults (device gone,
disk full) and recovery after SIGKILL.
"""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core.audio import capture
from app.core.audio.capture import (
    CaptureError,
    InputDevice,
    LevelChanged,
    NoInputDevice,
    Recorder,
    RecordingStarted,
    RecordingStopped,
    SilenceWarning,
    StopReason,
    find_interrupted_recordings,
    repair_recording,
    resolve_input_device,
)
from app.core.audio.media import decode_audio
from tests import speech
from tests.fake_stream import FileStreamFactory

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("MURMUR_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def stereo_44k(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int]:
    """About 2.6 s of espeak-ng speech as 44.1 kHz stereo 16-bit PCM (float32 values)."""
    out = tmp_path_factory.mktemp("capture")
    mono = speech.synthesize(speech.SENTENCES[0], out)
    src = speech.write_wav(out / "mono16k.wav", mono)
    path = speech.convert(src, out / "stereo44k.wav", "wav44k_stereo")
    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    # Make the channels differ, so a mix-up of channels would show.
    samples[:, 1] *= 0.5
    return samples, rate


def record(
    samples: np.ndarray, rate: int, path: Path, **options: object
) -> tuple[Recorder, FileStreamFactory, list[object], list[np.ndarray]]:
    """Record ``samples`` at real pace; stop once every sample has been delivered."""
    factory = FileStreamFactory(samples, rate, **options)
    events: list[object] = []
    channels = samples.shape[1] if samples.ndim == 2 else 1
    recorder = Recorder(
        path=path,
        samplerate=rate,
        channels=channels,
        stream_factory=factory,
        on_event=events.append,
        silence_after_s=1.0,
    )
    tap = recorder.open_tap()
    recorder.start()
    assert factory.stream is not None
    assert factory.stream.source_done.wait(30), "the fake stream did not finish"
    recorder.stop()
    blocks = [b for b in tap if isinstance(b, np.ndarray)]
    return recorder, factory, events, blocks


def test_recording_matches_the_input_sample_for_sample(
    stereo_44k: tuple[np.ndarray, int], tmp_path: Path
) -> None:
    samples, rate = stereo_44k
    recorder, factory, events, feed = record(samples, rate, tmp_path / "take.flac")
    result = recorder.result
    assert result is not None and result.reason is StopReason.REQUESTED
    assert result.message is None

    data, file_rate = sf.read(str(result.path), dtype="float32", always_2d=True)
    assert file_rate == rate and data.shape[1] == 2, "the device's rate and channels are kept"
    assert data.shape[0] == result.frames == factory.stream.delivered  # type: ignore[union-attr]
    np.testing.assert_array_equal(data[: len(samples)], samples)
    assert not np.any(data[len(samples) :]), "after the speech the stream gave silence"
    assert find_interrupted_recordings() == [], "a finished recording leaves no marker"

    # The model's feed: 16 kHz mono, the same audio as the app's own decoder makes of the file.
    fed = np.concatenate(feed)
    decoded = decode_audio(result.path).samples
    assert abs(len(fed) - len(decoded)) <= 16
    n = min(len(fed), len(decoded))
    corr = np.corrcoef(fed[:n], decoded[:n])[0, 1]
    assert corr > 0.99, corr

    # Events: started, ~20 level reports a second with rising elapsed time, stopped.
    assert isinstance(events[0], RecordingStarted) and events[0].samplerate == rate
    assert isinstance(events[-1], RecordingStopped)
    assert events[-1].duration_s == pytest.approx(result.duration_s)
    levels = [e for e in events if isinstance(e, LevelChanged)]
    assert abs(len(levels) - 20 * result.duration_s) <= 2
    elapsed = [e.elapsed_s for e in levels]
    assert elapsed == sorted(elapsed) and elapsed[-1] == pytest.approx(result.duration_s, abs=0.06)
    mono = samples.mean(axis=1)
    assert max(e.peak_dbfs for e in levels) == pytest.approx(speech.peak_dbfs(mono), abs=0.1)
    loud = [e for e in levels if e.rms_dbfs > -40]
    assert loud and all(e.rms_dbfs < e.peak_dbfs for e in loud)
    assert not any(isinstance(e, SilenceWarning) for e in events), "speech is not silence"


def test_silent_input_warns_once(tmp_path: Path) -> None:
    rate = 16000
    _, _, events, _ = record(np.zeros(round(1.6 * rate), np.float32), rate, tmp_path / "s.flac")
    warnings = [e for e in events if isinstance(e, SilenceWarning)]
    assert len(warnings) == 1, "one warning per silent stretch"
    assert "\n" not in warnings[0].message and "No sound" in warnings[0].message
    levels = [e for e in events if isinstance(e, LevelChanged)]
    assert levels and all(e.peak_dbfs <= -100 for e in levels)
    # The warning comes after 1 s of recorded silence, not before.
    index = events.index(warnings[0])
    before = [e for e in events[:index] if isinstance(e, LevelChanged)]
    assert before[-1].elapsed_s >= 0.95


def test_device_unplugged_keeps_what_was_recorded(
    stereo_44k: tuple[np.ndarray, int], tmp_path: Path
) -> None:
    samples, rate = stereo_44k
    cut = rate  # the device goes after 1 s
    factory = FileStreamFactory(samples, rate, stop_after_frames=cut)
    events: list[object] = []
    recorder = Recorder(
        path=tmp_path / "gone.flac",
        samplerate=rate,
        channels=2,
        stream_factory=factory,
        on_event=events.append,
    )
    recorder.start()
    assert recorder.wait(10), "the recording must end by itself when the device goes"
    result = recorder.stop()  # still fine to call
    assert result.reason is StopReason.DEVICE_LOST
    assert result.message and "\n" not in result.message and "unplugged" in result.message
    stopped = events[-1]
    assert isinstance(stopped, RecordingStopped) and stopped.reason is StopReason.DEVICE_LOST
    data, _ = sf.read(str(result.path), dtype="float32", always_2d=True)
    delivered = factory.stream.delivered  # type: ignore[union-attr]
    assert len(data) == delivered >= cut - 882
    np.testing.assert_array_equal(data, samples[:delivered])
    assert find_interrupted_recordings() == []


def test_disk_full_stops_and_keeps_what_was_written(
    stereo_44k: tuple[np.ndarray, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples, rate = stereo_44k
    real_write = sf.SoundFile.write
    calls = {"n": 0}

    def write(self: sf.SoundFile, data: np.ndarray) -> None:
        calls["n"] += 1
        if calls["n"] > 50:  # after 1 s of 20 ms blocks the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", write)
    factory = FileStreamFactory(samples, rate)
    recorder = Recorder(
        path=tmp_path / "full.flac", samplerate=rate, channels=2, stream_factory=factory
    )
    recorder.start()
    assert recorder.wait(10)
    result = recorder.stop()
    assert result.reason is StopReason.DISK_FULL
    assert result.message is not None and "disk is full" in result.message
    monkeypatch.setattr(sf.SoundFile, "write", real_write)
    data, _ = sf.read(str(result.path), dtype="float32", always_2d=True)
    assert len(data) == result.frames == 50 * factory.stream.spec.blocksize  # type: ignore[union-attr]
    np.testing.assert_array_equal(data, samples[: len(data)])
    assert factory.stream is not None and not factory.stream.active, "the stream was stopped"


# --------------------------------------------------------------------------- devices

DEVICES = [
    InputDevice(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)", 2, 44100, False, "ALSA"),
    InputDevice(3, "USB Mic: Audio (hw:1,0)", 1, 48000, False, "ALSA"),
    InputDevice(7, "default", 32, 44100, True, "ALSA"),
]


def test_resolve_input_device() -> None:
    assert resolve_input_device(None, DEVICES).index == 7
    assert resolve_input_device("", DEVICES).index == 7
    assert resolve_input_device(3, DEVICES).name.startswith("USB Mic")
    assert resolve_input_device("3", DEVICES).index == 3
    assert resolve_input_device("usb mic", DEVICES).index == 3
    assert resolve_input_device("default", DEVICES).index == 7
    for gone in (5, "Blue Yeti"):
        with pytest.raises(CaptureError) as info:
            resolve_input_device(gone, DEVICES)
        assert "not available" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CaptureError, match="ambiguous"):
        resolve_input_device("hw:", DEVICES)
    with pytest.raises(NoInputDevice):
        resolve_input_device(None, [])


def test_chosen_device_that_has_gone_is_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "list_input_devices", lambda refresh=False: DEVICES)
    opened: list[object] = []
    recorder = Recorder("Blue Yeti", stream_factory=lambda *a: opened.append(a))  # type: ignore[arg-type,return-value]
    with pytest.raises(CaptureError, match="Blue Yeti"):
        recorder.start()
    assert opened == [], "no stream may be opened on another device"
    assert not capture.recordings_dir().exists() or not any(capture.recordings_dir().iterdir())


def test_missing_portaudio_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(capture.PortAudioMissing) as info:
        capture.list_input_devices()
    assert "PortAudio" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- kill and recover


def record_and_kill(source: Path, out: Path, seconds: float) -> int:
    """Record ``source`` at real pace in a child process; SIGKILL it once ``seconds`` of it
    were delivered to the recorder. Returns the frames delivered by then (at least)."""
    rate = sf.info(str(source)).samplerate
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.capture_child", str(source), str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    delivered = 0
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("delivered"):
                delivered = int(line.split()[1])
                if delivered >= seconds * rate:
                    break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert delivered >= seconds * rate, "the child did not record"
    return delivered


def test_killed_recording_reads_to_the_last_second_and_is_recovered(tmp_path: Path) -> None:
    """A real subprocess records 16 kHz speech at real pace and is killed with SIGKILL."""
    rate = 16000
    mono = np.concatenate([speech.synthesize(s, tmp_path / "cache") for s in speech.SENTENCES[:3]])
    source = speech.write_wav(tmp_path / "source.wav", mono)
    source_samples, _ = sf.read(str(source), dtype="float32")
    out = tmp_path / "killed.flac"
    delivered = record_and_kill(source, out, 4.0)

    # The app's decoder reads it up to about the last second before the kill.
    decoded = decode_audio(out)
    assert delivered / rate - 1.0 <= decoded.duration <= len(mono) / rate
    n = len(decoded.samples)
    np.testing.assert_allclose(decoded.samples, source_samples[:n], atol=1e-4)

    found = find_interrupted_recordings()
    assert [r.path for r in found] == [out.resolve()]
    assert found[0].samplerate == rate and found[0].channels == 1
    repaired = repair_recording(found[0])
    data, file_rate = sf.read(str(repaired), dtype="float32")  # soundfile reads it now
    assert file_rate == rate and len(data) >= delivered - rate
    np.testing.assert_array_equal(data, source_samples[: len(data)])
    assert find_interrupted_recordings() == []


def test_record_recover_repairs_what_a_kill_left(tmp_path: Path) -> None:
    """`murmur record --recover` after a recording process was killed."""
    import io

    from app.cli import record as record_cli

    rate = 16000
    source = speech.write_wav(
        tmp_path / "source.wav", speech.synthesize(speech.SENTENCES[2], tmp_path / "cache")
    )
    out = tmp_path / "killed.flac"
    record_and_kill(source, out, 2.0)
    with pytest.raises((RuntimeError, ValueError)):
        sf.read(str(out))  # libsndfile can't read the unfinished FLAC (no length in it)
    stdout, stderr = io.StringIO(), io.StringIO()
    assert record_cli.run(["--recover"], stdout=stdout, stderr=stderr) == 0
    assert stdout.getvalue().strip() == str(out.resolve())
    assert sf.info(str(out)).frames >= rate
    assert record_cli.run(["--recover"], stdout=io.StringIO(), stderr=stderr) == 0
    assert "No interrupted recordings" in stderr.getvalue()


def test_permission_denied_on_macos_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """PortAudio's error when macOS refuses the microphone becomes one actionable line."""

    class PortAudioError(Exception):
        pass

    def refused(*_args: object) -> object:
        raise PortAudioError(
            "Error opening InputStream: Internal PortAudio error [PaErrorCode -9986]"
        )

    monkeypatch.setattr(capture.sys, "platform", "darwin")
    monkeypatch.setattr(capture, "list_input_devices", lambda refresh=False: DEVICES)

    class Stream:
        active = False

        def start(self) -> None:
            refused()

        def stop(self) -> None: ...

        def close(self) -> None: ...

    recorder = Recorder(
        "usb", path=Path(capture.recordings_dir()) / "x.flac", stream_factory=lambda *a: Stream()
    )
    with pytest.raises(capture.MicrophonePermissionDenied) as info:
        recorder.start()
    assert "Privacy" in str(info.value) and "\n" not in str(info.value)
    assert not (capture.recordings_dir() / "x.flac").exists(), "nothing left on disk"
    assert find_interrupted_recordings() == []
