"""The first start: the welcome panel shown while the model is not on this machine.

It says what the one-time download is (size, where it goes), downloads it with its
progress, speed and time left (on a thread of its own, with the loader's
``resolve_model``; Cancel sets a ``threading.Event``), or takes a model folder that the
loader accepts. A failed download or an offline machine shows the reason here, with the
same buttons. ``modelReady(model)`` says which model setting to use from now on.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.events import DownloadProgress
from app.gui.queue_model import format_eta
from app.gui.status import format_bytes

PROGRESS_INTERVAL_S = 0.1  # at most this often from the download thread
SPEED_WINDOW_S = 5.0  # speed over the last seconds


def model_name(model: str) -> str:
    return model.rstrip("/\\").replace("\\", "/").split("/")[-1] or model


class DownloadMeter:
    """Speed and time left from byte counts over the last ``window`` seconds."""

    def __init__(self, window: float = SPEED_WINDOW_S) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> None:
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window:
            self._samples.popleft()

    def speed(self) -> float | None:
        """Bytes per second, or None before there are two samples apart in time."""
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else None

    def seconds_left(self, done: int, total: int | None) -> float | None:
        speed = self.speed()
        if not total or not speed or speed <= 0:
            return None
        return max(0.0, (total - done) / speed)

    def text(self, progress: DownloadProgress) -> str:
        """ "1.2 GB of 4.5 GB (27%) · 12.3 MB/s · about 4 min 30 s left" """
        done = format_bytes(progress.bytes_done)
        if progress.bytes_total:
            pct = (progress.fraction or 0.0) * 100
            parts = [f"{done} of {format_bytes(progress.bytes_total)} ({pct:.0f}%)"]
        else:
            parts = [done]
        speed = self.speed()
        if speed is not None:
            parts.append(f"{format_bytes(speed)}/s")
        eta = format_eta(self.seconds_left(progress.bytes_done, progress.bytes_total))
        if eta:
            parts.append(f"about {eta} left")
        return " · ".join(parts)


class ModelDownload(QObject):
    """Downloads a hub model into the Hugging Face cache on a thread of its own.

    Signals arrive on the GUI thread. ``cancel()`` sets the download's event; the
    loader stops at its next block of bytes."""

    progress = Signal(object)  # DownloadProgress, at most every PROGRESS_INTERVAL_S
    finished = Signal(str)  # the model's folder
    failed = Signal(str)  # one line
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self.model = ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, model: str) -> None:
        if self.running:
            return
        self.model = model
        self._cancel = threading.Event()
        # Not a daemon: the window joins it when it closes (after cancelling it).
        self._thread = threading.Thread(
            target=self._run, args=(model, self._cancel), name="murmur-model-download"
        )
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Join the thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, model: str, cancel: threading.Event) -> None:
        from app.core.asr.model_loader import resolve_model
        from app.core.errors import Cancelled, MurmurError

        last = [0.0]

        def report(progress: DownloadProgress) -> None:
            now = time.monotonic()
            complete = progress.bytes_total is not None and progress.bytes_done >= (
                progress.bytes_total
            )
            if complete or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                self.progress.emit(progress)

        try:
            folder = resolve_model(model, progress=report, cancel=cancel)
        except Cancelled:
            self.cancelled.emit()
        except MurmurError as exc:
            self.failed.emit(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except Exception as exc:  # never let the thread die silently
            self.failed.emit(f"Download failed: {type(exc).__name__}: {exc}")
        else:
            if cancel.is_set():
                self.cancelled.emit()
            else:
                self.finished.emit(str(folder))


class WelcomePanel(QWidget):
    """Shown instead of the transcript while the model is missing."""

    modelReady = Signal(str)  # the model setting to use now: a hub id or a folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.setAccessibleName("Welcome")
        self.needed = False  # the model is missing: files wait
        self.model = ""  # the model setting checked last
        self.reason = ""  # why it can't be used, shown on the panel ("" on a first start)
        self.download = ModelDownload(self)
        self.download.progress.connect(self._on_progress)
        self.download.finished.connect(self._on_downloaded)
        self.download.failed.connect(self._on_failed)
        self.download.cancelled.connect(self._on_cancelled)
        self.meter = DownloadMeter()

        self.heading = QLabel(f"Welcome to {APP_NAME}")
        self.heading.setObjectName("heading")
        self.intro_label = self._wrapped()
        self.where_label = self._wrapped()
        self.where_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_label = self._wrapped()
        self.reason_label.setObjectName("error")
        self.reason_label.setAccessibleName("Why the model is not ready")
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_label.hide()

        self.download_button = QPushButton("Download the model")
        self.download_button.setObjectName("primary")
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.start_download)
        self.folder_button = QPushButton("Use a model folder…")
        self.folder_button.setToolTip("A folder that already holds GLM-ASR (config.json, weights)")
        self.folder_button.clicked.connect(self.choose_folder)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.cancel_button.clicked.connect(self.cancel_download)
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Model download progress")
        self.progress.hide()
        self.progress_label = self._wrapped()
        self.progress_label.setObjectName("muted")
        self.progress_label.hide()
        self.waiting_label = self._wrapped()
        self.waiting_label.setObjectName("muted")
        self.waiting_label.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        box = QVBoxLayout(self)
        box.setContentsMargins(24, 24, 24, 24)
        box.setSpacing(12)
        box.addWidget(self.heading)
        box.addWidget(self.intro_label)
        box.addWidget(self.where_label)
        box.addWidget(self.reason_label)
        box.addLayout(buttons)
        box.addWidget(self.progress)
        box.addWidget(self.progress_label)
        box.addWidget(self.waiting_label)
        box.addStretch(1)

    @staticmethod
    def _wrapped() -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        return label

    # -- the model -------------------------------------------------------------------
    def check(self, model: str, reason: str = "") -> bool:
        """True when ``model`` is on this machine (no network). Otherwise the panel is
        set up for it (with ``reason``, or why the folder can't be used) and ``needed``."""
        from app.core.asr.model_loader import find_local_model
        from app.core.errors import ModelError, ModelNotDownloaded

        self.model = model
        if not reason:
            try:
                find_local_model(model)
            except ModelNotDownloaded:
                pass
            except ModelError as exc:
                reason = str(exc)
            else:
                self.needed = False
                return True
        self.needed = True
        self._describe()
        self.show_reason(reason)
        return False

    def download_id(self) -> str:
        """The hub model the Download button fetches: the setting when it is a hub id,
        else the default model."""
        from app.core.asr.model_loader import DEFAULT_MODEL_ID, looks_like_path

        model = self.model.strip()
        return model if model and not looks_like_path(model) else DEFAULT_MODEL_ID

    def _describe(self) -> None:
        from app.core.asr.model_loader import download_size, hub_cache_dir

        target = self.download_id()
        size = download_size(target)
        size_text = f"about {format_bytes(size)}" if size else "its size is shown once it starts"
        self.intro_label.setText(
            f"{APP_NAME} turns speech into text on this computer with the speech model "
            f"{target}. It needs a one-time download ({size_text}); after that {APP_NAME} "
            "works offline and nothing you transcribe leaves this computer."
        )
        self.where_label.setText(f"The model is kept in the Hugging Face cache: {hub_cache_dir()}")
        self.download_button.setText(
            f"Download the model ({format_bytes(size)})" if size else "Download the model"
        )

    def show_reason(self, reason: str) -> None:
        self.reason = reason
        self.reason_label.setText(reason)
        self.reason_label.setVisible(bool(reason))

    def set_waiting(self, count: int) -> None:
        """How many dropped files wait for the model."""
        files = "1 file waits" if count == 1 else f"{count} files wait"
        self.waiting_label.setText(f"{files} for the model; they start once it is ready.")
        self.waiting_label.setVisible(count > 0)

    # -- download ----------------------------------------------------------------------
    @Slot()
    def start_download(self) -> None:
        if self.download.running:
            return
        self.show_reason("")
        self.meter = DownloadMeter()
        self.progress.setRange(0, 0)  # busy until the sizes are known
        self.progress.show()
        self.progress_label.setText("Starting the download…")
        self.progress_label.show()
        self._set_busy(True)
        self.download.start(self.download_id())

    @Slot()
    def cancel_download(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling…")
        self.download.cancel()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Cancel a download and wait for its thread (the window is closing)."""
        self.download.cancel()
        return self.download.wait(timeout)

    def _set_busy(self, busy: bool) -> None:
        self.download_button.setVisible(not busy)
        self.folder_button.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(busy)

    def _on_progress(self, progress: DownloadProgress) -> None:
        self.meter.add(time.monotonic(), progress.bytes_done)
        if progress.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(progress.fraction * 1000))
        self.progress_label.setText(self.meter.text(progress))

    def _on_downloaded(self, folder: str) -> None:
        self._set_busy(False)
        self.progress.hide()
        self.progress_label.setText(f"Downloaded to {folder}")
        self.needed = False
        self.modelReady.emit(self.download.model)

    def _on_failed(self, reason: str) -> None:
        self._finish_download()
        self.show_reason(reason)
        self.download_button.setText("Try the download again")

    def _on_cancelled(self) -> None:
        self._finish_download()
        self.show_reason("The download was cancelled. The files already fetched are kept.")

    def _finish_download(self) -> None:
        self._set_busy(False)
        self.progress.hide()
        self.progress_label.hide()

    # -- a folder ------------------------------------------------------------------------
    @Slot()
    def choose_folder(self) -> None:
        """Pick a folder; it is used when the loader accepts it, else the reason shows."""
        from app.core.asr.model_loader import check_model_folder
        from app.core.errors import ModelError

        folder = QFileDialog.getExistingDirectory(self, "Choose the folder that holds the model")
        if not folder:
            return
        try:
            path = check_model_folder(folder)
        except ModelError as exc:
            self.show_reason(str(exc))
            return
        self.show_reason("")
        self.needed = False
        self.modelReady.emit(str(Path(path)))
