"""The queue list: one card per file with state, progress and its own buttons."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QListView,
    QProgressBar,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.audio.media import AudioTrack
from app.gui.elided_label import ElidedLabel
from app.gui.icon_label import IconLabel
from app.gui.queue_model import ItemRole, JobState, QueueItem, QueueModel
from app.gui.settings_dialog import speakers_combo
from app.gui.theme import DANGER, SUCCESS, colors, icon

ROW_HEIGHT = 64

_STATE_ICONS = {
    JobState.WAITING: ("queued", None),
    JobState.QUEUED: ("queued", None),
    JobState.LOADING_MODEL: ("running", None),
    JobState.RUNNING: ("running", None),
    JobState.DONE: ("done", SUCCESS),
    JobState.FAILED: ("failed", DANGER),
    JobState.CANCELLED: ("cancel", None),
}


class QueueItemCard(QWidget):
    """The widget shown on one row of the queue."""

    clicked = Signal()
    cancelClicked = Signal()
    removeClicked = Signal()
    retryClicked = Signal()
    trackChosen = Signal(int)  # 1-based audio track, chosen by the user
    speakersChosen = Signal(str)  # "off", "auto" or a number of speakers

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.state_icon = IconLabel(22)
        self.state_icon.setFixedSize(24, 24)
        self.name_label = ElidedLabel(title="File")
        self.name_label.setObjectName("heading")
        self.status_label = ElidedLabel()  # a long reason: "…", the whole text on a click
        self.status_label.setObjectName("muted")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        self.progress.setAccessibleName("Progress")

        # The audio track picker, shown when the file has several tracks.
        self.track_picker = QComboBox()
        self.track_picker.setAccessibleName("Audio track")
        self.track_picker.setToolTip("Which audio track to transcribe")
        self.track_picker.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.track_picker.setVisible(False)
        self.track_picker.activated.connect(
            lambda row: self.trackChosen.emit(int(self.track_picker.itemData(row)))
        )
        self._tracks_shown: tuple[object, ...] = ()
        self.speakers_picker = speakers_combo("off", compact=True)
        self.speakers_picker.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.speakers_picker.activated.connect(
            lambda row: self.speakersChosen.emit(str(self.speakers_picker.itemData(row)))
        )

        self.cancel_button = self._tool_button("cancel", "Cancel", "Cancel this file")
        self.retry_button = self._tool_button("retry", "Retry", "Transcribe this file again")
        self.remove_button = self._tool_button("remove", "Remove", "Remove from the queue")
        self.cancel_button.clicked.connect(self.cancelClicked)
        self.retry_button.clicked.connect(self.retryClicked)
        self.remove_button.clicked.connect(self.removeClicked)

        text = QVBoxLayout()
        text.setSpacing(2)
        text.setContentsMargins(0, 0, 0, 0)
        text.addWidget(self.name_label)
        text.addWidget(self.status_label)
        text.addWidget(self.progress)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 8, 6)
        row.setSpacing(10)
        row.addWidget(self.state_icon)
        row.addLayout(text, 1)
        row.addWidget(self.track_picker)
        row.addWidget(self.speakers_picker)
        for button in (self.cancel_button, self.retry_button, self.remove_button):
            row.addWidget(button)
        self._state: JobState | None = None

    def _tool_button(self, icon_name: str, name: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon(icon_name))
        button.setIconSize(QSize(18, 18))
        button.setToolTip(tip)
        button.setAccessibleName(name)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        return button

    def update_from(self, item: QueueItem) -> None:
        self.name_label.setText(item.name)
        status = item.status_text()
        self.status_label.title = item.name
        self.status_label.setText(status)
        more = item.details if item.details and item.details != item.error else ""
        self.status_label.set_details(more)
        tip = item.path + "\n" + status
        if more:
            tip += "\n\n" + more[-2000:]
        for notice in item.notices:
            tip += "\n" + notice
        self.setToolTip(tip)
        self.setAccessibleName(f"{item.name}: {status}")
        if item.state is not self._state:
            self._state = item.state
            name, color = _STATE_ICONS[item.state]
            self.state_icon.set_icon(icon(name, color))
        active = item.state.active
        self.progress.setVisible(active)
        if item.state is JobState.RUNNING and item.stage in ("", "transcribing"):
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(item.fraction * 1000))
        elif active:
            self.progress.setRange(0, 0)  # busy
        self.cancel_button.setVisible(item.state in (JobState.WAITING, JobState.QUEUED) or active)
        retry = item.state in (JobState.FAILED, JobState.CANCELLED)
        self.retry_button.setVisible(retry or item.rerun_offered)
        self._update_track_picker(item)
        picker = self.speakers_picker
        picker.setEnabled(not item.state.active)
        row = picker.findData(item.speakers or "off")
        if row != picker.currentIndex():
            picker.blockSignals(True)
            picker.setCurrentIndex(row)
            picker.blockSignals(False)

    def _update_track_picker(self, item: QueueItem) -> None:
        picker = self.track_picker
        if item.tracks != self._tracks_shown:
            self._tracks_shown = item.tracks
            picker.blockSignals(True)
            picker.clear()
            for track in item.tracks:
                picker.addItem(track_label(track), track.index)
                picker.setItemData(
                    picker.count() - 1, track.describe(), Qt.ItemDataRole.ToolTipRole
                )
            picker.blockSignals(False)
        picker.setVisible(len(item.tracks) > 1)
        picker.setEnabled(not item.state.active)
        row = picker.findData(item.chosen_track)
        if row >= 0 and row != picker.currentIndex():
            picker.blockSignals(True)
            picker.setCurrentIndex(row)
            picker.blockSignals(False)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit()
        event.accept()


def track_label(track: AudioTrack) -> str:
    """Short text for the picker: "2 · eng · Commentary"."""
    parts = [str(track.index), track.language, track.title or track.layout]
    return " · ".join(p for p in parts if p)


class _CardDelegate(QStyledItemDelegate):
    """Paints the row background (selection, hover); the card draws the rest."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(200, ROW_HEIGHT)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        state = option.state  # type: ignore[attr-defined]
        rect = QRectF(option.rect).adjusted(2, 2, -2, -2)  # type: ignore[attr-defined]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        if state & QStyle.StateFlag.State_Selected:
            color = QColor(colors()["highlight"])
            color.setAlpha(40)
            painter.setBrush(color)
            painter.drawRoundedRect(rect, 8, 8)
        elif state & QStyle.StateFlag.State_MouseOver:
            painter.setBrush(QColor(colors()["alt"]))
            painter.drawRoundedRect(rect, 8, 8)
        painter.restore()


