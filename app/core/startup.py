"""What every start of Murmur does first, frozen or not (no Qt).

- ``prepare_process``: ``multiprocessing.freeze_support()``, streams for a windowed build
  (where ``sys.stdout`` and ``sys.stderr`` are None), and a model cache outside the app;
- ``setup_logging``: one rotating log file in the user's log folder (the window's log;
  the command line keeps its own lines on stderr).
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import sys
from pathlib import Path

LOG_FILE_NAME = "murmur.log"
LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 3
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

log = logging.getLogger(__name__)


def prepare_process() -> None:
    """The first thing ``murmur`` does, before anything prints or imports the hub."""
    multiprocessing.freeze_support()
    guard_std_streams()
    keep_model_cache_outside_app()


def guard_std_streams() -> None:
    """A windowed build (PyInstaller ``console=False``, ``pythonw``) starts with
    ``sys.stdout`` and ``sys.stderr`` set to None, and the first ``write`` from any
    library would raise. Give them ``os.devnull``; the window writes its log to a file."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def frozen_app_dir() -> Path | None:
    """The folder of a frozen (PyInstaller) Murmur, or None when running from source."""
    if not getattr(sys, "frozen", False):
        return None
    return Path(getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))).resolve()


def default_model_cache() -> Path:
    """The user's cache folder for the hub's models when the standard one can't be used."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("huggingface", appauthor=False)) / "hub"


def keep_model_cache_outside_app() -> Path | None:
    """In a frozen app, make sure the model is never downloaded into the app's folder
    (read-only when installed, and removed with the app): a relative ``HF_HOME`` /
    ``HF_HUB_CACHE``, or one inside the bundle, is replaced by the user's cache folder.

    The standard Hugging Face cache (``~/.cache/huggingface/hub``, shared with other
    tools) is kept whenever it lies outside the app. Returns the new folder when one was
    set, else None."""
    app_dir = frozen_app_dir()
    if app_dir is None:
        return None
    from app.core.asr.model_loader import hub_cache_dir

    cache = hub_cache_dir()
    inside = cache.is_absolute() and cache.resolve().is_relative_to(app_dir)
    if cache.is_absolute() and not inside:
        return None
    folder = default_model_cache()
    os.environ["HF_HUB_CACHE"] = str(folder)
    log.info("model cache %s was inside the app or relative; using %s", cache, folder)
    return folder


class _MurmurLogHandler(logging.handlers.RotatingFileHandler):
    """Murmur's own file handler (so that setting up again replaces it, never doubles it)."""


def log_file() -> Path:
    """The current log file (``MURMUR_LOG_DIR`` overrides the folder)."""
    from app.core.settings import log_dir

    return log_dir() / LOG_FILE_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Log to a rotating file in the user's log folder; returns the file.

    Called once by the window at start; calling it again keeps one handler, for the
    folder as it is now. Python warnings go to the log too."""
    path = log_file()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _MurmurLogHandler):
            if Path(handler.baseFilename) == path.resolve():
                return path
            root.removeHandler(handler)
            handler.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _MurmurLogHandler(
        path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler.setLevel(level)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    logging.captureWarnings(True)
    return path
