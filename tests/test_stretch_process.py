"""The producer in a child process (app.core.audio.stretch_process): the same items, the
same transcription as the producer thread, and no child left behind, whatever happens
to it (an error, a cancel, a kill, a Ctrl+C, no way to start one)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core import pipeline
from app.core.asr.engine import Engine, EngineOptions
from app.core.audio import stretch_process, stretches
from app.core.audio.chunking import ChunkOptions
from app.core.audio.stretch_process import ProcessStretches
from app.core.audio.stretches import Decoded, Restarted, SpeechStretches, Stretch
from app.core.audio.vad import VadOptions
from app.core.errors import Cancelled, MediaError
from app.core.events import ChunksPlanned, ChunkTranscribed
from app.core.pipeline import PipelineOptions, transcribe_file
from tests import speech
from tests.listener_speech import HELD_OUT_SEED, Track, long_track
from tests.pipeline_runs import late_inverted_wav, outcome, run


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """A minute of held-out speech, 4 sentences every 15 s."""
    out = tmp_path_factory.mktemp("stretch-process")
    return long_track(out, HELD_OUT_SEED + 71, minutes=1.0, sentences=4, period_s=15.0)


def items_of(producer: SpeechStretches | ProcessStretches) -> list[object]:
    out = []
    while not producer.items.empty():
        out.append(producer.items.get())
    return out


def no_children() -> bool:
    deadline = time.monotonic() + 5.0
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


def tiny(folder: Path) -> Engine:
    return Engine(EngineOptions(model=str(folder), device="cpu", dtype="fp32"))


def test_the_child_hands_over_what_the_thread_does(track: Track) -> None:
    """Same stretches, same regions, the same samples (read while it runs and mapped at
    the end), and the same decoding details."""
    thread = SpeechStretches(track.path, VadOptions(), stretch_s=10.0)
    thread.run()
    child = ProcessStretches(track.path, VadOptions(), stretch_s=10.0)
    seen: list[tuple[int, np.ndarray]] = []
    runner = threading.Thread(target=child.run)
    runner.start()
    got: list[object] = []
    while True:
        item = child.items.get(timeout=60)
        got.append(item)
        if isinstance(item, Stretch):
            seen.append((len(child.samples), child.samples.read(0, len(child.samples))))
        if isinstance(item, Decoded | BaseException):
            break
    runner.join()
    expected = items_of(thread)
    assert [type(i) for i in got] == [type(i) for i in expected]
    assert [i for i in got if isinstance(i, Stretch)] == [
        i for i in expected if isinstance(i, Stretch)
    ]
    ours, theirs = got[-1], expected[-1]
    assert isinstance(ours, Decoded) and isinstance(theirs, Decoded)
    assert np.array_equal(ours.audio.samples, theirs.audio.samples)
    assert (ours.audio.info, ours.audio.truncated, ours.audio.warning) == (
        theirs.audio.info,
        theirs.audio.truncated,
        theirs.audio.warning,
    )
    assert len(seen) >= 5 and seen[0][0] < seen[-1][0]
    for size, samples in seen:
        assert np.array_equal(samples, theirs.audio.samples[:size])
    assert np.array_equal(child.samples[1000:5000], theirs.audio.samples[1000:5000])
    child.close()
    assert np.array_equal(ours.audio.samples[-100:], theirs.audio.samples[-100:])  # still mapped
    assert no_children()


@pytest.mark.parametrize("apart", [False, True])
def test_a_transcription_through_the_child_equals_the_thread_one(
    track: Track, tiny_model_dir: Path, apart: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one child, or speech detection in a second (the default from 2 cores on)
    monkeypatch.setattr(pipeline, "DETECTOR_PROCESS_CPUS", 1 if apart else 1 << 20)
    engine = tiny(tiny_model_dir)
    assert outcome(run(track.path, engine, producer="process")) == outcome(
        run(track.path, engine, producer="thread")
    )
    assert no_children()


def test_long_files_use_the_child_by_default(
    track: Track, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[str] = []
    monkeypatch.setattr(ProcessStretches, "_relay", lambda self: used.append("process") or 1 / 0)
    monkeypatch.setattr(pipeline, "PROCESS_PRODUCER_S", track.duration + 1)
    run(track.path, tiny(tiny_model_dir))  # shorter: a thread
    assert used == []
    monkeypatch.setattr(pipeline, "PROCESS_PRODUCER_S", track.duration - 1)
    with pytest.raises(ZeroDivisionError):
        run(track.path, tiny(tiny_model_dir))
    assert used == ["process"]
    with pytest.raises(ValueError, match="producer"):
        PipelineOptions(producer="fork")


def test_a_decoding_error_in_the_child_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + bytes(range(256)) * 40)
    producer = ProcessStretches(bad, VadOptions())
    producer.run()
    items = items_of(producer)
    assert len(items) == 1 and isinstance(items[0], MediaError), items
    assert "\n" not in str(items[0])
    assert no_children()


def test_a_truncated_file_through_the_child(
    track: Track, tiny_model_dir: Path, tmp_path: Path
) -> None:
    mp3 = tmp_path / "whole.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(track.path), "-b:a", "64k", str(mp3)], check=True
    )
    data = mp3.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) * 55 // 100])
    engine = tiny(tiny_model_dir)
    events = run(cut, engine, producer="process")
    transcript = events[-1].transcript  # type: ignore[attr-defined]
    assert 0.5 * track.duration < transcript.meta.duration < 0.6 * track.duration
    assert outcome(events) == outcome(run(cut, engine, producer="thread"))


def test_a_restart_in_the_child_gives_the_sequential_result(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phase-inverted after 40 s: the child starts decoding again, truncating the shared
    file; the parent voids its cut and ends with the sequential result."""
    path = late_inverted_wav(tmp_path / "late-inverted.wav")
    engine = tiny(tiny_model_dir)
    # one child: detection keeps pace with decoding, so chunks are planned before the
    # restart (with detection apart the decoder may get there first; tested below)
    monkeypatch.setattr(pipeline, "DETECTOR_PROCESS_CPUS", 1 << 20)
    piped = run(path, engine, producer="process")
    planned = [e for e in piped if isinstance(e, ChunksPlanned)]
    assert any(e.restart for e in planned), "the cut was voided"
    plain = run(path, engine, pipeline=False, producer="thread")
    assert piped[-1].transcript.segments == plain[-1].transcript.segments  # type: ignore[attr-defined]


