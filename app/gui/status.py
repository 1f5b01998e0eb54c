"""The status bar: the model's stage on the left, where it runs on the right.

Nothing in it is cut off silently: labels elide and show their whole text on a click
(:mod:`app.gui.elided_label`), and so do the bar's own messages (:class:`StatusBar`).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QMessageBox,
    QProgressBar,
    QStatusBar,
    QStyle,
    QStyleOption,
    QWidget,
)

from app.core.events import DeviceInfo, DownloadProgress
from app.gui.elided_label import ElidedLabel, show_full_text, single_line

_GPU_NAMES = {"cuda": "CUDA", "mps": "Apple GPU (MPS)"}


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def device_text(info: DeviceInfo, requested: str = "auto") -> str:
    """``DeviceInfo.label()``, plus why no GPU is used when one was expected.

    >>> device_text(DeviceInfo("cpu", "fp32", fallback_reason="no CUDA in this torch"), "cuda")
    'CPU, fp32 — CUDA not available: no CUDA in this torch'
    """
    label = info.label()
    reason = (info.fallback_reason or "").strip()
    if info.device != "cpu" or not reason:
        return label
    wanted = _GPU_NAMES.get(requested)
    lead = f"{wanted} not available" if wanted else "no GPU used"
    if reason.lower().startswith(("cuda", "mps", "apple", "no gpu", "gpu")):
        return f"{label} — {reason}"
    return f"{label} — {lead}: {reason}"


def download_text(progress: DownloadProgress) -> str:
    done = format_bytes(progress.bytes_done)
    if progress.bytes_total:
        pct = (progress.fraction or 0.0) * 100
        return f"Downloading model: {done} of {format_bytes(progress.bytes_total)} ({pct:.0f}%)"
    return f"Downloading model: {done}"


class StatusBar(QStatusBar):
    """A status bar whose messages (``showMessage``) end in "…" when they don't fit;
    a click on one shows it in full. ``currentMessage()`` is the whole message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text_box: QMessageBox | None = None
        self._permanent: list[QWidget] = []
        self.messageChanged.connect(lambda _m: self._update_cursor())

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    def message_rect(self) -> QRect:
        """Where Qt draws the message: from the left edge to the first permanent widget."""
        right = self.width() - 12
        for widget in self._permanent:
            if widget.isVisible():
                right = min(right, widget.geometry().left() - 6)
        return QRect(6, 0, max(0, right - 6), self.height())

    def message_elided(self) -> bool:
        message = self.currentMessage()
        width = self.message_rect().width()
        return bool(message) and (
            "\n" in message or self.fontMetrics().horizontalAdvance(message) > width
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.message_elided():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, self)
        rect = self.message_rect()
        text = self.fontMetrics().elidedText(
            single_line(self.currentMessage()), Qt.TextElideMode.ElideRight, rect.width()
        )
        painter.setPen(self.palette().windowText().color())
        flags = Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(rect, flags | Qt.TextFlag.TextSingleLine, text)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.message_elided():
            self.full_text_box = show_full_text(self, "Message", self.currentMessage())
            return
        super().mousePressEvent(event)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._update_cursor()

    def _update_cursor(self) -> None:
        if self.message_elided():
            self.setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.unsetCursor()


class StatusPanel:
    """Fills a QStatusBar with a model stage label, a small bar and a device label."""

    def __init__(self, bar: QStatusBar, parent: QWidget | None = None) -> None:
        self.bar = bar
        self.stage_label = ElidedLabel("Model: not loaded", title="Model")
        self.stage_label.setAccessibleName("Model status")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(120)
        self.progress.setFixedHeight(6)
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Model download progress")
        self.progress.hide()
        self.device_label = ElidedLabel("Device: not chosen yet", title="Device", keep=240)
        self.device_label.setAccessibleName("Device")
        bar.addWidget(self.stage_label)
        bar.addWidget(self.progress)
        bar.addPermanentWidget(self.device_label)

    def set_stage(self, text: str, busy: bool = False) -> None:
        self.stage_label.setText(text)
        self.stage_label.setToolTip(text)
        self.stage_label.set_details("")
        if busy:
            self.progress.setRange(0, 0)
        self.progress.setVisible(busy)

    def set_download(self, progress: DownloadProgress) -> None:
        self.stage_label.setText(download_text(progress))
        if progress.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(progress.fraction * 1000))
        self.progress.show()

    def set_ready(self, model: str, info: DeviceInfo, requested: str, seconds: float) -> None:
        name = model.rstrip("/\\").replace("\\", "/").split("/")[-1] or model
        self.set_stage(f"Model ready: {name} ({seconds:.1f} s to load)")
        self.set_device(info, requested)

    def set_device(self, info: DeviceInfo, requested: str = "auto") -> None:
        text = device_text(info, requested)
        self.device_label.setText(text)
        tip = text if not info.name else f"{text}\n{info.name}"
        self.device_label.setToolTip(tip)
        self.device_label.setAccessibleDescription(text)

    def set_error(self, message: str, details: str = "") -> None:
        self.set_stage(f"Model not loaded: {message}")
        self.stage_label.setToolTip(details or message)
        self.stage_label.set_details(details)