class QueueView(QListView):
    """Shows a :class:`QueueModel`; each row has Cancel, Retry and Remove buttons."""

    cancelRequested = Signal(int)  # item id
    removeRequested = Signal(int)
    retryRequested = Signal(int)
    trackChosen = Signal(int, int)  # item id, 1-based audio track
    speakersChosen = Signal(int, str)  # item id, "off" / "auto" / a number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queue")
        self.setAccessibleName("Queue")
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setUniformItemSizes(True)
        self.setItemDelegate(_CardDelegate(self))
        self._cards: dict[int, QueueItemCard] = {}

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        if isinstance(model, QueueModel):
            model.rowsInserted.connect(self._rows_inserted)
            model.rowsAboutToBeRemoved.connect(self._rows_removed)
            model.dataChanged.connect(self._data_changed)
            self._rows_inserted(QModelIndex(), 0, model.rowCount() - 1)

    def queue_model(self) -> QueueModel:
        model = self.model()
        assert isinstance(model, QueueModel)
        return model

    def card(self, item_id: int) -> QueueItemCard | None:
        return self._cards.get(item_id)

    def current_item(self) -> QueueItem | None:
        index = self.currentIndex()
        if not index.isValid():
            return None
        item = index.data(ItemRole)
        return item if isinstance(item, QueueItem) else None

    def select_item(self, item_id: int) -> None:
        row = self.queue_model().row_of(item_id)
        if row >= 0:
            self.setCurrentIndex(self.queue_model().index(row))

    # -- model changes ------------------------------------------------------------
    def _rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        model = self.queue_model()
        for row in range(first, last + 1):
            item = model.item(row)
            card = QueueItemCard()
            item_id = item.id
            card.clicked.connect(lambda i=item_id: self.select_item(i))
            card.cancelClicked.connect(lambda i=item_id: self.cancelRequested.emit(i))
            card.removeClicked.connect(lambda i=item_id: self.removeRequested.emit(i))
            card.retryClicked.connect(lambda i=item_id: self.retryRequested.emit(i))
            card.trackChosen.connect(lambda t, i=item_id: self.trackChosen.emit(i, t))
            card.speakersChosen.connect(lambda s, i=item_id: self.speakersChosen.emit(i, s))
            card.update_from(item)
            self._cards[item_id] = card
            self.setIndexWidget(model.index(row), card)

    def _rows_removed(self, parent: QModelIndex, first: int, last: int) -> None:
        model = self.queue_model()
        for row in range(first, last + 1):
            self._cards.pop(model.item(row).id, None)

    def _data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: object = None) -> None:
        model = self.queue_model()
        for row in range(top.row(), bottom.row() + 1):
            item = model.item(row)
            card = self._cards.get(item.id)
            if card is not None:
                card.update_from(item)