@pytest.mark.parametrize("apart", [False, True])
def test_cancel_stops_the_children(
    track: Track, tiny_model_dir: Path, apart: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One child, or speech detection in a second: none is left after a cancel."""
    monkeypatch.setattr(pipeline, "DETECTOR_PROCESS_CPUS", 1 if apart else 1 << 20)
    engine = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", batch_size=1))
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        for event in transcribe_file(
            track.path, engine, PipelineOptions(producer="process"), cancel
        ):
            if isinstance(event, ChunkTranscribed):
                cancel.set()
    assert no_children()
    assert [t for t in threading.enumerate() if t.name == "murmur-decode"] == []


def test_a_killed_child_is_one_line_and_the_parent_goes_on(track: Track) -> None:
    producer = ProcessStretches(track.path, VadOptions(), stretch_s=5.0)
    runner = threading.Thread(target=producer.run)
    runner.start()
    first = producer.items.get(timeout=60)
    assert not isinstance(first, BaseException)
    children = multiprocessing.active_children()
    assert len(children) == 1
    os.kill(children[0].pid, signal.SIGKILL)
    runner.join(30)
    assert not runner.is_alive()
    last = items_of(producer)[-1]
    assert isinstance(last, MediaError)
    assert str(last) == f"Decoding {track.path.name} stopped unexpectedly (signal 9)."
    assert no_children()


def test_ctrl_c_in_the_terminal_does_not_reach_the_child(track: Track) -> None:
    """SIGINT goes to the whole process group: the child must not die of it (the parent
    decides, through its cancel)."""
    producer = ProcessStretches(track.path, VadOptions(), stretch_s=5.0)
    runner = threading.Thread(target=producer.run)
    runner.start()
    producer.items.get(timeout=60)
    (child,) = multiprocessing.active_children()
    os.kill(child.pid, signal.SIGINT)
    runner.join(60)
    items = items_of(producer)
    assert isinstance(items[-1], Decoded), items[-1]
    assert no_children()


def test_no_child_means_the_thread_does_the_work(
    track: Track,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(_process: object) -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(stretch_process, "_start", refuse)
    engine = tiny(tiny_model_dir)
    with caplog.at_level(logging.WARNING, logger=stretch_process.__name__):
        events = run(track.path, engine, producer="process")
    assert "decoding on a thread" in caplog.text
    assert outcome(events) == outcome(run(track.path, engine, producer="thread"))


def test_the_stretch_grid_is_the_parents(monkeypatch: pytest.MonkeyPatch, track: Track) -> None:
    monkeypatch.setattr(stretches, "STRETCH_S", 12.5)
    producer = ProcessStretches(track.path, VadOptions())
    producer.run()
    lengths = [round(i.end - i.start, 3) for i in items_of(producer) if isinstance(i, Stretch)]
    # the ramp (0.1, 0.2, 0.4 of a stretch), then whole stretches, as in the parent
    assert lengths[:5] == [1.25, 2.5, 5.0, 12.5, 12.5], lengths


def _gone(pid: int) -> bool:
    """The process ended (a zombie waiting for a reaper counts as ended)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.startswith("State:") and "Z" in line for line in status)
    except OSError:
        return True


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("detector", [False, True])
def test_the_child_ends_when_its_parent_is_gone(tmp_path: Path, detector: bool) -> None:
    """A parent that exits at once (a second Ctrl+C: os._exit) leaves no child decoding
    (or detecting) on: each child notices at its next check and ends."""
    rate = speech.SAMPLE_RATE
    noise = np.random.default_rng(5).standard_normal(40 * 60 * rate).astype(np.float32) * 0.01
    path = tmp_path / "long.flac"
    sf.write(path, noise, rate)
    script = (
        "import os, sys, threading, multiprocessing\n"
        "from app.core.audio.stretch_process import ProcessStretches\n"
        "from app.core.audio.vad import VadOptions\n"
        "if __name__ == '__main__':\n"
        "    p = ProcessStretches(sys.argv[1], VadOptions(), stretch_s=5.0,\n"
        "                         detector=sys.argv[2] == 'True')\n"
        "    threading.Thread(target=p.run, daemon=True).start()\n"
        "    p.items.get(timeout=120)\n"
        "    print(*[c.pid for c in multiprocessing.active_children()], flush=True)\n"
        "    os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), str(detector)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert out.returncode == 0, out.stderr
    children = [int(pid) for pid in out.stdout.split()]
    assert len(children) == (2 if detector else 1)
    deadline = time.monotonic() + 30
    while not all(map(_gone, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(map(_gone, children)), "a child process outlived its parent"
    assert "Traceback" not in out.stderr and "leaked" not in out.stderr, out.stderr


def test_where_a_child_cannot_work_a_thread_does(
    track: Track, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no os.pread, and a handle passed to a child shares its file position:
    there "auto" never asks for a child, and "process" gets a thread."""
    monkeypatch.setattr(stretch_process, "SUPPORTED", False)
    monkeypatch.setattr(pipeline, "PROCESS_PRODUCER_S", 1.0)
    engine = tiny(tiny_model_dir)
    started: list[object] = []
    monkeypatch.setattr(stretch_process, "_start", started.append)
    assert outcome(run(track.path, engine)) == outcome(run(track.path, engine, producer="process"))
    assert started == [] and no_children()


def test_a_child_that_dies_decoding_is_not_tried_again_on_a_thread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed once it has begun (it has written samples, before its first item): an
    error, not a second try in this process (FFmpeg crashing on damaged data would take
    the app down with it)."""
    rate = speech.SAMPLE_RATE
    noise = np.random.default_rng(6).standard_normal(40 * 60 * rate).astype(np.float32) * 0.01
    path = tmp_path / "long.flac"
    sf.write(path, noise, rate)
    producer = ProcessStretches(path, VadOptions(), stretch_s=1e6)  # one stretch: the end
    runner = threading.Thread(target=producer.run)
    with caplog.at_level(logging.WARNING, logger=stretch_process.__name__):
        runner.start()
        deadline = time.monotonic() + 60
        while os.fstat(producer.samples._file.fileno()).st_size == 0:
            assert time.monotonic() < deadline, "the child wrote nothing"
            time.sleep(0.02)
        (child,) = multiprocessing.active_children()
        os.kill(child.pid, signal.SIGKILL)
        runner.join(30)
    items = items_of(producer)
    assert len(items) == 1 and isinstance(items[0], MediaError), items
    assert "stopped unexpectedly (signal 9)" in str(items[0])
    assert "decoding on a thread" not in caplog.text
    assert no_children()


# --------------------------------------------------------------------------- detection apart


def _murmur_children() -> list[str]:
    return sorted(p.name for p in multiprocessing.active_children())


def test_a_detection_process_hands_over_what_one_process_does(track: Track) -> None:
    """Decoding in one child, speech detection in another: the same items in the same
    order (Detecting first, every stretch with its speech, Decoded last)."""
    one = ProcessStretches(track.path, VadOptions(), stretch_s=10.0)
    one.run()
    two = ProcessStretches(track.path, VadOptions(), stretch_s=10.0, detector=True)
    seen: list[list[str]] = []
    runner = threading.Thread(target=two.run)
    runner.start()
    got: list[object] = []
    while True:
        item = two.items.get(timeout=60)
        got.append(item)
        seen.append(_murmur_children())
        if isinstance(item, Decoded | BaseException):
            break
    runner.join()
    expected = items_of(one)
    assert [type(i) for i in got] == [type(i) for i in expected]
    assert [i for i in got if isinstance(i, Stretch)] == [
        i for i in expected if isinstance(i, Stretch)
    ]
    assert sum(len(i.regions) for i in got if isinstance(i, Stretch)) >= len(track.sentences)
    assert ["murmur-decode", "murmur-detect"] in seen
    ours, theirs = got[-1], expected[-1]
    assert isinstance(ours, Decoded) and isinstance(theirs, Decoded)
    assert np.array_equal(ours.audio.samples, theirs.audio.samples)
    one.close()
    two.close()
    assert no_children()


def test_a_killed_detection_process_leaves_the_work_to_the_parent(
    track: Track, caplog: pytest.LogCaptureFixture
) -> None:
    one = ProcessStretches(track.path, VadOptions(), stretch_s=5.0)
    one.run()
    two = ProcessStretches(track.path, VadOptions(), stretch_s=5.0, detector=True)
    runner = threading.Thread(target=two.run)
    with caplog.at_level(logging.WARNING, logger=stretch_process.__name__):
        runner.start()
        got = [two.items.get(timeout=60)]
        (detector,) = [p for p in multiprocessing.active_children() if p.name == "murmur-detect"]
        os.kill(detector.pid, signal.SIGKILL)
        runner.join(60)
    got += items_of(two)
    assert "the speech detection process ended" in caplog.text
    expected = items_of(one)
    assert [i for i in got if isinstance(i, Stretch)] == [
        i for i in expected if isinstance(i, Stretch)
    ]
    assert isinstance(got[-1], Decoded)
    assert no_children()


def test_where_no_detection_process_starts_the_decoding_one_detects(
    track: Track, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = stretch_process._start

    def only_the_decoder(process: multiprocessing.Process) -> None:
        if process.name == "murmur-detect":
            raise OSError("one process is all we get")
        real(process)

    monkeypatch.setattr(stretch_process, "_start", only_the_decoder)
    one = ProcessStretches(track.path, VadOptions(), stretch_s=10.0)
    one.run()
    two = ProcessStretches(track.path, VadOptions(), stretch_s=10.0, detector=True)
    with caplog.at_level(logging.WARNING, logger=stretch_process.__name__):
        two.run()
    assert "detecting speech in the decoding process" in caplog.text
    got, expected = items_of(two), items_of(one)
    assert [type(i) for i in got] == [type(i) for i in expected]
    assert [i for i in got if isinstance(i, Stretch)] == [
        i for i in expected if isinstance(i, Stretch)
    ]
    assert no_children()


@pytest.fixture
def detection_apart(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The pipeline's long-file producer, with detection in its own process whatever the
    core count; records what the pipeline asked for."""
    asked: list[bool] = []
    real = ProcessStretches.__init__

    def init(self: ProcessStretches, *args: object, **kwargs: object) -> None:
        asked.append(bool(kwargs.get("detector")))
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ProcessStretches, "__init__", init)
    monkeypatch.setattr(pipeline, "DETECTOR_PROCESS_CPUS", 1)
    return asked


def test_a_transcription_with_detection_apart_equals_the_thread_one(
    track: Track,
    tiny_model_dir: Path,
    detection_apart: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one chunk a sentence and a batch, so that groups run before Decoded is consumed
    monkeypatch.setattr(stretches, "STRETCH_S", 5.0)
    engine = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu", batch_size=1))
    spares: list[int] = []
    real = engine.pin_threads
    engine.pin_threads = lambda spare=0: spares.append(spare) or real(spare)  # type: ignore[method-assign]
    apart = outcome(run(track.path, engine, producer="process", chunks=ChunkOptions(pack=False)))
    assert spares[0] == 2, "the model leaves both children a core while they run"
    assert spares[-1] == 0
    assert apart == outcome(
        run(track.path, engine, producer="thread", chunks=ChunkOptions(pack=False))
    )
    assert detection_apart == [True]
    assert no_children()


def test_a_restart_with_detection_apart_gives_the_sequential_result(
    tiny_model_dir: Path, tmp_path: Path, detection_apart: list[bool]
) -> None:
    """The decoder starts again: stretches sent for detection before are void, and what
    the detection process found for them is dropped."""
    path = late_inverted_wav(tmp_path / "late-inverted.wav")
    one = ProcessStretches(path, VadOptions(), stretch_s=10.0)
    one.run()
    two = ProcessStretches(path, VadOptions(), stretch_s=10.0, detector=True)
    two.run()

    def after_the_restart(items: list[object]) -> list[object]:
        assert any(isinstance(i, Restarted) for i in items)
        last = max(k for k, i in enumerate(items) if isinstance(i, Restarted))
        return [i for i in items[last:] if isinstance(i, Stretch | Restarted)]

    assert after_the_restart(items_of(two)) == after_the_restart(items_of(one))
    one.close()
    two.close()
    engine = tiny(tiny_model_dir)
    piped = run(path, engine, producer="process")
    assert detection_apart == [False, True, True]  # one, two, the pipeline's
    plain = run(path, engine, pipeline=False, producer="thread")
    assert piped[-1].transcript.segments == plain[-1].transcript.segments  # type: ignore[attr-defined]
    assert no_children()


def test_detection_goes_apart_only_with_cores_to_spare(
    track: Track, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bool] = []
    monkeypatch.setattr(
        ProcessStretches, "_relay", lambda self: asked.append(self.detector) or 1 / 0
    )
    monkeypatch.setattr(pipeline, "PROCESS_PRODUCER_S", 1.0)
    for cores in (1, 2, 16):
        monkeypatch.setattr(pipeline, "default_threads", lambda cores=cores: cores)
        with pytest.raises(ZeroDivisionError):
            run(track.path, tiny(tiny_model_dir))
    assert asked == [False, True, True]


@pytest.mark.parametrize("which", ["decoder", "detector"])
def test_a_child_whose_parent_is_already_gone_ends_quietly(
    which: str, track: Track, tmp_path: Path
) -> None:
    """The parent may exit (a second Ctrl+C) before a child has said "ready": the child
    ends without a traceback (run here in this process, on a pipe whose other end is
    closed once the file was handed over)."""
    from multiprocessing.reduction import send_handle

    ours, theirs = multiprocessing.Pipe(duplex=True)
    handler = signal.getsignal(signal.SIGINT)  # the child ignores SIGINT: not pytest
    try:
        with open(tmp_path / "samples", "w+b") as file:
            send_handle(ours, file.fileno(), os.getpid())
            ours.close()
            if which == "decoder":
                stretch_process._child(str(track.path), VadOptions(), {}, theirs)
            else:
                stretch_process._detector(VadOptions(), speech.SAMPLE_RATE, theirs)
    finally:
        signal.signal(signal.SIGINT, handler)
        theirs.close()
