"""`murmur devices` and `murmur record` in-process, with a fake device list and stream.

(The real PortAudio path, as subprocesses, is in tests/test_virtual_mic.py.)
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.cli import devices as devices_cli
from app.cli import record as record_cli
from app.core.audio import capture
from app.core.audio.capture import InputDevice
from tests import speech
from tests.fake_stream import FileStreamFactory

DEVICES = [
    InputDevice(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)", 2, 44100, False, "ALSA"),
    InputDevice(4, "pulse", 32, 44100, True, "ALSA"),
]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MURMUR_DATA_DIR", str(tmp_path / "data"))


def run_cli(module: object, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = module.run(argv, stdout=out, stderr=err)  # type: ignore[attr-defined]
    return code, out.getvalue(), err.getvalue()


def test_devices_table_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "list_input_devices", lambda refresh=False: DEVICES)
    code, out, _ = run_cli(devices_cli, [])
    assert code == 0
    rows = [line for line in out.splitlines() if "(ALSA)" in line]
    assert len(rows) == 2 and rows[1].startswith("* 4") and not rows[0].startswith("*")
    code, out, _ = run_cli(devices_cli, ["--json"])
    assert code == 0
    data = json.loads(out)
    assert [(d["index"], d["name"], d["is_default"]) for d in data] == [
        (0, DEVICES[0].name, False),
        (4, "pulse", True),
    ]
    assert data[0]["channels"] == 2 and data[0]["default_rate"] == 44100


def test_no_devices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(capture, "list_input_devices", lambda refresh=False: [])
    code, _, err = run_cli(devices_cli, [])
    assert code == 1 and "no input devices" in err
    code, _, err = run_cli(record_cli, ["--output", str(tmp_path / "x.flac")])
    assert code == 2 and err.count("\n") == 1 and "No microphone" in err
    assert not (tmp_path / "x.flac").exists()


def test_record_with_a_device_that_has_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "list_input_devices", lambda refresh=False: DEVICES)
    code, _, err = run_cli(record_cli, ["--input-device", "Blue Yeti"])
    assert code == 2 and err.count("\n") == 1 and "'Blue Yeti' is not available" in err


def test_record_until_sigterm_keeps_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    samples = speech.synthesize(speech.SENTENCES[1], tmp_path / "cache")[:24000]  # 1.5 s
    factory = FileStreamFactory(samples, 16000)
    monkeypatch.setattr(capture, "default_stream_factory", factory)

    def terminate_when_played() -> None:
        while factory.stream is None:
            threading.Event().wait(0.01)
        factory.stream.source_done.wait(30)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_when_played)
    killer.start()
    target = tmp_path / "note.flac"
    code, out, err = run_cli(record_cli, ["--output", str(target)])
    killer.join()
    assert code == 0, err
    assert out.strip() == str(target)
    assert "Saved" in err
    data, rate = sf.read(str(target), dtype="float32")
    assert rate == 16000
    np.testing.assert_allclose(data[: len(samples)], samples, atol=2**-20)
    assert capture.find_interrupted_recordings() == []


def test_record_device_unplugged_says_so_and_keeps_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    samples = np.zeros(16000, np.float32)
    monkeypatch.setattr(
        capture, "default_stream_factory", FileStreamFactory(samples, 16000, then="stop")
    )
    target = tmp_path / "cut.flac"
    code, out, err = run_cli(record_cli, ["--output", str(target)])
    assert code == 1
    assert "unplugged" in err and out.strip() == str(target)
    assert sf.info(str(target)).frames == 16000
