"""PySide6 must not leak references to None (issue #16).

PySide6 6.12.0 dropped one reference to ``None`` on every call of a method that returns
nothing. On Python 3.11 ``None`` is an ordinary object: its count reaches zero during a
long session and the interpreter aborts with "Fatal Python error: none_dealloc". These
tests call void Qt methods many thousands of times and check that ``None`` keeps its
references; they fail on the leaking binding (−1 per call), whatever the platform.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QLabel, QTableView, QTableWidget, QTableWidgetItem

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(
        sys.version_info >= (3, 12),
        reason="None is immortal from Python 3.12 (PEP 683): its refcount is fixed",
    ),
]

CALLS = 5000
# A few references may come and go (caches, interned results); a leak is one per call.
TOLERANCE = 50


def none_refs_after(calls: int, step: Callable[[int], Any]) -> int:
    """How much None's reference count changed over ``calls`` calls of ``step``.

    Stops early once the leak is plain, so that the leaking binding fails the test
    instead of taking None's count to zero and aborting the whole run.
    """
    step(0)  # warm any lazy binding caches first
    before = sys.getrefcount(None)
    for i in range(calls):
        step(i)
        if sys.getrefcount(None) < before - TOLERANCE:
            break
    return sys.getrefcount(None) - before


class _Rows(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows = 0

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.rows

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 3

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and index.isValid():
            return f"{index.row()}:{index.column()}"
        return None

    def append(self) -> None:
        self.beginInsertRows(QModelIndex(), self.rows, self.rows)
        self.rows += 1
        self.endInsertRows()
        top = self.index(self.rows - 1, 0)
        self.dataChanged.emit(top, top)


def test_table_widget_void_calls_keep_none_alive(qtbot: Any) -> None:
    table = QTableWidget(0, 3)
    qtbot.addWidget(table)

    def step(i: int) -> None:
        table.setRowCount(i % 50 + 1)
        table.setItem(i % 50, i % 3, QTableWidgetItem("x"))
        table.scrollToBottom()

    delta = none_refs_after(CALLS, step)
    assert delta > -TOLERANCE, f"None lost {-delta} references in void calls"


def test_item_model_inserts_keep_none_alive(qtbot: Any) -> None:
    model = _Rows()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)

    def step(_i: int) -> None:
        model.append()
        view.scrollToBottom()

    delta = none_refs_after(CALLS, step)
    assert delta > -TOLERANCE, f"None lost {-delta} references in row inserts"
    assert model.rowCount() == CALLS + 1


def test_label_set_text_keeps_none_alive(qtbot: Any) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    delta = none_refs_after(CALLS, lambda i: label.setText(str(i)))
    assert delta > -TOLERANCE, f"None lost {-delta} references in setText calls"
    assert label.text() == str(CALLS - 1)
