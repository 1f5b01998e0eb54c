"""Painting the timeline: a pure function of a :class:`Scene`, so a benchmark can time it.

The waveform comes from the peaks pyramid (at most two buckets per pixel column, never
the samples). The main area (cue fills, waveform, cue edges and flags, speech band) and
the overview strip are composed with numpy into opaque pixels and drawn as one image
each: Qt's software rasteriser spends tens of microseconds on every translucent fill or
line, so a frame of a few hundred of them would not fit in 16 ms, while one opaque
image is a copy. Only text (cue labels, the ruler) and the playhead are drawn by Qt.

Cues get their number and the start of their text where they are wide enough. Zoomed
far out, where more than ``DETAIL_LIMIT`` are in view, they are filled as merged runs
of covered columns without edges; the selected and the current cue are still marked.
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
FLAG_H = 4  # a flag colour's bar along the top of a cue
DETAIL_LIMIT = 300  # more cues than this in view: merged runs, no edges or labels
LABEL_MIN_PX = 28  # a cue narrower than this gets no label
TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
MIN_TICK_PX = 70
WAVE_ALPHA = 0.8  # the cue fills under the waveform show through a little

CueColor = Callable[[int, Segment], "str | QColor | None"]


def _over(color: QColor, base: QColor) -> QColor:
    """``color`` laid over the opaque ``base``, as one opaque colour."""
    a = color.alphaF()
    return QColor(
        round(color.red() * a + base.red() * (1 - a)),
        round(color.green() * a + base.green() * (1 - a)),
        round(color.blue() * a + base.blue() * (1 - a)),
    )


def _alpha(color: QColor, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c


@dataclass(frozen=True)
class Colors:
    """Opaque colours (translucent ones laid over the background already)."""

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
        window = palette.color(QPalette.ColorRole.Window)
        text = palette.color(QPalette.ColorRole.Text)
        accent = palette.color(QPalette.ColorRole.Highlight)
        dark = base.lightness() < 128
        return cls(
            background=_over(base, base),
            ruler=_over(window, window),
            text=text,
            muted=palette.color(QPalette.ColorRole.PlaceholderText),
            wave=QColor("#9fb4ff") if dark else QColor("#33415c"),
            cue=_over(_alpha(accent, 48), base),
            cue_edge=_over(_alpha(accent, 200), base),
            selected=_over(_alpha(accent, 110), base),
            current=QColor("#f0b429"),
            speech=_over(_alpha(QColor("#2e9d63"), 150), base),
            playhead=QColor("#e5484d"),
            view_box=_over(_alpha(accent, 90), window),
            label_back=_over(_alpha(base, 200), _over(_alpha(accent, 48), base)),
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
    overview: Overview | None = None
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


def _rgb(color: QColor) -> int:
    return 0xFF000000 | (color.red() << 16) | (color.green() << 8) | color.blue()


def wave_mask(mins: np.ndarray, maxs: np.ndarray, height: int, gain: float) -> np.ndarray:
    """(height, columns) booleans: True from each column's max down to its min."""
    mid = (height - 1) / 2
    with np.errstate(invalid="ignore"):
        top = np.floor(mid - np.clip(maxs * gain, -1, 1) * mid)
        bottom = np.ceil(mid - np.clip(mins * gain, -1, 1) * mid)
    empty = np.isnan(top) | np.isnan(bottom)
    top[empty], bottom[empty] = height, -1
    rows = np.arange(height, dtype=np.int16)[:, None]
    upper, lower = top.astype(np.int16)[None, :], bottom.astype(np.int16)[None, :]
    return (rows >= upper) & (rows <= lower)


def _blend(fg: int, bg: np.ndarray, alpha: float) -> np.ndarray:
    """Opaque ``fg`` at ``alpha`` over each opaque colour in ``bg`` (uint32 RGB32)."""
    out = np.full(bg.shape, 0xFF000000, dtype=np.uint32)
    for shift in (16, 8, 0):
        b = (bg >> shift) & 0xFF
        f = (fg >> shift) & 0xFF
        out |= (np.round(f * alpha + b * (1 - alpha)).astype(np.uint32) & 0xFF) << shift
    return out


