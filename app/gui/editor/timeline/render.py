"""Painting the timeline: a pure function of a :class:`Scene`, so a benchmark can time it.

The waveform is drawn from the peaks pyramid (at most two buckets per pixel column,
never the samples) as one image made with numpy, not one line per column. Cues are
drawn one by one with their number and the start of their text while few are in view;
zoomed far out, where hundreds share the width, they are drawn as merged runs of
covered columns, and only the selected and the current cue are drawn on their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen

from app.core.audio.peaks import Peaks
from app.core.transcript import Segment
from app.core.transcript.timeline import TimelineView

RULER_H = 16
OVERVIEW_H = 18
BAND_H = 5  # the speech band at the bottom of the main area
DETAIL_LIMIT = 300  # more cues than this in view: drawn as merged runs
LABEL_MIN_PX = 28  # a cue narrower than this gets no label
TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
MIN_TICK_PX = 70

CueColor = Callable[[int, Segment], "str | QColor | None"]


@dataclass(frozen=True)
class Colors:
    background: QColor
    ruler: QColor
    text: QColor
    muted: QColor
    wave: QColor
    cue: QColor
    cue_edge: QColor
    selected: QColor
    current: QColor
    speech: QColor
    playhead: QColor
    view_box: QColor
    label_back: QColor

    @classmethod
    def from_palette(cls, palette: QPalette) -> Colors:
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        accent = palette.color(QPalette.ColorRole.Highlight)
        dark = base.lightness() < 128

        def alpha(color: QColor, a: int) -> QColor:
            c = QColor(color)
            c.setAlpha(a)
            return c

        return cls(
            background=base,
            ruler=palette.color(QPalette.ColorRole.Window),
            text=text,
            muted=palette.color(QPalette.ColorRole.PlaceholderText),
            wave=alpha(QColor("#9fb4ff") if dark else QColor("#33415c"), 210),
            cue=alpha(accent, 48),
            cue_edge=alpha(accent, 200),
            selected=alpha(accent, 110),
            current=QColor("#f0b429"),
            speech=alpha(QColor("#2e9d63"), 150),
            playhead=QColor("#e5484d"),
            view_box=alpha(accent, 90),
            label_back=alpha(base, 170),
        )


@dataclass
class Scene:
    """Everything one frame shows."""

    view: TimelineView
    segments: Sequence[Segment] = ()
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ends: np.ndarray = field(default_factory=lambda: np.zeros(0))
    speech: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    peaks: Peaks | None = None
    status: str = ""  # "Preparing waveform…", an error, or ""
    selected: frozenset[int] = frozenset()
    current: int | None = None
    preview: tuple[int, float, float] | None = None  # a cue being dragged
    position: float | None = None
    cue_color: CueColor | None = None
    cue_flag: CueColor | None = None
    overview: QImage | None = None  # the whole file's waveform (see overview_image)
    gain: float = 1.0


def cue_arrays(segments: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.fromiter((s.start for s in segments), np.float64, len(segments))
    ends = np.fromiter((s.end for s in segments), np.float64, len(segments))
    return starts, ends


def wave_gain(peaks: Peaks | None) -> float:
    """Scale so that the loudest sample reaches 95 % of the height (at most 10x)."""
    if peaks is None or peaks.peak <= 0:
        return 1.0
    return min(10.0, 0.95 / peaks.peak)


def _premultiplied(color: QColor) -> int:
    a = color.alpha()
    r, g, b = (round(c * a / 255) for c in (color.red(), color.green(), color.blue()))
    return (a << 24) | (r << 16) | (g << 8) | b


def wave_image(
    mins: np.ndarray, maxs: np.ndarray, height: int, color: QColor, gain: float
) -> tuple[QImage, np.ndarray]:
    """One column per value: filled from max to min. Returns the image and its buffer
    (which must outlive the image's use)."""
    width = len(mins)
    mid = (height - 1) / 2
    with np.errstate(invalid="ignore"):
        top = np.floor(mid - np.clip(maxs * gain, -1, 1) * mid)
        bottom = np.ceil(mid - np.clip(mins * gain, -1, 1) * mid)
    empty = np.isnan(top) | np.isnan(bottom)
    top[empty], bottom[empty] = height, -1
    rows = np.arange(height, dtype=np.float64)[:, None]
    mask = (rows >= top[None, :]) & (rows <= bottom[None, :])
    buffer = np.zeros((height, max(1, width)), dtype=np.uint32)
    buffer[:, :width][mask] = _premultiplied(color)
    image = QImage(
        buffer.data,
        buffer.shape[1],
        height,
        buffer.shape[1] * 4,
        QImage.Format.Format_ARGB32_Premultiplied,
    )
    return image, buffer


def overview_image(peaks: Peaks, width: int, height: int, color: QColor) -> QImage:
    """The whole file's waveform, ``width`` columns (made once per size)."""
    spp = peaks.duration / max(1, width)
    mins, maxs = peaks.columns(0.0, spp, width)
    image, _buffer = wave_image(mins, maxs, height, color, wave_gain(peaks))
    return image.copy()  # owns its pixels


def tick_step(seconds_per_px: float) -> float:
    for step in TICK_STEPS:
        if step / seconds_per_px >= MIN_TICK_PX:
            return step
    return TICK_STEPS[-1] * math.ceil(seconds_per_px * MIN_TICK_PX / TICK_STEPS[-1])


def tick_label(seconds: float, step: float) -> str:
    whole = round(seconds * 10) // 10 if step < 1 else round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    if step < 1:
        text += f".{round(seconds * 10) % 10}"
    return text


def _cue_color(hook: CueColor | None, index: int, segment: Segment) -> QColor | None:
    if hook is None:
        return None
    value = hook(index, segment)
    if value is None:
        return None
    return QColor(value)


def paint_timeline(
    painter: QPainter, width: int, height: int, scene: Scene, colors: Colors
) -> None:
    """Draw everything but the playhead into (0, 0, width, height)."""
    view = scene.view
    main_top = RULER_H
    main_bottom = height - OVERVIEW_H
    main_h = max(1, main_bottom - main_top)
    painter.fillRect(0, 0, width, height, colors.background)
    _paint_ruler(painter, width, view, colors)
    if view.seconds_per_px <= 0:
        return

    # speech band: a faint strip along the bottom of the main area
    if len(scene.speech):
        a = np.searchsorted(scene.speech[:, 1], view.start, side="left")
        b = np.searchsorted(scene.speech[:, 0], view.end, side="right")
        if b > a:
            xs = (scene.speech[a:b] - view.start) / view.seconds_per_px
            x0 = np.clip(np.floor(xs[:, 0]), -1, width + 1).astype(int)
            x1 = np.clip(np.ceil(xs[:, 1]), -1, width + 1).astype(int)
            band_y = main_bottom - BAND_H
            for left, right in _runs(x0, x1, width):
                painter.fillRect(left, band_y, right - left, BAND_H, colors.speech)

    # cues
    first = int(np.searchsorted(scene.ends, view.start, side="left"))
    last = int(np.searchsorted(scene.starts, view.end, side="right"))
    detailed = last - first <= DETAIL_LIMIT
    if not detailed:
        xs0 = np.floor((scene.starts[first:last] - view.start) / view.seconds_per_px)
        xs1 = np.ceil((scene.ends[first:last] - view.start) / view.seconds_per_px)
        x0 = np.clip(xs0, -1, width + 1).astype(int)
        x1 = np.clip(xs1, -1, width + 1).astype(int)
        for left, right in _runs(x0, x1, width):
            painter.fillRect(left, main_top, right - left, main_h - BAND_H, colors.cue)
    font = QFont(painter.font())
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
    painter.setFont(font)
    metrics = QFontMetrics(font)
    wanted = scene.selected | ({scene.current} if scene.current is not None else set())
    singles = range(first, last) if detailed else sorted(i for i in wanted if first <= i < last)
    cues = [(i, float(scene.starts[i]), float(scene.ends[i])) for i in singles]
    if scene.preview is not None and 0 <= scene.preview[0] < len(scene.segments):
        cues = [c for c in cues if c[0] != scene.preview[0]] + [scene.preview]
    for i, start, end in cues:
        _paint_cue_fill(painter, scene, colors, i, start, end, main_top, main_h)

    # waveform, over the fills and under the edges and labels
    if scene.peaks is not None:
        wave_h = main_h - BAND_H
        mins, maxs = scene.peaks.columns(view.start, view.seconds_per_px, width)
        image, buffer = wave_image(mins, maxs, wave_h, colors.wave, scene.gain)
        painter.drawImage(0, main_top, image)
        del image, buffer
    for i, start, end in cues:
        _paint_cue_marks(
            painter, scene, colors, metrics, i, start, end, main_top, main_h, labels=detailed
        )
    if scene.status:
        painter.setPen(colors.muted)
        painter.drawText(
            QRectF(0, main_top, width, main_h), Qt.AlignmentFlag.AlignCenter, scene.status
        )
    _paint_overview(painter, width, main_bottom, scene, colors)


def _runs(x0: np.ndarray, x1: np.ndarray, width: int) -> list[tuple[int, int]]:
    """Merged [left, right) pixel runs covered by any of the spans (x0[i], x1[i])."""
    if not len(x0):
        return []
    span = width + 3
    diff = np.zeros(span + 1, dtype=np.int32)
    np.add.at(diff, np.clip(x0 + 1, 0, span), 1)
    np.add.at(diff, np.clip(np.maximum(x1, x0 + 1) + 1, 0, span), -1)
    covered = np.cumsum(diff[:-1]) > 0
    edges = np.flatnonzero(np.diff(np.concatenate(([False], covered, [False])).astype(np.int8)))
    return [(int(a) - 1, int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _segment(scene: Scene, index: int) -> Segment | None:
    return scene.segments[index] if 0 <= index < len(scene.segments) else None


def _paint_cue_fill(
    painter: QPainter,
    scene: Scene,
    colors: Colors,
    index: int,
    start: float,
    end: float,
    top: int,
    height: int,
) -> None:
    view = scene.view
    x0 = (start - view.start) / view.seconds_per_px
    x1 = (end - view.start) / view.seconds_per_px
    fill = colors.cue
    segment = _segment(scene, index)
    if segment is not None and (custom := _cue_color(scene.cue_color, index, segment)):
        fill = QColor(custom)
        fill.setAlpha(min(fill.alpha(), 90))
    if index in scene.selected or (scene.preview is not None and scene.preview[0] == index):
        fill = colors.selected
    painter.fillRect(QRectF(x0, top, max(1.0, x1 - x0), height - BAND_H), fill)


def _paint_cue_marks(
    painter: QPainter,
    scene: Scene,
    colors: Colors,
    metrics: QFontMetrics,
    index: int,
    start: float,
    end: float,
    top: int,
    height: int,
    *,
    labels: bool,
) -> None:
    """Edges, the current cue's frame, the flag and the label of one cue."""
    view = scene.view
    x0 = (start - view.start) / view.seconds_per_px
    x1 = (end - view.start) / view.seconds_per_px
    bottom = top + height - BAND_H
    current = index == scene.current
    edge = QPen(colors.current if current else colors.cue_edge)
    edge.setWidthF(2.0 if current else 1.0)
    painter.setPen(edge)
    painter.drawLine(QPointF(x0, top), QPointF(x0, bottom))
    painter.drawLine(QPointF(x1, top), QPointF(x1, bottom))
    if current:
        painter.drawLine(QPointF(x0, top + 1), QPointF(x1, top + 1))
    segment = _segment(scene, index)
    if segment is None:
        return
    if flag := _cue_color(scene.cue_flag, index, segment):
        painter.fillRect(QRectF(x0, top, max(2.0, x1 - x0), 4), flag)
    if labels and x1 - x0 >= LABEL_MIN_PX:
        left = max(x0, 0.0) + 3
        room = int(min(x1, view.width) - left - 3)
        if room > 8:
            label = metrics.elidedText(
                f"{index + 1}  {segment.text}", Qt.TextElideMode.ElideRight, room
            )
            box = QRectF(left - 1, top + 5, metrics.horizontalAdvance(label) + 2, metrics.height())
            painter.fillRect(box, colors.label_back)
            painter.setPen(colors.text)
            painter.drawText(QPointF(left, top + 5 + metrics.ascent()), label)


def _paint_ruler(painter: QPainter, width: int, view: TimelineView, colors: Colors) -> None:
    painter.fillRect(0, 0, width, RULER_H, colors.ruler)
    if view.seconds_per_px <= 0:
        return
    step = tick_step(view.seconds_per_px)
    painter.setPen(colors.muted)
    font = QFont(painter.font())
    font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
    painter.setFont(font)
    first = math.floor(view.start / step)
    last = math.ceil(view.end / step)
    for k in range(first, last + 1):
        t = k * step
        x = (t - view.start) / view.seconds_per_px
        painter.drawLine(QPointF(x, RULER_H - 5), QPointF(x, RULER_H))
        painter.drawText(QPointF(x + 3, RULER_H - 5), tick_label(t, step))


def _paint_overview(painter: QPainter, width: int, top: int, scene: Scene, colors: Colors) -> None:
    """The whole file in a strip at the bottom, with the part in view boxed."""
    painter.fillRect(0, top, width, OVERVIEW_H, colors.ruler)
    if scene.overview is not None:
        painter.drawImage(0, top, scene.overview)
    view = scene.view
    whole = max(view.duration, 1e-9)
    x0 = view.start / whole * width
    x1 = max(x0 + 3, view.end / whole * width)
    painter.fillRect(QRectF(x0, top, x1 - x0, OVERVIEW_H), colors.view_box)
    if scene.position is not None:
        painter.setPen(colors.playhead)
        x = scene.position / whole * width
        painter.drawLine(QPointF(x, top), QPointF(x, top + OVERVIEW_H))


def paint_playhead(painter: QPainter, height: int, scene: Scene, colors: Colors) -> None:
    if scene.position is None or scene.view.seconds_per_px <= 0:
        return
    x = scene.view.x_of(scene.position)
    if -2 <= x <= scene.view.width + 2:
        pen = QPen(colors.playhead)
        pen.setWidthF(1.5)
        painter.setPen(pen)
        painter.drawLine(QPointF(x, 0), QPointF(x, height - OVERVIEW_H))
