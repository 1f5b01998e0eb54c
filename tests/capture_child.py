"""Child process for the kill test: records a WAV through the fake stream at real pace.

``python -m tests.capture_child SOURCE.wav OUT.flac`` prints ``delivered N`` (frames handed
to the recorder so far) after every block, flushed, until it is killed.
"""

from __future__ import annotations

import sys
import time

import soundfile as sf

from app.core.audio.capture import Recorder
from tests.fake_stream import FileStreamFactory


def main(source: str, out: str) -> None:
    samples, rate = sf.read(source, dtype="float32", always_2d=True)
    factory = FileStreamFactory(samples, rate)
    recorder = Recorder(
        path=out, samplerate=rate, channels=samples.shape[1], stream_factory=factory
    )
    recorder.start()
    assert factory.stream is not None
    print("started", flush=True)
    seen = 0
    while True:
        delivered = factory.stream.delivered
        if delivered != seen:
            seen = delivered
            print(f"delivered {delivered}", flush=True)
        time.sleep(0.005)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
