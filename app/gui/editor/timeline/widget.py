"""The waveform timeline under the player: see the sound, move the cues on it.

- The waveform comes from :class:`PeaksLoader` (the disk cache, else decoded in the
  background); "Preparing waveform…" shows until it is there. Cues, the playhead and
  the detected speech show at once.
- Click seeks, double-click on a cue plays it; dragging a cue's edge changes its start
  or end, dragging its body moves it, snapping to the neighbours' edges and to the
  speech edges unless Shift is held. A drag ends in one ``timesEdited`` signal, which
  the editor pushes as one undoable command; the widget redraws from the transcript's
  change signal, so the table and the timeline always show the same times.
- Ctrl+wheel, + and - zoom; the wheel and dragging the overview strip scroll. The view
  follows the playhead.

Frames are cheap: the static picture (everything but the playhead) is kept in a pixmap
until the view, the transcript, the selection or the current cue changes, and a new
one reads at most two peak buckets per pixel column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shiboken6
from PySide6.QtCore import QEvent, QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.core.audio.peaks import Peaks
from app.core.transcript import Segment
from app.core.transcript.timeline import (
    SNAP_TOLERANCE_PX,
    Part,
    TimelineView,
    drag_times,
    hit_test,
    snap_targets,
)
from app.gui.editor.timeline.loader import PeaksLoader
from app.gui.editor.timeline.render import (
    OVERVIEW_H,
    Colors,
    CueColor,
    Overview,
    Scene,
    cue_arrays,
    paint_playhead,
    paint_timeline,
    wave_gain,
)

if TYPE_CHECKING:
    from app.gui.document import TranscriptDocument

PREPARING = "Preparing waveform…"
INITIAL_SPAN_S = 20.0  # a newly opened file shows this much (or all of a shorter one)
ZOOM_STEP = 1.25  # per wheel notch or key press
WHEEL_SCROLL = 0.1  # of the view's width per wheel notch
DRAG_THRESHOLD_PX = 3
AUTOSCROLL_MAX_PX = 40  # per step (30 ms) while a drag is held past the edge


@dataclass
class _Drag:
    index: int
    part: Part
    press_x: float
    grab_time: float  # the time under the pointer at the press
    revision: int
    targets: list[float]
    original: tuple[float, float]
    moved: bool = False
    times: tuple[float, float] | None = None


class TimelineWidget(QWidget):
    """Waveform, cues and playhead of one document; edits go out as signals."""

    seekRequested = Signal(float)  # seconds
    playRequested = Signal(int)  # row: play this cue
    cueActivated = Signal(int)  # row: a cue was clicked (select it in the table)
    timesEdited = Signal(int, float, float)  # row, start, end: one drag, one edit
    peaksChanged = Signal()  # the waveform became available (or failed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Waveform timeline")
        self.setAccessibleDescription(
            "Click to seek, drag a cue's edges or body to re-time it (Shift: no snapping), "
            "Ctrl+wheel or + and - to zoom, the wheel to scroll"
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(120)
        self._loader = PeaksLoader(self)
        self._loader.ready.connect(self._on_peaks)
        self._loader.failed.connect(self._on_peaks_failed)
        self._doc: TranscriptDocument | None = None
        self._media = ""
        self._peaks: Peaks | None = None
        self._status = ""
        self._revision = -1
        self._segments: tuple[Segment, ...] = ()
        self._starts = np.zeros(0)
        self._ends = np.zeros(0)
        self._speech = np.zeros((0, 2))
        self._player_duration = 0.0
        self._view = TimelineView(duration=0.0, width=max(1, self.width()))
        self._position: float | None = None
        self._playing = False
        self._selected: frozenset[int] = frozenset()
        self._current: int | None = None
        self._drag: _Drag | None = None
        self._scrubbing = False  # dragging in the overview strip
        self._shift = False  # Shift is held (from key events: mouse moves may not say)
        self._last_x = 0.0
        self._autoscroll = QTimer(self)
        self._autoscroll.setInterval(30)
        self._autoscroll.timeout.connect(self._autoscroll_step)
        self._cue_color: CueColor | None = None
        self._cue_flag: CueColor | None = None
        self._static: QPixmap | None = None
        self._colors_cache: tuple[int, Colors] | None = None
        self._overview: Overview | None = None
        self._overview_key: tuple[object, ...] = ()
        self.destroyed.connect(self._loader.cancel)

    def sizeHint(self) -> QSize:
        return QSize(600, 130)

    # -- inputs ---------------------------------------------------------------------------
    @property
    def view(self) -> TimelineView:
        return self._view

    @property
    def peaks(self) -> Peaks | None:
        return self._peaks

    @property
    def status(self) -> str:
        """What the waveform area says: PREPARING, why there is no waveform, or ""."""
        return self._status

    @property
    def loader(self) -> PeaksLoader:
        return self._loader

    def set_document(self, doc: TranscriptDocument | None, media_path: str = "") -> None:
        """Show ``doc``; its waveform comes from ``media_path`` ("" for none)."""
        if self._doc is not None and shiboken6.isValid(self._doc):
            self._doc.changed.disconnect(self._on_doc_changed)
        self._doc = doc
        self._drag = None
        self._selected = frozenset()
        self._current = None
        self._position = None
        self._revision = -1
        if doc is not None:
            doc.changed.connect(self._on_doc_changed)
        self._refresh_cues()
        self._media = media_path
        self._player_duration = 0.0  # the player reports the new media's soon
        self._peaks = None
        self._overview = None
        if media_path:
            peaks = self._loader.load(media_path)
            if peaks is not None:
                self._set_peaks(peaks)
            else:
                self._status = PREPARING
        else:
            self._loader.cancel()
            self._status = "No media for a waveform" if doc is not None else ""
        duration = self.duration()
        self._view = TimelineView(
            duration=duration,
            width=max(1, self.width()),
            seconds_per_px=min(max(duration, 1e-9), INITIAL_SPAN_S) / max(1, self.width()),
        ).clamped()
        self._invalidate()

    def set_duration(self, seconds: float) -> None:
        """The player's idea of the media's length (used until the peaks are known)."""
        self._player_duration = max(0.0, seconds)
        self._update_duration()

    def set_position(self, seconds: float) -> None:
        """Move the playhead; the view follows it (not while a drag is in progress)."""
        self._position = seconds
        current = self._doc.transcript.row_at(seconds) if self._doc is not None else None
        if current != self._current:
            self._current = current
            self._static = None
        if self._drag is None and not self._scrubbing:
            if self._playing:  # page along with playback
                self._set_view(self._view.following(seconds))
            elif not self._view.visible(seconds):  # a seek elsewhere: show it
                self._set_view(self._view.centered_on(seconds))
        self.update()

    def set_playing(self, playing: bool) -> None:
        self._playing = playing

    def set_selected_rows(self, rows: Iterable[int]) -> None:
        """Highlight these cues; the first is scrolled into view if it is out of it."""
        selected = frozenset(rows)
        if selected == self._selected:
            return
        self._selected = selected
        if selected and self._drag is None and not self._playing:
            row = min(selected)
            if 0 <= row < len(self._segments):
                cue = self._segments[row]
                if cue.end < self._view.start or cue.start > self._view.end:
                    self._set_view(self._view.centered_on((cue.start + cue.end) / 2))
        self._invalidate()

    def set_cue_color(self, hook: CueColor | None) -> None:
        """``hook(row, segment)`` -> a colour for the cue's fill (e.g. its speaker), or None."""
        self._cue_color = hook
        self._invalidate()

    def set_cue_flag(self, hook: CueColor | None) -> None:
        """``hook(row, segment)`` -> a colour for a mark over the cue (e.g. too fast), or None."""
        self._cue_flag = hook
        self._invalidate()

    def refresh_marks(self) -> None:
        """Redraw after what the colour hooks return has changed."""
        self._invalidate()

    # -- zoom and scroll ------------------------------------------------------------------------
    def zoom(self, factor: float, anchor_x: float | None = None) -> None:
        self._set_view(self._view.zoomed(factor, anchor_x))

    def zoom_in(self) -> None:
        self.zoom(ZOOM_STEP, self._zoom_anchor())

    def zoom_out(self) -> None:
        self.zoom(1 / ZOOM_STEP, self._zoom_anchor())

    def show_range(self, start: float, end: float) -> None:
        """Zoom and scroll so that [start, end] fills the view (within the clamps)."""
        width = max(1, self._view.width)
        spp = max(end - start, 1e-9) / width
        self._set_view(TimelineView(self._view.duration, width, start, spp).clamped())

    def _zoom_anchor(self) -> float | None:
        if self._position is not None and self._view.visible(self._position):
            return self._view.x_of(self._position)
        return None

    # -- model ----------------------------------------------------------------------------------
    def duration(self) -> float:
        """The media's length as best known: transcript, player, waveform, last cue."""
        meta = self._doc.transcript.meta.duration if self._doc is not None else 0.0
        peaks = self._peaks.duration if self._peaks is not None else 0.0
        last = float(self._ends[-1]) if len(self._ends) else 0.0
        return max(meta, self._player_duration, peaks, last)

    def _edit_duration(self) -> float:
        """The limit a cue's end may be dragged to (what the edit commands check)."""
        meta = self._doc.transcript.meta.duration if self._doc is not None else 0.0
        return meta if meta > 0 else self.duration()

    def _refresh_cues(self) -> None:
        transcript = self._doc.transcript if self._doc is not None else None
        revision = transcript.revision if transcript is not None else -1
        if revision == self._revision and transcript is not None:
            return
        self._revision = revision
        self._segments = transcript.segments if transcript is not None else ()
        self._starts, self._ends = cue_arrays(self._segments)
        speech = transcript.speech if transcript is not None else ()
        self._speech = np.array(speech, dtype=np.float64).reshape(-1, 2)

    def _on_doc_changed(self) -> None:
        self._refresh_cues()
        if self._drag is not None and self._drag.revision != self._revision:
            self._drag = None  # the cue under the mouse may be another one now
        if self._position is not None and self._doc is not None:
            self._current = self._doc.transcript.row_at(self._position)
        self._update_duration()
        self._invalidate()

    def _on_peaks(self, path: str, peaks: Peaks) -> None:
        if path == self._media:
            self._set_peaks(peaks)

    def _on_peaks_failed(self, path: str, message: str) -> None:
        if path == self._media:
            self._status = f"No waveform: {message}"
            self._invalidate()
            self.peaksChanged.emit()

    def set_peaks(self, peaks: Peaks) -> None:
        """Show these peaks (e.g. computed elsewhere); a later ``set_document`` replaces them."""
        self._loader.cancel()
        self._set_peaks(peaks)

    def _set_peaks(self, peaks: Peaks) -> None:
        self._peaks = peaks
        self._status = ""
        self._overview = None
        self._update_duration()
        self._invalidate()
        self.peaksChanged.emit()

    def _update_duration(self) -> None:
        duration = self.duration()
        if duration != self._view.duration:
            self._set_view(self._view.with_duration(duration))

    def _set_view(self, view: TimelineView) -> None:
        if view != self._view:
            self._view = view
            self._invalidate()

    def _invalidate(self) -> None:
        self._static = None
        self.update()

    # -- painting -------------------------------------------------------------------------------
    def scene(self) -> Scene:
        drag = self._drag
        preview = None
        if drag is not None and drag.moved and drag.times is not None:
            preview = (drag.index, *drag.times)
        return Scene(
            view=self._view,
            segments=self._segments,
            starts=self._starts,
            ends=self._ends,
            speech=self._speech,
            peaks=self._peaks,
            status=self._status,
            selected=self._selected,
            current=self._current,
            preview=preview,
            position=self._position,
            cue_color=self._cue_color,
            cue_flag=self._cue_flag,
            overview=self._overview_mask(),
            gain=wave_gain(self._peaks),
        )

    def _overview_mask(self) -> Overview | None:
        if self._peaks is None:
            return None
        key = (id(self._peaks), self.width())
        if self._overview is None or key != self._overview_key:
            self._overview = Overview.of(self._peaks, self.width())
            self._overview_key = key
        return self._overview

    def _colors(self) -> Colors:
        key = self.palette().cacheKey()
        if self._colors_cache is None or self._colors_cache[0] != key:
            self._colors_cache = (key, Colors.from_palette(self.palette()))
        return self._colors_cache[1]

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = self._colors()
        scene = self.scene()
        ratio = self.devicePixelRatioF()
        if self._static is None or self._static.size() != self.size() * ratio:
            pixmap = QPixmap(self.size() * ratio)
            pixmap.setDevicePixelRatio(ratio)
            painter = QPainter(pixmap)
            painter.setFont(self.font())
            paint_timeline(painter, self.width(), self.height(), scene, colors)
            painter.end()
            self._static = pixmap
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._static)
        paint_playhead(painter, self.height(), scene, colors)
        if self.hasFocus():
            painter.setPen(colors.cue_edge)
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._invalidate()  # the theme changed: new colours
        super().changeEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._set_view(self._view.with_width(self.width()))
        self._invalidate()

    # -- mouse and keys ---------------------------------------------------------------------
    def _in_overview(self, y: float) -> bool:
        return y >= self.height() - OVERVIEW_H

    def _scrub_to(self, x: float) -> None:
        whole = max(self._view.duration, 1e-9)
        self._set_view(self._view.centered_on(x / max(1, self.width()) * whole))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        pos = event.position()
        self._shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if self._in_overview(pos.y()):
            self._scrubbing = True
            self._scrub_to(pos.x())
            return
        hit = hit_test(self._segments, self._view, pos.x())
        if hit is None:
            self.seekRequested.emit(max(0.0, self._view.time_at(pos.x())))
            return
        cue = self._segments[hit.index]
        self.cueActivated.emit(hit.index)
        self._drag = _Drag(
            index=hit.index,
            part=hit.part,
            press_x=pos.x(),
            grab_time=self._view.time_at(pos.x()),
            revision=self._revision,
            targets=snap_targets(self._segments, hit.index, map(tuple, self._speech)),
            original=(cue.start, cue.end),
        )
        if hit.part is Part.BODY:
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._scrubbing:
            self._scrub_to(pos.x())
            return
        drag = self._drag
        if drag is None:
            self._hover(pos)
            return
        if not drag.moved and abs(pos.x() - drag.press_x) < DRAG_THRESHOLD_PX:
            return
        drag.moved = True
        self._last_x = pos.x()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._shift = True
        self._drag_to(drag, pos.x())
        outside = pos.x() < 0 or pos.x() > self.width()
        if outside and not self._autoscroll.isActive():
            self._autoscroll.start()

    def _drag_to(self, drag: _Drag, x: float) -> None:
        spp = self._view.seconds_per_px
        snapping = not self._shift
        drag.times = drag_times(
            self._segments,
            drag.index,
            drag.part,
            self._view.time_at(x) - drag.grab_time,
            duration=self._edit_duration(),
            targets=drag.targets if snapping else (),
            snap_tolerance_s=SNAP_TOLERANCE_PX * spp,
        )
        self._invalidate()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        if self._scrubbing:
            self._scrubbing = False
            return
        drag, self._drag = self._drag, None
        self._autoscroll.stop()
        self._hover(event.position())
        if drag is None:
            return
        if not drag.moved:
            self.seekRequested.emit(max(0.0, self._view.time_at(event.position().x())))
            return
        self._invalidate()
        if drag.times is not None and drag.times != drag.original:
            self.timesEdited.emit(drag.index, *drag.times)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._in_overview(event.position().y()):
            return
        hit = hit_test(self._segments, self._view, event.position().x())
        if hit is not None:
            self._drag = None
            self.playRequested.emit(hit.index)

    def _hover(self, pos: QPointF) -> None:
        hit = None if self._in_overview(pos.y()) else hit_test(self._segments, self._view, pos.x())
        if hit is None:
            self.unsetCursor()
        elif hit.part is Part.BODY:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.setCursor(Qt.CursorShape.SizeHorCursor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        notches = (delta.y() or delta.x()) / 120
        if not notches:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(ZOOM_STEP**notches, event.position().x())
        else:
            self._set_view(self._view.scrolled_by(-notches * WHEEL_SCROLL * self._view.width))
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Shift:
            self._set_shift(True)
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_out()
        elif key == Qt.Key.Key_Escape and self._drag is not None:
            self._drag = None
            self._invalidate()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Shift:
            self._set_shift(False)
        super().keyReleaseEvent(event)

    def _set_shift(self, held: bool) -> None:
        """Shift pressed or let go during a drag: snapping goes off or on at once."""
        self._shift = held
        drag = self._drag
        if drag is not None and drag.moved:
            self._drag_to(drag, self._last_x)

    def _autoscroll_step(self) -> None:
        """While a drag is held past either side, scroll that way and carry the cue along."""
        drag, x = self._drag, self._last_x
        overshoot = x if x < 0 else x - self.width() if x > self.width() else 0.0
        if drag is None or not drag.moved or overshoot == 0.0:
            self._autoscroll.stop()
            return
        self._set_view(
            self._view.scrolled_by(max(-AUTOSCROLL_MAX_PX, min(AUTOSCROLL_MAX_PX, overshoot)))
        )
        self._drag_to(drag, x)

    def x_of(self, seconds: float) -> float:
        """Where ``seconds`` is drawn (for tests and tools)."""
        return self._view.x_of(seconds)
