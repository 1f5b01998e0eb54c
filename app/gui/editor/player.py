"""Playback with QtMultimedia, kept quiet on machines without an audio device.

QtMultimedia logs Qt *warnings* for conditions that are normal on a headless
or audio-less machine (no PipeWire library, no PulseAudio server, no output
device). Those would be noise for users and fail the test suite, so the
multimedia modules are imported, and audio devices are queried, under a
temporary message filter that drops exactly those known messages and passes
everything else on. Without an output device no QAudioOutput is attached:
the player still runs (silently) on its own clock, so positions advance.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QMessageLogContext,
    QObject,
    QtMsgType,
    QUrl,
    Signal,
    qInstallMessageHandler,
)

if TYPE_CHECKING:
    from PySide6.QtMultimedia import QMediaPlayer

BENIGN_MULTIMEDIA_MESSAGES = re.compile(
    r"Couldn't (load|resolve) pipewire|PulseAudioService: pa_context_connect|"
    r"No audio device detected|PipeWire audio backend requested"
)


@contextmanager
def quiet_multimedia_messages() -> Iterator[None]:
    """Drop QtMultimedia's known benign warnings while the block runs."""

    def handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if BENIGN_MULTIMEDIA_MESSAGES.search(message):
            return
        if previous is not None:
            previous(mode, context, message)
        elif mode != QtMsgType.QtDebugMsg:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)


_modules: dict[str, ModuleType] = {}


def multimedia() -> ModuleType:
    """``PySide6.QtMultimedia``, imported quietly on first use."""
    if "mm" not in _modules:
        with quiet_multimedia_messages():
            from PySide6 import QtMultimedia

            _modules["mm"] = QtMultimedia
    return _modules["mm"]


def multimedia_widgets() -> ModuleType:
    """``PySide6.QtMultimediaWidgets``, imported quietly on first use."""
    if "mmw" not in _modules:
        multimedia()
        with quiet_multimedia_messages():
            from PySide6 import QtMultimediaWidgets

            _modules["mmw"] = QtMultimediaWidgets
    return _modules["mmw"]


def has_audio_output() -> bool:
    """Whether the system offers an audio output device."""
    with quiet_multimedia_messages():
        return bool(multimedia().QMediaDevices.audioOutputs())


class MediaPlayer(QObject):
    """A QMediaPlayer in seconds, with play-from, toggle and relative seeks."""

    positionChanged = Signal(float)  # seconds
    durationChanged = Signal(float)  # seconds
    playingChanged = Signal(bool)
    hasVideoChanged = Signal(bool)
    errorOccurred = Signal(str)  # one line for the user

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        mm = multimedia()
        with quiet_multimedia_messages():
            self._player: QMediaPlayer = mm.QMediaPlayer(self)
            self._audio: Any = None
            if has_audio_output():
                self._audio = mm.QAudioOutput(self)
                self._player.setAudioOutput(self._audio)
        self._path = ""
        self._pending_seek: float | None = None  # asked for before the media was loaded
        self._player.mediaStatusChanged.connect(self._on_media_status)
        self._player.positionChanged.connect(lambda ms: self.positionChanged.emit(ms / 1000.0))
        self._player.durationChanged.connect(lambda ms: self.durationChanged.emit(ms / 1000.0))
        self._player.hasVideoChanged.connect(self.hasVideoChanged.emit)
        self._player.playbackStateChanged.connect(self._on_state)
        self._player.errorOccurred.connect(self._on_error)

    @property
    def qt_player(self) -> QMediaPlayer:
        return self._player

    @property
    def has_audio(self) -> bool:
        """False when no audio device exists (playback is silent but still runs)."""
        return self._audio is not None

    @property
    def source(self) -> str:
        return self._path

    def set_source(self, path: str | Path | None) -> None:
        path = str(path) if path else ""
        if path == self._path:
            return
        self._player.stop()
        self._path = path
        self._pending_seek = None
        with quiet_multimedia_messages():
            self._player.setSource(QUrl.fromLocalFile(path) if path else QUrl())

    def set_video_output(self, output: QObject | None) -> None:
        self._player.setVideoOutput(output)

    @property
    def position(self) -> float:
        return self._player.position() / 1000.0

    @property
    def duration(self) -> float:
        return self._player.duration() / 1000.0

    @property
    def has_video(self) -> bool:
        return bool(self._player.hasVideo())

    def is_playing(self) -> bool:
        return self._player.playbackState() == multimedia().QMediaPlayer.PlaybackState.PlayingState

    def play(self) -> bool:
        """Start playing; False when there is no media."""
        if not self._path:
            return False
        with quiet_multimedia_messages():
            self._player.play()
        return True

    def pause(self) -> None:
        self._player.pause()

    def stop(self) -> None:
        self._player.stop()

    def toggle(self) -> bool:
        """Play or pause; returns whether it is now playing (or about to)."""
        if self.is_playing():
            self.pause()
            return False
        return self.play()

    def seek(self, seconds: float) -> None:
        limit = self.duration if self.duration > 0 else None
        seconds = max(0.0, seconds if limit is None else min(seconds, limit))
        statuses = multimedia().QMediaPlayer.MediaStatus
        if self._player.mediaStatus() in (statuses.NoMedia, statuses.LoadingMedia):
            self._pending_seek = seconds  # the backend ignores seeks until it has loaded
        self._player.setPosition(round(seconds * 1000))
        self.positionChanged.emit(seconds)  # update highlight at once, even when paused

    def skip(self, delta: float) -> None:
        self.seek(self.position + delta)

    def play_from(self, seconds: float) -> bool:
        if not self._path:
            return False
        self.seek(seconds)
        return self.play()

    def _on_media_status(self, status: Any) -> None:
        statuses = multimedia().QMediaPlayer.MediaStatus
        if self._pending_seek is not None and status in (
            statuses.LoadedMedia,
            statuses.BufferedMedia,
        ):
            seconds, self._pending_seek = self._pending_seek, None
            self._player.setPosition(round(seconds * 1000))

    def _on_state(self, state: object) -> None:
        self.playingChanged.emit(state == multimedia().QMediaPlayer.PlaybackState.PlayingState)

    def _on_error(self, _error: object, message: str) -> None:
        name = Path(self._path).name if self._path else "media"
        self.errorOccurred.emit(f"Can't play {name}: {message or 'unknown error'}")
