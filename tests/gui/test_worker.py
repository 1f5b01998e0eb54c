"""The background worker: one engine, the queue in order, failures and cancel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.errors import MediaError
from app.core.events import ChunkTranscribed, MediaOpened, ModelReady, Progress, Stage, StageChanged
from app.core.settings import Settings
from app.gui.worker import MODEL_JOB, JobFailure, TranscriptionService, describe_failure
from tests.speech import SENTENCES, make_random_bytes, make_track

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("worker-speech")
    one = make_track(SENTENCES[:2], [0.8], folder, name="one")
    two = make_track(SENTENCES[2:3], [], folder, name="two")
    return one.path, two.path


@pytest.fixture
def settings(tiny_model_dir: Path) -> Settings:
    return Settings(model=str(tiny_model_dir), device="cpu", precision="fp32")


class Recorder:
    """Collects everything the service reports, in order."""

    def __init__(self, service: TranscriptionService) -> None:
        self.log: list[tuple[str, int, object]] = []
        service.event.connect(lambda j, e: self.log.append(("event", j, e)))
        service.jobStarted.connect(lambda j: self.log.append(("started", j, None)))
        service.jobFinished.connect(lambda j, t: self.log.append(("finished", j, t)))
        service.jobFailed.connect(lambda j, f: self.log.append(("failed", j, f)))
        service.jobCancelled.connect(lambda j: self.log.append(("cancelled", j, None)))
        service.modelFailed.connect(lambda f: self.log.append(("model_failed", 0, f)))

    def ended(self, job_id: int) -> str | None:
        for kind, j, _ in self.log:
            if j == job_id and kind in ("finished", "failed", "cancelled"):
                return kind
        return None

    def payload(self, kind: str, job_id: int) -> object:
        return next(p for k, j, p in self.log if k == kind and j == job_id)

    def events(self, job_id: int) -> list[object]:
        return [p for k, j, p in self.log if k == "event" and j == job_id]


@pytest.fixture
def service(qtbot: object) -> Iterator[TranscriptionService]:
    svc = TranscriptionService()
    yield svc
    svc.shutdown()
    assert not svc.thread.isRunning()


def test_queue_runs_in_order_and_reports_events(
    qtbot: object, service: TranscriptionService, settings: Settings, speech: tuple[Path, Path]
) -> None:
    rec = Recorder(service)
    jobs = [service.submit(str(p), settings) for p in speech]
    qtbot.waitUntil(lambda: all(rec.ended(j.id) for j in jobs), timeout=120_000)  # type: ignore[attr-defined]

    assert [rec.ended(j.id) for j in jobs] == ["finished", "finished"]
    started = [j for k, j, _ in rec.log if k == "started"]
    assert started == [jobs[0].id, jobs[1].id]
    # The second job starts only after the first has ended.
    order = [(k, j) for k, j, _ in rec.log]
    first_end = order.index(("finished", jobs[0].id))
    second_start = order.index(("started", jobs[1].id))
    assert first_end < second_start

    for job, path in zip(jobs, speech, strict=True):
        events = rec.events(job.id)
        opened = [e for e in events if isinstance(e, MediaOpened)]
        assert opened and Path(opened[0].path) == path
        assert any(isinstance(e, Progress) for e in events)
        chunks = [e for e in events if isinstance(e, ChunkTranscribed)]
        assert chunks
        transcript = rec.payload("finished", job.id)
        duration = opened[0].duration
        segments = list(transcript.segments)  # type: ignore[attr-defined]
        assert segments
        for seg in segments:
            assert 0.0 <= seg.start < seg.end <= duration + 1e-6
        assert [s.start for s in segments] == sorted(s.start for s in segments)
    # The model was loaded once, by the first job, and reported where it runs.
    ready = [p for k, _, p in rec.log if k == "event" and isinstance(p, ModelReady)]
    assert len(ready) == 1
    assert ready[0].device.label() == "CPU, fp32"


def test_failure_does_not_stop_the_queue(
    qtbot: object,
    service: TranscriptionService,
    settings: Settings,
    speech: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    rec = Recorder(service)
    bad = make_random_bytes(tmp_path / "broken.mp3")
    jobs = [service.submit(str(bad), settings), service.submit(str(speech[1]), settings)]
    qtbot.waitUntil(lambda: all(rec.ended(j.id) for j in jobs), timeout=120_000)  # type: ignore[attr-defined]
    assert rec.ended(jobs[0].id) == "failed"
    assert rec.ended(jobs[1].id) == "finished"
    failure = rec.payload("failed", jobs[0].id)
    assert isinstance(failure, JobFailure)
    assert isinstance(failure.error, MediaError)
    assert "broken.mp3" in failure.message
    assert "\n" not in failure.message


def test_unexpected_error_is_reported_not_raised(
    qtbot: object,
    service: TranscriptionService,
    settings: Settings,
    speech: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.core.pipeline as pipeline

    def boom(*args: object, **kwargs: object) -> Iterator[object]:
        yield StageChanged(Stage.DECODING)
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pipeline, "transcribe_file", boom)
    rec = Recorder(service)
    job = service.submit(str(speech[1]), settings)
    qtbot.waitUntil(lambda: rec.ended(job.id) is not None, timeout=30_000)  # type: ignore[attr-defined]
    failure = rec.payload("failed", job.id)
    assert isinstance(failure, JobFailure)
    assert failure.message == "Unexpected error: ZeroDivisionError: division by zero"
    assert "Traceback" in failure.details and "boom" in failure.details


def test_cancel_mid_transcription(
    qtbot: object, service: TranscriptionService, settings: Settings, speech: tuple[Path, Path]
) -> None:
    rec = Recorder(service)
    job = service.submit(str(speech[0]), settings)

    def cancel_when_transcribing(job_id: int, ev: object) -> None:
        # Runs in the worker thread, the moment transcription starts.
        if job_id == job.id and isinstance(ev, StageChanged) and ev.stage is Stage.TRANSCRIBING:
            job.cancel.set()

    service._worker.event.connect(cancel_when_transcribing, Qt.ConnectionType.DirectConnection)
    after = service.submit(str(speech[1]), settings)
    qtbot.waitUntil(lambda: rec.ended(after.id) is not None, timeout=120_000)  # type: ignore[attr-defined]
    assert rec.ended(job.id) == "cancelled"
    stages = [e.stage for e in rec.events(job.id) if isinstance(e, StageChanged)]
    assert Stage.TRANSCRIBING in stages and Stage.DONE not in stages
    assert rec.ended(after.id) == "finished"  # the queue goes on after a cancel


def test_cancelled_before_start_never_runs(
    qtbot: object, service: TranscriptionService, settings: Settings, speech: tuple[Path, Path]
) -> None:
    rec = Recorder(service)
    cancel = threading.Event()
    cancel.set()  # e.g. the user pressed Cancel while the file waited in the queue
    job = service.submit(str(speech[1]), settings, cancel=cancel)
    qtbot.waitUntil(lambda: rec.ended(job.id) is not None, timeout=30_000)  # type: ignore[attr-defined]
    assert rec.ended(job.id) == "cancelled"
    assert not any(k == "started" and j == job.id for k, j, _ in rec.log)


def test_engine_is_reused_and_reloaded_only_for_model_changes(
    qtbot: object,
    service: TranscriptionService,
    settings: Settings,
    speech: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.core.asr.engine as engine_module

    made: list[object] = []
    real = engine_module.Engine

    class CountingEngine(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(engine_module, "Engine", CountingEngine)
    rec = Recorder(service)
    service.preload(settings)
    qtbot.waitUntil(  # type: ignore[attr-defined]
        lambda: any(isinstance(e, ModelReady) for e in rec.events(MODEL_JOB)), timeout=60_000
    )
    from dataclasses import replace

    jobs = [
        service.submit(str(speech[1]), settings),
        service.submit(str(speech[1]), replace(settings, context="Stella and Bob")),
        service.submit(str(speech[1]), replace(settings, precision="bf16")),
    ]
    qtbot.waitUntil(lambda: all(rec.ended(j.id) for j in jobs), timeout=120_000)  # type: ignore[attr-defined]
    assert [rec.ended(j.id) for j in jobs] == ["finished"] * 3
    # preload + first two jobs share one engine; the precision change made a second one.
    assert len(made) == 2
    assert made[0].options.context == "Stella and Bob"  # type: ignore[attr-defined]
    assert made[1].options.dtype == "bf16"  # type: ignore[attr-defined]


def test_shutdown_while_running_leaves_no_thread(
    qtbot: object, settings: Settings, speech: tuple[Path, Path]
) -> None:
    baseline = threading.active_count()
    svc = TranscriptionService()
    rec = Recorder(svc)
    job = svc.submit(str(speech[0]), settings)
    qtbot.waitUntil(lambda: any(k == "started" for k, _, _ in rec.log), timeout=30_000)  # type: ignore[attr-defined]
    assert svc.shutdown(timeout_ms=60_000)
    assert not svc.thread.isRunning()
    assert job.cancel.is_set()
    assert threading.active_count() == baseline


def test_describe_failure_lines() -> None:
    failure = describe_failure(MediaError("a.mp3: not a media file"))
    assert failure.message == "a.mp3: not a media file"
    bug = describe_failure(ValueError("first line\nsecond line"))
    assert bug.message == "Unexpected error: ValueError: first line"
