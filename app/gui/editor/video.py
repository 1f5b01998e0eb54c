"""Video preview with the current cue drawn over it as a subtitle."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSizeF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsTextItem,
    QGraphicsView,
    QWidget,
)

from app.gui.editor.player import multimedia_widgets

_MARGIN = 8.0


class VideoPreview(QGraphicsView):
    """A QGraphicsVideoItem filling the view, with a subtitle box at the bottom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Video preview")
        self.setAccessibleDescription("The video with the current subtitle drawn over it")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QBrush(Qt.GlobalColor.black))
        self.setMinimumHeight(120)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._video: Any = multimedia_widgets().QGraphicsVideoItem()
        self._scene.addItem(self._video)
        self._box = QGraphicsRectItem()
        self._box.setBrush(QBrush(QColor(0, 0, 0, 170)))
        self._box.setPen(Qt.PenStyle.NoPen)
        self._box.setZValue(1)
        self._scene.addItem(self._box)
        self._text = QGraphicsTextItem()
        self._text.setDefaultTextColor(QColor("white"))
        font = QFont()
        font.setPointSizeF(max(font.pointSizeF(), 10.0) * 1.3)
        self._text.setFont(font)
        self._text.setZValue(2)
        option = self._text.document().defaultTextOption()
        option.setAlignment(Qt.AlignmentFlag.AlignHCenter)  # centre each line
        self._text.document().setDefaultTextOption(option)
        self._scene.addItem(self._text)
        self.set_cue("")

    @property
    def video_item(self) -> Any:
        """The QGraphicsVideoItem to give to the media player."""
        return self._video

    def cue(self) -> str:
        return self._text.toPlainText()

    def set_cue(self, text: str) -> None:
        if text != self._text.toPlainText():
            self._text.setPlainText(text)
        visible = bool(text.strip())
        self._text.setVisible(visible)
        self._box.setVisible(visible)
        self.setAccessibleDescription(f"Subtitle: {text}" if visible else "Video preview")
        self._layout()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._layout()

    def _layout(self) -> None:
        width, height = float(self.viewport().width()), float(self.viewport().height())
        self._scene.setSceneRect(QRectF(0, 0, width, height))
        self._video.setPos(0, 0)
        self._video.setSize(QSizeF(width, height))
        self._text.setTextWidth(-1)  # natural width, then wrap if wider than the view
        natural = self._text.boundingRect().width()
        self._text.setTextWidth(max(10.0, min(natural, width - 4 * _MARGIN)))
        block = self._text.boundingRect()
        x = (width - block.width()) / 2
        y = height - block.height() - _MARGIN
        self._text.setPos(x, y)
        self._box.setRect(QRectF(x - _MARGIN / 2, y, block.width() + _MARGIN, block.height()))
