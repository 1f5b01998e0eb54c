"""Recent dictations, newest first: see them and copy one again (a paste that went to
the wrong window is never lost)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.store.dictations import RecentDictations


class RecentDictationsDialog(QDialog):
    def __init__(self, recent: RecentDictations, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recent dictations")
        self.setAccessibleName("Recent dictations")
        self.resize(520, 420)
        self.recent = recent
        self.list = QListWidget()
        self.list.setAccessibleName("Recent dictations list")
        self.list.setWordWrap(True)
        self.list.itemDoubleClicked.connect(lambda _item: self.copy_selected())
        self.empty = QLabel("Nothing dictated yet.")
        self.empty.setObjectName("muted")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setAccessibleName("Copy dictation")
        self.copy_button.clicked.connect(self.copy_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for entry in self.recent.items:
            item = QListWidgetItem(f"{entry.text}\n{entry.created.replace('T', ' ')}")
            item.setData(Qt.ItemDataRole.UserRole, entry.text)
            self.list.addItem(item)
        self.empty.setVisible(not self.recent.items)
        if self.recent.items:
            self.list.setCurrentRow(0)
        self.copy_button.setEnabled(bool(self.recent.items))

    def copy_selected(self) -> str | None:
        item = self.list.currentItem()
        if item is None:
            return None
        text = str(item.data(Qt.ItemDataRole.UserRole))
        QGuiApplication.clipboard().setText(text)
        return text