def _image(pixels: np.ndarray) -> QImage:
    """A QImage over ``pixels`` (uint32 RGB32, C-contiguous); keep ``pixels`` alive."""
    height, width = pixels.shape
    return QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGB32)


@dataclass
class Overview:
    """The whole file's waveform as a mask, made once per width."""

    mask: np.ndarray  # (OVERVIEW_H, width) booleans

    @classmethod
    def of(cls, peaks: Peaks, width: int) -> Overview:
        spp = peaks.duration / max(1, width)
        mins, maxs = peaks.columns(0.0, spp, width)
        return cls(wave_mask(mins, maxs, OVERVIEW_H, wave_gain(peaks)))


def tick_step(seconds_per_px: float) -> float:
    for step in TICK_STEPS:
        if step / seconds_per_px >= MIN_TICK_PX:
            return step
    return TICK_STEPS[-1] * math.ceil(seconds_per_px * MIN_TICK_PX / TICK_STEPS[-1])


def tick_label(seconds: float, step: float) -> str:
    tenths = round(seconds * 10)
    whole = tenths // 10 if step < 1 else round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    if step < 1:
        text += f".{tenths % 10}"
    return text


def _hook_color(hook: CueColor | None, index: int, segment: Segment) -> QColor | None:
    if hook is None:
        return None
    value = hook(index, segment)
    return None if value is None else QColor(value)


def _columns(view: TimelineView, starts: np.ndarray, ends: np.ndarray, width: int):  # type: ignore[no-untyped-def]
    """Pixel columns [x0, x1) of time spans, clipped to [0, width]."""
    x0 = np.floor((starts - view.start) / view.seconds_per_px)
    x1 = np.maximum(np.ceil((ends - view.start) / view.seconds_per_px), x0 + 1)
    return np.clip(x0, 0, width).astype(np.intp), np.clip(x1, 0, width).astype(np.intp)


def _fill_runs(row: np.ndarray, x0: np.ndarray, x1: np.ndarray, value: int) -> None:
    """Set ``row[x0[i]:x1[i]] = value`` for all i, without a Python loop."""
    if not len(x0):
        return
    diff = np.zeros(len(row) + 1, dtype=np.int32)
    np.add.at(diff, x0, 1)
    np.add.at(diff, x1, -1)
    row[np.cumsum(diff[:-1]) > 0] = value


@dataclass(frozen=True)
class _Cue:
    index: int
    x0: int  # first column
    x1: int  # after the last column


