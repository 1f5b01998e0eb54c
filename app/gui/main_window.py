"""The main window: drop zone and queue on the left, the transcript on the right.

Importing this module must stay cheap: torch and transformers are loaded by the
worker thread, never here.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QUndoGroup
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.errors import ModelError
from app.core.events import (
    ChunksPlanned,
    ChunkTranscribed,
    DeviceInfo,
    DownloadProgress,
    MediaOpened,
    ModelReady,
    Notice,
    Progress,
    Stage,
    StageChanged,
)
from app.core.settings import (
    EXPORT_FORMATS,
    SPEAKER_CHOICES,
    Settings,
    load_settings,
    save_settings,
)
from app.core.transcript import Transcript
from app.gui import export_actions, help_texts
from app.gui.dictation.session import DictationSession
from app.gui.dictation.view import DictationView
from app.gui.drop_zone import MEDIA_EXTENSIONS, DropZone, collect_media_files
from app.gui.editor import TranscriptEditor
from app.gui.elided_label import ElidedLabel
from app.gui.history import HistoryPanel, LibraryAutosave, open_library
from app.gui.live_view import LiveSegmentsView
from app.gui.menus import build_menus
from app.gui.prompts import (
    CANCEL,
    EXPORT,
    REPLACE,
    ask_replace,
    ask_unexported,
    confirm_stop_work,
)
from app.gui.queue_model import JobState, QueueItem, QueueModel, audio_tracks
from app.gui.queue_view import QueueView
from app.gui.recording.menu import add_record_menu
from app.gui.recording.panel import RecordingPanel
from app.gui.settings_dialog import SettingsDialog
from app.gui.status import StatusBar, StatusPanel, download_text
from app.gui.theme import icon
from app.gui.welcome import WelcomePanel
from app.gui.worker import MODEL_JOB, JobFailure, TranscriptionService

if TYPE_CHECKING:
    from app.gui.document import TranscriptDocument

PAGE_EMPTY, PAGE_LIVE, PAGE_EDITOR, PAGE_DICTATION = range(4)


class MainWindow(QMainWindow):
    settingsChanged = Signal()
    recentDictationsRequested = Signal()

    def __init__(
        self,
        settings: Settings | None = None,
        model: str | None = None,
        device: str | None = None,
        preload: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else load_settings()
        self._overrides = {k: v for k, v in (("model", model), ("device", device)) if v}
        self.setWindowTitle(f"{APP_NAME}[*]")
        self.setAccessibleName(APP_NAME)
        self.setMinimumSize(720, 480)
        self.resize(1180, 760)

        self.queue = QueueModel(self)
        self._job_items: dict[int, int] = {}  # job id -> item id
        self.undo_group = QUndoGroup(self)
        self._shown: QueueItem | None = None
        self._closing = False

        self._build_ui()
        self._build_history()
        build_menus(self)
        self.setStatusBar(StatusBar(self))  # its messages are never cut off silently
        self.status = StatusPanel(self.statusBar())

        self.service = TranscriptionService(self)
        self.service.event.connect(self._on_event)
        self.service.jobStarted.connect(self._on_started)
        self.service.jobFinished.connect(self._on_finished)
        self.service.jobFailed.connect(self._on_failed)
        self.service.jobCancelled.connect(self._on_cancelled)
        self.service.modelFailed.connect(self._on_model_failed)
        self._build_recording()
        self._build_welcome()

        self._restore_window()
        self._update_actions()
        if preload:
            self._model_missing()  # before any file is queued: they wait for a missing model
            QTimer.singleShot(0, self._preload)

    # -- settings ---------------------------------------------------------------
    def effective_settings(self) -> Settings:
        """The saved settings with this session's command-line overrides."""
        return dataclasses.replace(self.settings, **self._overrides)

    def _save_settings(self) -> None:
        try:
            save_settings(self.settings)
        except Exception as exc:  # never lose the window over a settings file
            self.statusBar().showMessage(f"Settings not saved: {exc}", 8000)

    def _preload(self) -> None:
        if self._closing or self._model_missing():
            return
        self.status.set_stage("Model: loading in the background…", busy=True)
        self.service.preload(self.effective_settings())
        self._release_waiting()

    # -- the first start: the model is not on this computer (app/gui/welcome.py) -------
    def _build_welcome(self) -> None:
        self.welcome = WelcomePanel()
        self.welcome.modelReady.connect(self._on_model_ready)
        self.welcome.download.progress.connect(self.status.set_download)
        self.welcome.download.failed.connect(self.status.set_error)
        self.welcome.download.cancelled.connect(
            lambda: self.status.set_stage("Model: download cancelled")
        )
        self.pages.addWidget(self.welcome)
        self._waiting: dict[int, bool] = {}  # item id -> resume, while the model is missing
        self.dictation_session.blocked = lambda: (
            "Dictation needs the speech model: download it or choose its folder first."
            if self.welcome.needed
            else ""
        )

    def _model_missing(self, reason: str = "") -> bool:
        """Check that the model is on this computer (never the network); when it is not,
        or ``reason`` says it can't be used, the welcome panel takes the empty page."""
        if self.welcome.check(self.effective_settings().model, reason):
            if self.pages.currentWidget() is self.welcome:
                self._show_item(self._shown)
            return False
        if self.welcome.reason:
            self.status.set_error(self.welcome.reason)
        else:
            self.status.set_stage("Model: not downloaded yet")
        self._show_item(self._shown)
        return True

    def _on_model_ready(self, model: str) -> None:
        """Downloaded, or a folder chosen: use it, and start the files that wait."""
        if model != self.effective_settings().model:
            self.settings.model = model
            self._overrides.pop("model", None)
            self._save_settings()
            self.settingsChanged.emit()
        self._preload()

    def _release_waiting(self) -> None:
        waiting, self._waiting = self._waiting, {}
        self.welcome.set_waiting(0)
        for item_id, resume in waiting.items():
            item = self.queue.find(item_id)
            if item is not None and item.state is JobState.WAITING:
                item.state = JobState.QUEUED
                self._submit(item, resume=resume)
                self._item_changed(item)

    def _forget_waiting(self, item_id: int) -> None:
        if self._waiting.pop(item_id, None) is not None:
            self.welcome.set_waiting(len(self._waiting))

    def _show_empty(self) -> None:
        """The hint, or the welcome panel while the model is missing."""
        if self.welcome.needed:
            self.pages.setCurrentWidget(self.welcome)
        else:
            self.pages.setCurrentIndex(PAGE_EMPTY)

    # -- UI -----------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.drop_zone = DropZone()
        self.drop_zone.filesDropped.connect(self._on_dropped)
        self.drop_zone.addFilesClicked.connect(self.add_files_dialog)

        self.queue_view = QueueView()
        self.queue_view.setModel(self.queue)
        self.queue_view.cancelRequested.connect(self.cancel_item)
        self.queue_view.removeRequested.connect(self.remove_item)
        self.queue_view.retryRequested.connect(self.retry_item)
        self.queue_view.trackChosen.connect(self.choose_track)
        self.queue_view.speakersChosen.connect(self.choose_speakers)
        self.queue_view.selectionModel().currentChanged.connect(self._on_current_changed)

        queue_title = QLabel("Queue")
        queue_title.setObjectName("heading")
        self.export_all_button = QPushButton(icon("export"), "Export all finished")
        self.export_all_button.setAccessibleName("Export all finished")
        self.export_all_button.clicked.connect(self.export_all_finished)
        left = QWidget()
        self.left_layout = left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(16, 16, 8, 12)
        left_layout.setSpacing(12)
        left_layout.addWidget(self.drop_zone)
        left_layout.addWidget(queue_title)
        left_layout.addWidget(self.queue_view, 1)
        left_layout.addWidget(self.export_all_button)

        self.title_label = ElidedLabel("No file selected", title="File")
        self.title_label.setObjectName("heading")
        self.subtitle_label = ElidedLabel("", title="Status")
        self.subtitle_label.setObjectName("muted")
        self.export_buttons: dict[str, QPushButton] = {}
        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(self.title_label)
        titles.addWidget(self.subtitle_label)
        header.addLayout(titles, 1)
        export_label = QLabel("Export")
        export_label.setObjectName("muted")
        header.addWidget(export_label)
        for fmt in EXPORT_FORMATS:
            button = QPushButton(fmt.upper())
            button.setAccessibleName(f"Export {fmt.upper()}")
            button.setToolTip(f"Export as {export_actions.FORMAT_LABELS[fmt]}")
            button.clicked.connect(lambda _=False, f=fmt: self.export_current(f))
            self.export_buttons[fmt] = button
            header.addWidget(button)

        empty = QLabel(help_texts.EMPTY_HINT)
        empty.setObjectName("muted")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setWordWrap(True)
        self.live_view = LiveSegmentsView()
        self.editor = TranscriptEditor()
        self.editor.subtitle_tools.set_limits(self.settings.check_limits())
        self.settingsChanged.connect(
            lambda: self.editor.subtitle_tools.set_limits(self.settings.check_limits())
        )
        self.pages = QStackedWidget()
        self.pages.addWidget(empty)
        self.pages.addWidget(self.live_view)
        self.pages.addWidget(self.editor)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 16, 16, 12)
        right_layout.setSpacing(12)
        right_layout.addLayout(header)
        right_layout.addWidget(self.pages, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setSizes([380, 800])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

    def _build_history(self) -> None:
        self.library, notice = open_library()
        self._autosaves: dict[int, LibraryAutosave] = {}  # queue item id -> its autosave
        self.history = HistoryPanel(self.library)
        self.history.openRequested.connect(self.open_from_library)
        self.history.resumeRequested.connect(self.resume_from_library)
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("historyDock")
        self.history_dock.setWidget(self.history)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.history_dock)
        if notice:
            QTimer.singleShot(0, lambda: self.statusBar().showMessage(notice, 15000))

    # -- recording and dictation (app/gui/recording, app/gui/dictation) ---------
    def _build_recording(self) -> None:
        self.dictation_session = DictationSession(self.service, parent=self)
        self.recording_panel = RecordingPanel()
        self.recording_panel.recorded.connect(self._on_recorded)
        self.recording_panel.deviceChanged.connect(self._on_input_device_chosen)
        self.left_layout.insertWidget(1, self.recording_panel)
        self.dictation_view = DictationView(self.dictation_session)
        self.dictation_view.settings_provider = self.effective_settings
        self.dictation_view.saveRequested.connect(self.add_transcript)
        self.pages.addWidget(self.dictation_view)
        add_record_menu(self)
        self.recording_panel.refresh_devices(preferred=self.settings.input_device)
        self.settingsChanged.connect(
            lambda: self.recording_panel.refresh_devices(preferred=self.settings.input_device)
        )
        QTimer.singleShot(0, self.recording_panel.offer_interrupted)

    def _on_recorded(self, path: str, message: str) -> None:
        """A finished (or recovered, or cut short) recording joins the queue."""
        if self._closing:  # stopped by closing: the file is kept in the recordings folder
            return
        items = self.add_files([path])
        if items:
            self.queue_view.select_item(items[0].id)
        self.statusBar().showMessage(message or f"Recorded {Path(path).name}", 8000)

    def _on_input_device_chosen(self, name: str) -> None:
        if name != self.settings.input_device:
            self.settings.input_device = name
            self._save_settings()

    def show_dictation(self) -> None:
        self.queue_view.clearSelection()
        self._show_item(None)
        self.pages.setCurrentIndex(PAGE_DICTATION)
        self.title_label.setText("Dictation")

    def add_transcript(self, path: str, transcript: Transcript) -> QueueItem:
        """Queue a transcript made here (a dictation) as a finished item, in the editor,
        and keep it in the library (kind "dictation"; edits are autosaved there)."""
        from app.gui.history.library_jobs import store_dictation

        item = self.queue.add([path])[0]
        item.library_id = store_dictation(self.library, path, transcript, self.effective_settings())
        self._attach_document(item, transcript)
        self.queue_view.select_item(item.id)
        self._show_item(item)
        return item

    def add_finished(
        self, path: str, transcript: Transcript, media: str = "", library_id: int | None = None
    ) -> QueueItem:
        """Queue a transcript that needs no transcribing (imported subtitles) as a finished
        item, and show it in the editor with ``media`` ("" = none) for playback; edits are
        autosaved to library transcript ``library_id`` (None: not kept)."""
        from app.gui.document import TranscriptDocument  # after the editor (import cycle)

        (item,) = self.queue.add([path])
        item.library_id = library_id
        item.duration = transcript.meta.duration
        item.state = JobState.DONE
        item.fraction = 1.0
        self._adopt_document(item, TranscriptDocument(transcript, media))
        self.history.refresh()
        self.queue_view.select_item(item.id)
        self._show_item(item)
        return item

    # -- window state ------------------------------------------------------------
    def _restore_window(self) -> None:
        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode()))
        if self.settings.window_state:
            self.restoreState(QByteArray.fromBase64(self.settings.window_state.encode()))

    def _remember_window(self) -> None:
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64().data()).decode()
        self.settings.window_state = bytes(self.saveState().toBase64().data()).decode()

    # -- adding files ----------------------------------------------------------------
    def add_files_dialog(self) -> None:
        pattern = " ".join(f"*{ext}" for ext in sorted(MEDIA_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add audio or video files", "", f"Audio and video ({pattern});;All files (*)"
        )
        if files:
            self.add_files(files)

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of audio or video")
        if folder:
            self._on_dropped(collect_media_files([folder]))

    def _on_dropped(self, files: list[str]) -> None:
        if not files:
            self.statusBar().showMessage("No audio or video files found in what was dropped", 6000)
            return
        self.add_files(files)

    def add_files(self, paths: list[str]) -> list[QueueItem]:
        """Queue files (folders are searched) and start on them in order."""
        files = collect_media_files(paths)
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            self.statusBar().showMessage(f"Not found: {', '.join(missing)}", 8000)
        items = self.queue.add(files)
        for item in items:
            item.tracks = audio_tracks(item.path)
            self._submit(item)
            self.queue.touch(item.id)
        if items and self.queue_view.current_item() is None:
            self.queue_view.select_item(items[0].id)
        self._update_actions()
        return items

    def _submit(self, item: QueueItem, resume: bool = False) -> None:
        from app.gui.history.library_jobs import library_job

        if self.welcome.needed:  # started when the model is ready
            item.state = JobState.WAITING
            self._waiting[item.id] = resume
            self.welcome.set_waiting(len(self._waiting))
            return
        settings = self.effective_settings()
        item.speakers = item.speakers or settings.speakers  # the card's choice, else the default
        settings = dataclasses.replace(settings, speakers=item.speakers)
        if not resume:
            item.library_id = library_job(self.library, item.path, settings, item.library_id)
        job = self.service.submit(
            item.path,
            settings,
            cancel=item.cancel_event,
            library=self.library if item.library_id is not None else None,
            library_id=item.library_id,
            resume=resume,
            track=item.track,
        )
        item.track_used = item.chosen_track
        item.speakers_used = item.speakers
        self._job_items[job.id] = item.id
        self.history.refresh()

    # -- the library -----------------------------------------------------------------
    def _show_library_item(self, tid: int) -> QueueItem | None:
        """The queue item of a library transcript, added (finished) when not there yet."""
        from app.gui.history.library_jobs import document_for

        item = next((i for i in self.queue.items if i.library_id == tid), None)
        if item is None and self.library is not None:
            transcript = self.library.transcript(tid)
            (item,) = self.queue.add([transcript.meta.source or self.library.get(tid).title])
            item.library_id = tid
            item.state = JobState.DONE
            item.fraction = 1.0
            item.duration = transcript.meta.duration
            item.speakers = item.speakers_used = self._stored_speakers(tid)
            # an unfinished job is shown as it is; edits are kept once it is finished
            done = self.library.get(tid).status == "done"
            self._adopt_document(item, document_for(transcript), autosave=done)
        if item is not None:
            self.queue_view.select_item(item.id)
        return item

    def _stored_speakers(self, tid: int) -> str:
        """The speaker detection a library job was made with ("off" when unknown)."""
        stored = self.library.get(tid).settings.get("speakers") if self.library else None
        return stored if stored in SPEAKER_CHOICES else "off"

    def open_from_library(self, tid: int, row: int) -> None:
        """Show a transcript from the history, at segment ``row``."""
        item = self._show_library_item(tid)
        if item is not None and item.document is not None and row < len(item.document.transcript):
            self.editor.table.select_row(row)

    def resume_from_library(self, tid: int) -> None:
        """Finish an interrupted job: only the chunks not stored yet."""
        item = next((i for i in self.queue.items if i.library_id == tid), None)
        if item is not None and not item.state.finished:
            return
        if item is not None:
            self.remove_item(item.id)
        if self.library is None:
            return
        (item,) = self.queue.add([self.library.get(tid).media_path])
        item.library_id = tid
        item.speakers = self._stored_speakers(tid)  # finish as it began
        self._submit(item, resume=True)
        self.queue_view.select_item(item.id)

    def _adopt_document(
        self, item: QueueItem, doc: TranscriptDocument, autosave: bool = True
    ) -> None:
        doc.dirtyChanged.connect(lambda _d, i=item: self._item_changed(i))
        self.undo_group.addStack(doc.undo_stack)
        item.document = doc
        if autosave and self.library is not None and item.library_id is not None:
            autosave = LibraryAutosave(doc, self.library, item.library_id)
            autosave.saveFailed.connect(lambda m: self.statusBar().showMessage(m, 8000))
            self._autosaves[item.id] = autosave
        self._item_changed(item)

    def choose_track(self, item_id: int, track: int) -> None:
        """The track picker on a card: a queued file restarts with it; a finished
        one can be retried with it."""
        item = self.queue.find(item_id)
        if item is None or item.state.active or track == item.chosen_track:
            return
        item.track = track
        self._requeue(item)

    def choose_speakers(self, item_id: int, speakers: str) -> None:
        """The speaker picker on a card ("off", "auto", a number): as for a track."""
        item = self.queue.find(item_id)
        if item is None or item.state.active or speakers == item.speakers:
            return
        item.speakers = speakers
        self._requeue(item)

    def _requeue(self, item: QueueItem) -> None:
        """A queued file starts again with its new choices; a finished one offers Retry."""
        item_id = item.id
        if item.state is JobState.QUEUED:
            # Drop the queued job (its cancellation is not reported) and queue again.
            for job_id in [j for j, i in self._job_items.items() if i == item_id]:
                self._end_job(job_id)
            item.cancel_event.set()
            item.cancel_event = threading.Event()
            self._submit(item)
        self._item_changed(item)

    # -- queue actions ----------------------------------------------------------------
    def cancel_item(self, item_id: int) -> None:
        item = self.queue.find(item_id)
        if item is None or item.state.finished:
            return
        item.cancel_event.set()
        self._forget_waiting(item_id)
        if item.state in (JobState.QUEUED, JobState.WAITING):
            item.state = JobState.CANCELLED
        else:
            item.stage = "cancelling…"
        self._item_changed(item)

    def retry_item(self, item_id: int) -> None:
        item = self.queue.find(item_id)
        if item is None:
            return
        if item.state not in (JobState.FAILED, JobState.CANCELLED) and not item.rerun_offered:
            return
        doc = item.document
        if doc is not None:
            if doc.is_dirty():
                answer = self.ask_unexported([item])
                if answer == CANCEL or (answer == EXPORT and not self._export_docs([doc])):
                    return
            self.undo_group.removeStack(doc.undo_stack)
        item.reset_for_retry()
        self._submit(item)
        if self._shown is item:
            self._show_item(item)  # the live view again, not the old transcript
        self._item_changed(item)

    def remove_item(self, item_id: int) -> None:
        item = self.queue.find(item_id)
        if item is None:
            return
        doc = item.document
        if doc is not None and doc.is_dirty():
            answer = self.ask_unexported([item])
            if answer == CANCEL or (answer == EXPORT and not self._export_docs([doc])):
                return
        item.cancel_event.set()
        self._forget_waiting(item_id)
        if doc is not None:
            self.undo_group.removeStack(doc.undo_stack)
        if self._shown is item:
            self._show_item(None)
        self.queue.remove(item_id)
        self._update_actions()

    def _cancel_current(self) -> None:
        if (item := self.queue_view.current_item()) is not None:
            self.cancel_item(item.id)

    def _retry_current(self) -> None:
        if (item := self.queue_view.current_item()) is not None:
            self.retry_item(item.id)

    def _remove_current(self) -> None:
        if (item := self.queue_view.current_item()) is not None:
            self.remove_item(item.id)

    # -- worker signals ------------------------------------------------------------------
    def _item_for_job(self, job_id: int) -> QueueItem | None:
        item_id = self._job_items.get(job_id)
        return self.queue.find(item_id) if item_id is not None else None

    def _end_job(self, job_id: int) -> QueueItem | None:
        item = self._item_for_job(job_id)
        self._job_items.pop(job_id, None)
        self.service.forget(job_id)
        return item

    def _on_started(self, job_id: int) -> None:
        if (item := self._item_for_job(job_id)) is not None:
            item.state = JobState.RUNNING
            item.stage = "starting"
            self._item_changed(item)

    def _on_event(self, job_id: int, ev: object) -> None:
        item = None if job_id == MODEL_JOB else self._item_for_job(job_id)
        if isinstance(ev, StageChanged):
            model_stage = ev.stage in (Stage.LOADING_MODEL, Stage.DOWNLOADING_MODEL)
            if model_stage:
                self.status.set_stage(ev.message or ev.stage.value.capitalize(), busy=True)
            if item is not None and ev.stage is not Stage.DONE:
                item.state = JobState.LOADING_MODEL if model_stage else JobState.RUNNING
                item.stage = ev.stage.value if not model_stage else ev.stage.value.capitalize()
        elif isinstance(ev, DownloadProgress):
            self.status.set_download(ev)
            if item is not None:
                item.stage = download_text(ev)
        elif isinstance(ev, ModelReady):
            requested = self.effective_settings().device
            self.status.set_ready(ev.model, ev.device, requested, ev.load_seconds)
            if item is not None:
                item.state = JobState.RUNNING
        elif isinstance(ev, MediaOpened):
            if item is not None:
                item.duration = ev.duration
        elif isinstance(ev, ChunksPlanned) and ev.restart:
            if item is not None:  # decoding started again: the rows so far are void
                item.segments.clear()
                if self._shown is item:
                    self.live_view.set_segments(item.segments)
        elif isinstance(ev, ChunkTranscribed):
            if item is not None:
                item.segments.extend(ev.segments)
                if self._shown is item:  # insert this chunk's rows, never rebuild (#16)
                    self.live_view.add_segments(ev.segments)
        elif isinstance(ev, Progress):
            if item is not None:
                item.fraction = ev.fraction
                item.eta_s = ev.eta_s
        elif isinstance(ev, Notice):
            self.statusBar().showMessage(ev.message, 8000)
            if item is not None:
                item.notices.append(ev.message)
        if item is not None:
            self._item_changed(item)

    def _on_finished(self, job_id: int, transcript: Transcript) -> None:
        item = self._end_job(job_id)
        if item is not None:
            self._attach_document(item, transcript)

    def _attach_document(self, item: QueueItem, transcript: Transcript) -> None:
        from app.gui.document import TranscriptDocument  # after the editor (import cycle)

        doc = TranscriptDocument(transcript, item.path)
        self._adopt_document(item, doc)
        self.history.refresh()
        item.state = JobState.DONE
        item.fraction = 1.0
        item.eta_s = None
        self._item_changed(item)
        if self._shown is item:
            self._show_item(item)

    def _on_failed(self, job_id: int, failure: JobFailure) -> None:
        item = self._end_job(job_id)
        if item is None:
            return
        item.state = JobState.FAILED
        item.error = failure.message
        item.details = failure.details
        self._item_changed(item)
        self.history.refresh()

    def _on_cancelled(self, job_id: int) -> None:
        item = self._end_job(job_id)
        if item is not None:
            item.state = JobState.CANCELLED
            self._item_changed(item)

    def _on_model_failed(self, failure: JobFailure) -> None:
        if isinstance(failure.error, ModelError):  # the welcome panel says why, files wait
            self._model_missing(failure.message)
        self.status.set_error(failure.message, failure.details)

    def set_device_info(self, info: DeviceInfo) -> None:
        self.status.set_device(info, self.effective_settings().device)

    # -- showing a transcript -------------------------------------------------------------------
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_item(self.queue.item(current.row()) if current.isValid() else None)

    def _show_item(self, item: QueueItem | None) -> None:
        self._shown = item
        doc = item.document if item is not None else None
        if doc is not None:
            self.editor.set_document(doc)
            self.undo_group.setActiveStack(doc.undo_stack)
            self.pages.setCurrentIndex(PAGE_EDITOR)
        else:
            self.editor.set_document(None)
            self.undo_group.setActiveStack(None)
            if item is not None and not item.state.finished and not self.welcome.needed:
                self.live_view.set_segments(item.segments)
                self.pages.setCurrentIndex(PAGE_LIVE)
            else:
                self._show_empty()
        self._update_header()
        self._update_actions()

    def _item_changed(self, item: QueueItem) -> None:
        self.queue.touch(item.id)
        if item is self._shown:
            if item.document is None and item.state.finished:
                self._show_empty()
            self._update_header()
        self._update_actions()

    def _update_header(self) -> None:
        item = self._shown
        if item is None:
            self.title_label.setText("No file selected")
            self.subtitle_label.setText("")
            self.setWindowTitle(f"{APP_NAME}[*]")
            self.setWindowModified(False)
            return
        self.title_label.setText(item.name)
        self.subtitle_label.setText(item.status_text())
        self.setWindowTitle(f"{item.name}[*] — {APP_NAME}")
        self.setWindowModified(bool(item.document and item.document.is_dirty()))

    def _update_actions(self) -> None:
        item = self._shown
        has_doc = item is not None and item.document is not None
        for fmt in EXPORT_FORMATS:
            self.export_buttons[fmt].setEnabled(has_doc)
            self.export_actions[fmt].setEnabled(has_doc)
        finished = self.queue.count(JobState.DONE) > 0
        self.export_all_button.setEnabled(finished)
        self.action_export_all.setEnabled(finished)
        current = self.queue_view.current_item()
        state = current.state if current is not None else None
        self.action_cancel_item.setEnabled(state is not None and not state.finished)
        rerun = current is not None and current.rerun_offered
        self.action_retry_item.setEnabled(state in (JobState.FAILED, JobState.CANCELLED) or rerun)
        self.action_remove_item.setEnabled(current is not None)

    # -- export ----------------------------------------------------------------------------------
    def export_current(self, fmt: str) -> Path | None:
        item = self._shown
        if item is None or item.document is None:
            return None
        written = export_actions.export_with_dialog(self, item.document, fmt, self.settings)
        if written is not None:
            self._save_settings()  # remembers the folder
            self.statusBar().showMessage(f"Exported {written}", 8000)
            self._item_changed(item)
        return written

    def _export_docs(self, docs: list[TranscriptDocument]) -> bool:
        settings = self.effective_settings()
        existing = export_actions.existing_exports(docs, settings)
        answer = self.ask_replace(existing) if existing else None
        if answer == CANCEL:
            return False
        result = export_actions.export_all(docs, settings, overwrite=answer == REPLACE)
        if result.errors:
            QMessageBox.warning(self, "Export failed", "\n".join(result.errors))
        elif result.written:
            message = f"Exported {len(result.written)} files"
            if result.renamed:
                message += " · names taken, numbered: " + "; ".join(result.renamed)
            self.statusBar().showMessage(message, 15000)
        for item in self.queue.items:
            self.queue.touch(item.id)
        self._update_header()
        return not result.errors

    def export_all_finished(self) -> bool:
        docs = [i.document for i in self.queue.items if i.document is not None]
        return self._export_docs(docs) if docs else False

    # -- dialogs ---------------------------------------------------------------------------------
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.effective_settings(), self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        new = dialog.result_settings()
        if new is None:
            return
        old = self.effective_settings()
        self.settings = new
        self._overrides.clear()
        self._save_settings()
        self.settingsChanged.emit()
        if (old.model, old.device, old.precision) != (new.model, new.device, new.precision):
            self._preload()

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", help_texts.about_html())

    def show_help(self) -> None:
        QMessageBox.information(self, f"{APP_NAME} help", help_texts.HELP_HTML)

    def ask_unexported(self, items: list[QueueItem]) -> str:
        """Ask what to do with unexported edits: EXPORT, DISCARD or CANCEL."""
        return ask_unexported(self, [i.name for i in items])

    def ask_replace(self, existing: list[Path]) -> str:
        """Exports would replace files: REPLACE, KEEP_BOTH or CANCEL."""
        return ask_replace(self, existing)

    def confirm_stop_work(self, running: int) -> bool:
        return confirm_stop_work(self, running)

    # -- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            event.accept()
            return
        dirty = [i for i in self.queue.items if i.document is not None and i.document.is_dirty()]
        if dirty:
            answer = self.ask_unexported(dirty)
            docs = [i.document for i in dirty if i.document is not None]
            if answer == CANCEL or (answer == EXPORT and not self._export_docs(docs)):
                event.ignore()
                return
        running = self.queue.count(JobState.QUEUED, JobState.LOADING_MODEL, JobState.RUNNING)
        if running and not self.confirm_stop_work(running):
            event.ignore()
            return
        self._closing = True
        self._remember_window()
        self._save_settings()
        for item in self.queue.items:
            item.cancel_event.set()
        for autosave in self._autosaves.values():
            autosave.flush()
        self.recording_panel.stop()
        self.dictation_session.cancel()
        self.editor.set_document(None)
        self.welcome.shutdown()
        self.service.shutdown()
        event.accept()
