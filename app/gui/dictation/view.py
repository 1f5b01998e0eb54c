"""Live dictation in the window: the text grows as each utterance is transcribed.

The text stays editable while recording goes on: new utterances are appended at
the end, each on its own line, without moving the user's cursor. "Copy all"
copies the text; "Save as transcript" gives the editor a transcript with each
utterance's timing and the recording as its audio.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.transcript import Segment, Transcript, TranscriptMeta
from app.gui.dictation import session as states
from app.gui.dictation.session import DictationSession, SessionResult
from app.gui.recording.level_meter import LevelMeter
from app.gui.recording.panel import format_elapsed
from app.gui.theme import DANGER, icon

_STATE_TEXT = {
    states.IDLE: "Press Start and speak; the text appears after each pause.",
    states.STARTING: "Loading the model… (what you say now is kept)",
    states.LISTENING: "Listening…",
    states.TRANSCRIBING: "Transcribing…",
    states.FINISHING: "Finishing the last sentence…",
}


def transcript_from(text: str, utterances: list[Any], result: SessionResult | None) -> Transcript:
    """Segments from the (maybe edited) text, one per line, timed by the utterances.

    When the lines still match the utterances one to one, each line keeps its
    utterance's times; otherwise the lines share the spoken span in proportion to
    their length."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    spoken = [u for u in utterances if u.text]
    duration = result.duration_s if result is not None else 0.0
    if not lines or not spoken:
        segments: list[Segment] = []
    elif len(lines) == len(spoken):
        segments = [Segment(u.start, u.end, line) for u, line in zip(spoken, lines, strict=True)]
    else:
        start, end = spoken[0].start, spoken[-1].end
        total = sum(len(line) for line in lines)
        segments, t = [], start
        for line in lines:
            step = (end - start) * len(line) / total
            segments.append(Segment(round(t, 3), round(t + step, 3), line))
            t += step
    meta = TranscriptMeta(
        source=str(result.path) if result is not None and result.path else "",
        duration=max(duration, segments[-1].end if segments else 0.0),
    )
    return Transcript(segments, meta)


class DictationView(QWidget):
    saveRequested = Signal(str, object)  # audio path, Transcript

    def __init__(self, session: DictationSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings_provider: Any = None  # callable returning the current Settings
        self.utterances: list[Any] = []
        self.result: SessionResult | None = None

        self.state_label = QLabel(_STATE_TEXT[states.IDLE])
        self.state_label.setAccessibleName("Dictation state")
        self.meter = LevelMeter()
        self.meter.setFixedWidth(160)
        self.elapsed_label = QLabel(format_elapsed(0))
        self.elapsed_label.setObjectName("muted")
        self.start_button = QPushButton(icon("mic", DANGER), "Start dictation")
        self.start_button.setAccessibleName("Start dictation")
        self.start_button.clicked.connect(self.toggle)
        header = QHBoxLayout()
        header.addWidget(self.start_button)
        header.addWidget(self.state_label, 1)
        header.addWidget(self.meter)
        header.addWidget(self.elapsed_label)

        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Dictated text")
        self.text.setPlaceholderText("Your words appear here, sentence by sentence.")
        self.copy_button = QPushButton("Copy all")
        self.copy_button.setAccessibleName("Copy all")
        self.copy_button.clicked.connect(self.copy_all)
        self.save_button = QPushButton(icon("export"), "Save as transcript")
        self.save_button.setAccessibleName("Save as transcript")
        self.save_button.clicked.connect(self.save_as_transcript)
        self.message_label = QLabel()
        self.message_label.setObjectName("muted")
        self.message_label.setWordWrap(True)
        footer = QHBoxLayout()
        footer.addWidget(self.message_label, 1)
        footer.addWidget(self.copy_button)
        footer.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.text, 1)
        layout.addLayout(footer)

        session.stateChanged.connect(self._on_state)
        session.level.connect(self._on_level)
        session.utterance.connect(self._on_utterance)
        session.finished.connect(self._on_finished)
        session.failed.connect(self._on_failed)
        session.notice.connect(self._on_notice)
        self.text.textChanged.connect(self._update_buttons)
        self._update_buttons()

    @property
    def mine(self) -> bool:
        return self.session.target == "window"

    # -- commands -------------------------------------------------------------------
    def toggle(self) -> None:
        if self.session.active:
            if self.mine:
                self.session.stop()
            return
        if self.settings_provider is None:
            return
        self.utterances = []
        self.result = None
        self.text.clear()
        self.message_label.clear()
        self.session.start(self.settings_provider(), keep_file=True, target="window")

    def copy_all(self) -> str:
        text = self.text.toPlainText().strip()
        QGuiApplication.clipboard().setText(text)
        self.message_label.setText("Copied.")
        return text

    def save_as_transcript(self) -> Transcript | None:
        if self.session.active or self.result is None or self.result.path is None:
            return None
        transcript = transcript_from(self.text.toPlainText(), self.utterances, self.result)
        self.saveRequested.emit(str(self.result.path), transcript)
        return transcript

    # -- session events ----------------------------------------------------------------
    def _on_state(self, state: str) -> None:
        if not self.mine:  # dictating into another application: the microphone is busy
            self.start_button.setEnabled(state == states.IDLE)
            return
        self.state_label.setText(_STATE_TEXT.get(state, state))
        active = state != states.IDLE
        self.start_button.setText("Stop dictation" if active else "Start dictation")
        self.start_button.setAccessibleName(self.start_button.text())
        self.start_button.setEnabled(state != states.FINISHING)
        if not active:
            self.meter.reset()
        self._update_buttons()

    def _on_level(self, rms: float, peak: float, elapsed: float) -> None:
        if self.mine:
            self.meter.set_level(rms, peak)
            self.elapsed_label.setText(format_elapsed(elapsed))

    def _on_utterance(self, ev: Any) -> None:
        if not self.mine:
            return
        self.utterances.append(ev)
        if not ev.text:
            return
        cursor = QTextCursor(self.text.document())  # the user's own cursor stays put
        cursor.movePosition(QTextCursor.MoveOperation.End)
        prefix = "\n" if self.text.document().characterCount() > 1 else ""
        cursor.insertText(prefix + ev.text)
        bar = self.text.verticalScrollBar()
        if bar.value() >= bar.maximum() - 4:
            bar.setValue(bar.maximum())

    def _on_finished(self, result: SessionResult) -> None:
        if self.mine:
            self.result = result
            if result.message:
                self.message_label.setText(result.message)
            self._update_buttons()

    def _on_failed(self, line: str) -> None:
        if self.mine or not self.session.active:
            self.message_label.setText(line)

    def _on_notice(self, line: str) -> None:
        if self.mine:
            self.message_label.setText(line)

    def _update_buttons(self) -> None:
        has_text = bool(self.text.toPlainText().strip())
        self.copy_button.setEnabled(has_text)
        self.save_button.setEnabled(
            has_text
            and not self.session.active
            and self.result is not None
            and self.result.path is not None
        )