def paint_timeline(
    painter: QPainter, width: int, height: int, scene: Scene, colors: Colors
) -> None:
    """Draw everything but the playhead into (0, 0, width, height)."""
    view = scene.view
    main_h = max(BAND_H + 2, height - RULER_H - OVERVIEW_H)
    wave_h = main_h - BAND_H
    _paint_ruler(painter, width, view, colors)
    if view.seconds_per_px <= 0 or width <= 0:
        painter.fillRect(0, RULER_H, width, height - RULER_H, colors.background)
        return

    # -- each column's fill: background, cues, selected cues --
    column = np.full(width, _rgb(colors.background), dtype=np.uint32)
    first = int(np.searchsorted(scene.ends, view.start, side="left"))
    last = int(np.searchsorted(scene.starts, view.end, side="right"))
    detailed = last - first <= DETAIL_LIMIT
    x0, x1 = _columns(view, scene.starts[first:last], scene.ends[first:last], width)
    _fill_runs(column, x0, x1, _rgb(colors.cue))
    preview = (
        scene.preview if scene.preview and 0 <= scene.preview[0] < len(scene.segments) else None
    )
    marked = set(scene.selected)
    if scene.current is not None:
        marked.add(scene.current)
    cues = {i: _Cue(i, int(x0[i - first]), int(x1[i - first])) for i in marked if first <= i < last}
    if detailed and scene.cue_color is not None:  # e.g. speakers' colours
        for i in range(first, last):
            segment = scene.segments[i]
            if (custom := _hook_color(scene.cue_color, i, segment)) is not None:
                faint = _over(_alpha(custom, min(custom.alpha(), 90)), colors.background)
                column[x0[i - first] : x1[i - first]] = _rgb(faint)
    if preview is not None:
        index, start, end = preview
        if first <= index < last:  # where it was: plain background again
            column[x0[index - first] : x1[index - first]] = _rgb(colors.background)
        a, b = _columns(view, np.array([start]), np.array([end]), width)
        cues[index] = _Cue(index, int(a[0]), int(b[0]))
        marked.add(index)
    selected = _rgb(colors.selected)
    for cue in cues.values():
        if cue.index in scene.selected or (preview is not None and preview[0] == cue.index):
            column[cue.x0 : cue.x1] = selected

    # -- the main area's pixels --
    pixels = np.empty((main_h, width), dtype=np.uint32)
    if scene.peaks is not None:
        mins, maxs = scene.peaks.columns(view.start, view.seconds_per_px, width)
        mask = wave_mask(mins, maxs, wave_h, scene.gain)
        on_fill = _blend(_rgb(colors.wave), column, WAVE_ALPHA)
        np.copyto(pixels[:wave_h], np.where(mask, on_fill[None, :], column[None, :]))
    else:
        pixels[:wave_h] = column[None, :]
    band = np.full(width, _rgb(colors.background), dtype=np.uint32)
    if len(scene.speech):
        a = int(np.searchsorted(scene.speech[:, 1], view.start, side="left"))
        b = int(np.searchsorted(scene.speech[:, 0], view.end, side="right"))
        s0, s1 = _columns(view, scene.speech[a:b, 0], scene.speech[a:b, 1], width)
        _fill_runs(band, s0, s1, _rgb(colors.speech))
    pixels[wave_h:] = band[None, :]
    if detailed:  # every cue's edges, in one go
        edges = np.concatenate((x0, x1 - 1))
        edges = edges[(edges >= 0) & (edges < width)]
        if preview is not None and first <= preview[0] < last:
            keep = (edges != x0[preview[0] - first]) & (edges != x1[preview[0] - first] - 1)
            edges = edges[keep]
        pixels[:wave_h, edges] = _rgb(colors.cue_edge)
    for cue in cues.values():  # the selected, current and dragged cues' edges on top
        current = cue.index == scene.current
        edge = _rgb(colors.current if current else colors.cue_edge)
        thick = 2 if current else 1
        for x in (cue.x0, cue.x1 - 1):
            if 0 <= x < width:
                pixels[:wave_h, max(0, x - thick + 1) : x + 1] = edge
        if current:
            pixels[0:2, cue.x0 : cue.x1] = edge
    if scene.cue_flag is not None:  # e.g. too fast to read: a bar along the top
        _paint_flags(pixels, scene, colors, first, last, x0, x1)
    painter.drawImage(0, RULER_H, _image(pixels))

    # -- text --
    if detailed:
        labelled = [_Cue(i, int(x0[i - first]), int(x1[i - first])) for i in range(first, last)]
        if preview is not None and preview[0] in cues:
            labelled = [c for c in labelled if c.index != preview[0]] + [cues[preview[0]]]
        _paint_labels(painter, scene, colors, labelled, width)
    if scene.status:
        painter.setPen(colors.muted)
        painter.drawText(
            QRectF(0, RULER_H, width, main_h), Qt.AlignmentFlag.AlignCenter, scene.status
        )
    _paint_overview(painter, width, RULER_H + main_h, scene, colors)
    del pixels


