"""What every start does first: freeze_support, streams of a windowed build, the model
cache outside a frozen app, and the log file."""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.__main__ import main
from app.core import startup
from app.core.asr.model_loader import hub_cache_dir

ROOT = Path(__file__).resolve().parents[1]


def test_a_windowed_start_without_stdout_and_stderr_still_runs_a_command() -> None:
    """pythonw / PyInstaller console=False: both streams are None; `murmur library list
    --json` writes to stdout and must not die of it."""
    code = (
        "import sys; sys.stdout = None; sys.stderr = None\n"
        "from app.__main__ import main\n"
        "rc = main(['library', 'list', '--json'])\n"
        "sys.stdout.write('still writable'); sys.stderr.write('so is this')\n"
        "sys.__stdout__.write(f'rc={rc}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "rc=0"  # the command's own output went to os.devnull


def test_streams_are_replaced_only_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real_err = sys.stderr
    monkeypatch.setattr(sys, "stdout", None)
    startup.guard_std_streams()
    assert sys.stdout is not None and sys.stdout.name == os.devnull
    assert sys.stderr is real_err
    sys.stdout.write("nothing to see\n")
    sys.stdout.flush()
    sys.stdout.close()


def test_main_calls_freeze_support_first(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(multiprocessing, "freeze_support", lambda: calls.append("freeze"))

    def dispatch(name: str, argv: list[str]) -> int:
        calls.append(name)
        return 0

    monkeypatch.setattr("app.cli.main.run_subcommand", dispatch)
    assert main(["library", "list"]) == 0
    assert calls == ["freeze", "library"]


# ------------------------------------------------------------------ the model cache


@pytest.fixture
def frozen_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend to be a PyInstaller bundle in tmp_path/app, with the user's cache elsewhere."""
    app_dir = tmp_path / "app"
    (app_dir / "_internal").mkdir(parents=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(app_dir / "_internal"), raising=False)
    monkeypatch.setattr(sys, "executable", str(app_dir / "murmur"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HOME", raising=False)
    return app_dir


def test_frozen_app_keeps_the_standard_hub_cache(frozen_app: Path) -> None:
    before = hub_cache_dir()
    assert startup.keep_model_cache_outside_app() is None
    assert hub_cache_dir() == before
    assert not hub_cache_dir().resolve().is_relative_to(frozen_app)
    assert "HF_HUB_CACHE" not in os.environ


@pytest.mark.parametrize("hf_home", ["inside", "relative"])
def test_frozen_app_never_downloads_into_itself(
    frozen_app: Path, hf_home: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if hf_home == "inside":
        monkeypatch.setenv("HF_HOME", str(frozen_app / "_internal" / "hf"))
    else:
        monkeypatch.setenv("HF_HOME", "hf-cache")
        monkeypatch.chdir(frozen_app)
    folder = startup.keep_model_cache_outside_app()
    assert folder == tmp_path / "user-cache" / "huggingface" / "hub"
    assert hub_cache_dir() == folder
    assert not hub_cache_dir().resolve().is_relative_to(frozen_app)


def test_from_source_the_cache_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setenv("HF_HOME", "relative-but-not-frozen")
    assert startup.frozen_app_dir() is None
    assert startup.keep_model_cache_outside_app() is None


# ------------------------------------------------------------------ the log


def test_the_log_goes_to_the_log_folder_with_one_rotating_handler(
    clean_root_logger: logging.Logger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MURMUR_LOG_DIR", str(tmp_path / "logs"))
    path = startup.setup_logging()
    assert path == tmp_path / "logs" / "murmur.log"
    assert startup.setup_logging() == path  # once: a second call adds nothing
    ours = [
        h
        for h in clean_root_logger.handlers
        if isinstance(h, logging.handlers.RotatingFileHandler) and h.baseFilename == str(path)
    ]
    assert len(ours) == 1 and ours[0].maxBytes == startup.LOG_MAX_BYTES
    logging.getLogger("app.test").info("hello from the test")
    ours[0].flush()
    line = path.read_text(encoding="utf-8").strip().splitlines()[-1]
    assert line.endswith("INFO app.test [MainThread] hello from the test")

    monkeypatch.setenv("MURMUR_LOG_DIR", str(tmp_path / "elsewhere"))
    moved = startup.setup_logging()  # the folder changed: the handler follows it
    assert moved == tmp_path / "elsewhere" / "murmur.log"
    assert sum(isinstance(h, startup._MurmurLogHandler) for h in clean_root_logger.handlers) == 1


def test_without_an_override_the_log_is_in_the_platform_log_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import platformdirs

    monkeypatch.delenv("MURMUR_LOG_DIR")
    expected = Path(platformdirs.user_log_dir("Murmur", appauthor=False)) / "murmur.log"
    assert startup.log_file() == expected
