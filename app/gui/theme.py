"""Look and feel: Fusion with a calm light or dark palette, and SVG icons.

The palette follows the system colour scheme (``QStyleHints.colorScheme()``).
Icons are drawn as SVG in ``resources/`` with ``currentColor`` strokes and are
tinted here with the theme's text colour when they are painted, so they fit either
theme at any DPI and follow a switch between them while the app runs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
ICON_DIR = RESOURCES / "icons"
APP_ICON = RESOURCES / "murmur.svg"

ACCENT = "#5B6CF0"
SUCCESS = "#2E9D63"
DANGER = "#D64545"

_LIGHT = {
    "window": "#F5F6F8",
    "base": "#FFFFFF",
    "alt": "#F0F2F5",
    "text": "#1F2328",
    "muted": "#6B7280",
    "button": "#FFFFFF",
    "border": "#D9DDE3",
    "highlight": ACCENT,
    "highlight_text": "#FFFFFF",
    "tooltip": "#FFFFFF",
}
_DARK = {
    "window": "#1E1F24",
    "base": "#26282E",
    "alt": "#2C2E35",
    "text": "#E6E8EB",
    "muted": "#9BA1AB",
    "button": "#2C2E35",
    "border": "#3A3D45",
    "highlight": "#6F7CF5",
    "highlight_text": "#FFFFFF",
    "tooltip": "#2C2E35",
}


def colors(dark: bool | None = None) -> dict[str, str]:
    return dict(_DARK if (is_dark() if dark is None else dark) else _LIGHT)


def make_palette(dark: bool) -> QPalette:
    c = colors(dark)
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: c["window"],
        QPalette.ColorRole.WindowText: c["text"],
        QPalette.ColorRole.Base: c["base"],
        QPalette.ColorRole.AlternateBase: c["alt"],
        QPalette.ColorRole.Text: c["text"],
        QPalette.ColorRole.Button: c["button"],
        QPalette.ColorRole.ButtonText: c["text"],
        QPalette.ColorRole.Highlight: c["highlight"],
        QPalette.ColorRole.HighlightedText: c["highlight_text"],
        QPalette.ColorRole.ToolTipBase: c["tooltip"],
        QPalette.ColorRole.ToolTipText: c["text"],
        QPalette.ColorRole.PlaceholderText: c["muted"],
        QPalette.ColorRole.Link: c["highlight"],
        QPalette.ColorRole.Mid: c["border"],
        QPalette.ColorRole.Midlight: c["alt"],
        QPalette.ColorRole.Light: c["base"],
        QPalette.ColorRole.Dark: c["border"],
    }
    for role, value in roles.items():
        pal.setColor(role, QColor(value))
    muted = QColor(c["muted"])
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        pal.setColor(QPalette.ColorGroup.Disabled, role, muted)
    return pal


def stylesheet(dark: bool) -> str:
    c = colors(dark)
    return f"""
QMainWindow, QDialog {{ background: {c["window"]}; }}
QToolTip {{ color: {c["text"]}; background: {c["tooltip"]}; border: 1px solid {c["border"]};
    padding: 4px 6px; }}
QPushButton {{ padding: 6px 14px; border: 1px solid {c["border"]}; border-radius: 6px;
    background: {c["button"]}; }}
QPushButton:hover {{ border-color: {c["highlight"]}; }}
QPushButton:disabled {{ color: {c["muted"]}; }}
QPushButton#primary {{ background: {c["highlight"]}; color: {c["highlight_text"]};
    border-color: {c["highlight"]}; }}
QToolButton {{ border: none; border-radius: 6px; padding: 4px; }}
QToolButton:hover {{ background: {c["alt"]}; }}
QListView#queue {{ border: 1px solid {c["border"]}; border-radius: 10px;
    background: {c["base"]}; padding: 4px; }}
QFrame#dropZone {{ border: 2px dashed {c["border"]}; border-radius: 12px;
    background: {c["base"]}; }}
QFrame#dropZone[active="true"] {{ border-color: {c["highlight"]}; background: {c["alt"]}; }}
QLabel#muted {{ color: {c["muted"]}; }}
QLabel#heading {{ font-weight: 600; }}
QLabel#error {{ color: {DANGER}; }}
QStatusBar {{ border-top: 1px solid {c["border"]}; }}
QStatusBar QLabel {{ padding: 0 8px; }}
QProgressBar {{ border: none; border-radius: 3px; background: {c["alt"]}; max-height: 6px; }}
QProgressBar::chunk {{ border-radius: 3px; background: {c["highlight"]}; }}
"""


_forced: bool | None = None


def is_dark() -> bool:
    if _forced is not None:
        return _forced
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, dark: bool | None = None) -> None:
    """Fusion + palette + stylesheet for the system colour scheme (or ``dark``, forced)."""
    global _forced
    if dark is not None:
        _forced = dark
    app.setStyle("Fusion")
    dark = is_dark()
    app.setPalette(make_palette(dark))
    app.setStyleSheet(stylesheet(dark))


class _TintedSvgEngine(QIconEngine):
    """Draws an SVG icon tinted with the theme colour in force when it is painted.

    The tint is looked up at paint time, so icons follow a light/dark switch without being
    set again; disabled icons take the muted colour.
    """

    def __init__(self, svg: str, color: str | None) -> None:
        super().__init__()
        self._svg = svg
        self._color = color
        self._pixmaps: dict[tuple[int, int, str], QPixmap] = {}

    def _tint(self, mode: QIcon.Mode) -> str:
        if mode == QIcon.Mode.Disabled:
            return colors()["muted"]
        return self._color or colors()["text"]

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        tint = self._tint(mode)
        key = (size.width(), size.height(), tint)
        pix = self._pixmaps.get(key)
        if pix is None:
            svg = self._svg.replace("currentColor", tint).encode("utf-8")
            pix = _paint_svg(QSvgRenderer(QByteArray(svg)), size)
            self._pixmaps[key] = pix
        return pix

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        pix = QPixmap(self.pixmap(size * scale, mode, state))
        pix.setDevicePixelRatio(scale)
        return pix

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        scale = painter.device().devicePixelRatioF() if painter.device() else 1.0
        painter.drawPixmap(rect, self.pixmap(rect.size() * scale, mode, state))

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        return size

    def clone(self) -> QIconEngine:
        return _TintedSvgEngine(self._svg, self._color)


@cache
def icon(name: str, color: str | None = None) -> QIcon:
    """An SVG icon from resources/icons tinted with ``color`` (default: the theme's text
    colour, looked up whenever the icon is drawn)."""
    svg = (ICON_DIR / f"{name}.svg").read_text(encoding="utf-8")
    return QIcon(_TintedSvgEngine(svg, color))


def app_icon() -> QIcon:
    return _render(QSvgRenderer(str(APP_ICON)), (16, 24, 32, 48, 64, 128, 256))


def _paint_svg(renderer: QSvgRenderer, size: QSize) -> QPixmap:
    pix = QPixmap(size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size.width(), size.height()))
    painter.end()
    return pix


def _render(renderer: QSvgRenderer, sizes: tuple[int, ...]) -> QIcon:
    """An icon with a crisp pixmap at each size (HiDPI-ready)."""
    result = QIcon()
    for size in sizes:
        result.addPixmap(_paint_svg(renderer, QSize(size, size)))
    return result