def _paint_flags(
    pixels: np.ndarray,
    scene: Scene,
    colors: Colors,
    first: int,
    last: int,
    x0: np.ndarray,
    x1: np.ndarray,
) -> None:
    """The flag hook's colour over each flagged cue in view, one pass per colour."""
    runs: dict[int, tuple[list[int], list[int]]] = {}
    for i in range(first, last):
        flag = _hook_color(scene.cue_flag, i, scene.segments[i])
        if flag is not None:
            lefts, rights = runs.setdefault(_rgb(_over(flag, colors.background)), ([], []))
            lefts.append(int(x0[i - first]))
            rights.append(max(int(x1[i - first]), int(x0[i - first]) + 2))
    for color, (lefts, rights) in runs.items():
        row = np.zeros(pixels.shape[1], dtype=np.uint32)
        _fill_runs(row, np.minimum(lefts, pixels.shape[1]), np.minimum(rights, pixels.shape[1]), 1)
        pixels[0:FLAG_H, row == 1] = color


def _segment(scene: Scene, index: int) -> Segment | None:
    return scene.segments[index] if 0 <= index < len(scene.segments) else None


def _paint_labels(
    painter: QPainter, scene: Scene, colors: Colors, cues: list[_Cue], width: int
) -> None:
    font = QFont(painter.font())
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
    painter.setFont(font)
    metrics = QFontMetrics(font)
    painter.setPen(colors.text)
    top = RULER_H + FLAG_H + 1
    for cue in cues:
        if cue.x1 - cue.x0 < LABEL_MIN_PX:
            continue
        segment = _segment(scene, cue.index)
        room = min(cue.x1, width) - cue.x0 - 6
        if segment is None or room <= 8:
            continue
        label = metrics.elidedText(
            f"{cue.index + 1}  {segment.text}", Qt.TextElideMode.ElideRight, room
        )
        left = cue.x0 + 3
        painter.fillRect(
            QRectF(left - 1, top, metrics.horizontalAdvance(label) + 2, metrics.height()),
            colors.label_back,
        )
        painter.drawText(QPointF(left, top + metrics.ascent()), label)


def _paint_ruler(painter: QPainter, width: int, view: TimelineView, colors: Colors) -> None:
    painter.fillRect(0, 0, width, RULER_H, colors.ruler)
    if view.seconds_per_px <= 0:
        return
    step = tick_step(view.seconds_per_px)
    painter.setPen(colors.muted)
    font = QFont(painter.font())
    font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
    painter.setFont(font)
    for k in range(math.floor(view.start / step), math.ceil(view.end / step) + 1):
        t = k * step
        x = round((t - view.start) / view.seconds_per_px)
        painter.drawLine(x, RULER_H - 5, x, RULER_H)
        painter.drawText(QPointF(x + 3, RULER_H - 5), tick_label(t, step))


def _paint_overview(painter: QPainter, width: int, top: int, scene: Scene, colors: Colors) -> None:
    """The whole file in a strip at the bottom, with the part in view boxed."""
    view = scene.view
    whole = max(view.duration, 1e-9)
    column = np.full(width, _rgb(colors.ruler), dtype=np.uint32)
    x0 = int(view.start / whole * width)
    x1 = max(x0 + 3, math.ceil(view.end / whole * width))
    column[max(0, x0) : min(width, x1)] = _rgb(colors.view_box)
    if scene.position is not None:
        x = int(scene.position / whole * width)
        if 0 <= x < width:
            column[x] = _rgb(colors.playhead)
    overview = scene.overview
    if overview is not None and overview.mask.shape == (OVERVIEW_H, width):
        on = _blend(_rgb(colors.wave), column, WAVE_ALPHA)
        pixels = np.where(overview.mask, on[None, :], column[None, :]).astype(np.uint32)
    else:
        pixels = np.ascontiguousarray(np.broadcast_to(column, (OVERVIEW_H, width)))
    painter.drawImage(0, top, _image(pixels))
    del pixels


def paint_playhead(painter: QPainter, height: int, scene: Scene, colors: Colors) -> None:
    if scene.position is None or scene.view.seconds_per_px <= 0:
        return
    x = round(scene.view.x_of(scene.position))
    if -2 <= x <= scene.view.width + 2:
        pen = QPen(colors.playhead)
        pen.setWidth(2)
        painter.setPen(pen)
        painter.drawLine(x, 0, x, height - OVERVIEW_H)
