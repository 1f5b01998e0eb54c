"""Icons follow a light/dark switch while the app runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QRegion
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.gui import theme
from app.gui.drop_zone import DropZone
from app.gui.theme import apply_theme, icon


@pytest.fixture
def app_theme(qapp: QApplication) -> Iterator[QApplication]:
    """Restore the application's look after a test that switches themes."""
    style, palette, sheet = qapp.style().name(), qapp.palette(), qapp.styleSheet()
    yield qapp
    theme._forced = None
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)


def ink(image: QImage) -> QColor:
    """The most common opaque colour of ``image`` (an icon's stroke colour)."""
    counts: Counter[int] = Counter()
    for y in range(image.height()):
        for x in range(image.width()):
            pixel = image.pixelColor(x, y)
            if pixel.alpha() == 255:
                counts[pixel.rgb()] += 1
    assert counts, "nothing drawn"
    return QColor.fromRgb(counts.most_common(1)[0][0])


def drawn(widget: QWidget) -> QImage:
    """What ``widget`` paints itself, on a transparent image (no background)."""
    image = QImage(widget.size(), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    widget.render(image, QPoint(), QRegion(), QWidget.RenderFlag(0))
    return image


def test_icons_take_the_theme_colour_when_drawn(app_theme: QApplication) -> None:
    add = icon("add")  # one QIcon object, made once, across both themes
    apply_theme(app_theme, dark=False)
    assert ink(add.pixmap(32, 32).toImage()) == QColor(theme.colors(False)["text"])
    assert ink(add.pixmap(32, 32, QIcon.Mode.Disabled).toImage()) == QColor(
        theme.colors(False)["muted"]
    )
    apply_theme(app_theme, dark=True)
    assert ink(add.pixmap(32, 32).toImage()) == QColor(theme.colors(True)["text"])
    assert ink(icon("done", theme.SUCCESS).pixmap(32, 32).toImage()) == QColor(theme.SUCCESS)


def test_drop_zone_icon_follows_a_theme_switch(app_theme: QApplication, qtbot: QtBot) -> None:
    apply_theme(app_theme, dark=False)
    zone = DropZone()
    qtbot.addWidget(zone)
    zone.resize(400, 240)
    zone.show()
    qtbot.waitExposed(zone)
    light = ink(drawn(zone.icon_label))
    apply_theme(app_theme, dark=True)
    dark = ink(drawn(zone.icon_label))
    assert light == QColor(theme.colors(False)["text"])
    assert dark == QColor(theme.colors(True)["text"])
