"""The find and replace bar of the transcript editor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QWidget,
)

from app.core.transcript import EditError
from app.core.transcript.edits import ReplaceAll, SetText, find_matches

if TYPE_CHECKING:
    from app.gui.document import TranscriptDocument

Match = tuple[int, int, int]  # row, start char, end char


class FindReplaceBar(QWidget):
    """Find (next/previous) and replace (one/all) over a document's segments."""

    matchActivated = Signal(int, int, int)  # row, start, end of the match to show
    currentChanged = Signal(object)  # the current Match, or None: what to highlight
    message = Signal(str)  # one line for the editor's status label
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Find and replace")
        self._doc: TranscriptDocument | None = None
        self._current: Match | None = None  # change it through _set_current

        self.find_edit = QLineEdit(placeholderText="Find")
        self.find_edit.setAccessibleName("Find text")
        self.find_edit.setClearButtonEnabled(True)
        for button in self.find_edit.findChildren(QToolButton):
            button.setAccessibleName("Clear find text")
        self.replace_edit = QLineEdit(placeholderText="Replace with")
        self.replace_edit.setAccessibleName("Replacement text")
        self.match_case = QCheckBox("Match &case")
        self.match_case.setAccessibleName("Match case")
        self.whole_word = QCheckBox("&Whole word")
        self.whole_word.setAccessibleName("Whole word")
        self.previous_button = QPushButton("&Previous")
        self.previous_button.setAccessibleName("Find previous")
        self.next_button = QPushButton("&Next")
        self.next_button.setAccessibleName("Find next")
        self.replace_button = QPushButton("&Replace")
        self.replace_button.setAccessibleName("Replace this match")
        self.replace_all_button = QPushButton("Replace &all")
        self.replace_all_button.setAccessibleName("Replace all matches")
        self.close_button = QPushButton("Close")
        self.close_button.setAccessibleName("Close find bar")
        self.count_label = QLabel("")
        self.count_label.setAccessibleName("Matches")
        self.count_label.setMinimumWidth(90)

        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(self.find_edit, 0, 0)
        find_buttons = QHBoxLayout()
        for widget in (
            self.previous_button,
            self.next_button,
            self.match_case,
            self.whole_word,
            self.count_label,
        ):
            find_buttons.addWidget(widget)
        find_buttons.addStretch(1)
        find_buttons.addWidget(self.close_button)
        grid.addLayout(find_buttons, 0, 1)
        grid.addWidget(self.replace_edit, 1, 0)
        replace_buttons = QHBoxLayout()
        replace_buttons.addWidget(self.replace_button)
        replace_buttons.addWidget(self.replace_all_button)
        replace_buttons.addStretch(1)
        grid.addLayout(replace_buttons, 1, 1)
        grid.setColumnStretch(0, 1)

        self.find_edit.textChanged.connect(self._restart)
        self.match_case.toggled.connect(self._restart)
        self.whole_word.toggled.connect(self._restart)
        self.find_edit.returnPressed.connect(self.find_next)
        self.find_edit.installEventFilter(self)  # Shift+Enter: previous match
        self.replace_edit.returnPressed.connect(self.replace_current)
        self.next_button.clicked.connect(self.find_next)
        self.previous_button.clicked.connect(self.find_previous)
        self.replace_button.clicked.connect(self.replace_current)
        self.replace_all_button.clicked.connect(self.replace_all)
        self.close_button.clicked.connect(self.close_bar)
        self.set_replace_visible(False)

    # -- setup -------------------------------------------------------------------
    def set_document(self, doc: TranscriptDocument | None) -> None:
        if self._doc is not None:
            self._doc.changed.disconnect(self._refresh_count)
        self._doc = doc
        self._set_current(None)
        self.count_label.clear()
        if doc is not None:
            doc.changed.connect(self._refresh_count)
            self._refresh_count()

    def set_replace_visible(self, visible: bool) -> None:
        for widget in (self.replace_edit, self.replace_button, self.replace_all_button):
            widget.setVisible(visible)

    def open_bar(self, replace: bool, initial: str = "") -> None:
        self.set_replace_visible(replace)
        self.show()
        self._refresh_count()  # edits while hidden were not counted
        if initial:
            self.find_edit.setText(initial)
        target = self.replace_edit if replace and self.find_edit.text() else self.find_edit
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)
        target.selectAll()

    def close_bar(self) -> None:
        self.hide()
        self._set_current(None)
        self.closed.emit()

    def _set_current(self, match: Match | None) -> None:
        if match != self._current:
            self._current = match
            self.currentChanged.emit(match)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.find_edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.find_previous()
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close_bar()
            return
        super().keyPressEvent(event)

    # -- searching ---------------------------------------------------------------------
    @property
    def current_match(self) -> Match | None:
        return self._current

    def matches(self) -> list[Match]:
        if self._doc is None or not self.find_edit.text():
            return []
        return find_matches(
            self._doc.transcript,
            self.find_edit.text(),
            self.match_case.isChecked(),
            self.whole_word.isChecked(),
        )

    def _refresh_count(self) -> None:
        """After an edit: keep the current match if it is still there, recount.

        Only while the bar is shown: a count costs a pass over every segment, which a
        hidden bar must not add to each edit of a long transcript (issue #16).
        """
        if self.isHidden():
            return
        if not self.find_edit.text():
            self.count_label.clear()
            return
        matches = self.matches()
        if self._current not in matches:
            self._set_current(None)
        self.count_label.setText(self._count_text(matches, self._current))

    def _restart(self) -> None:
        self._set_current(None)
        self.count_label.setText(self._count_text(self.matches(), None))

    @staticmethod
    def _count_text(matches: list[Match], current: Match | None) -> str:
        if not matches:
            return "No matches"
        if current in matches:
            return f"{matches.index(current) + 1} of {len(matches)}"
        return f"{len(matches)} matches" if len(matches) != 1 else "1 match"

    def find_next(self) -> Match | None:
        return self._step(forward=True)

    def find_previous(self) -> Match | None:
        return self._step(forward=False)

    def _step(
        self, forward: bool, after: tuple[int, int] | None = None, inclusive: bool = False
    ) -> Match | None:
        """Go to the next/previous match from ``after`` (default: the current match)."""
        if not self.find_edit.text():
            self.message.emit("Enter the text to find")
            return None
        matches = self.matches()
        if not matches:
            self._set_current(None)
            self.count_label.setText("No matches")
            self.message.emit(f"No matches for {self.find_edit.text()!r}")
            return None
        anchor = after
        if anchor is None and self._current is not None:
            anchor = (self._current[0], self._current[1])
        if forward:
            later = [
                m
                for m in matches
                if anchor is None or (m[0], m[1]) > anchor or (inclusive and (m[0], m[1]) == anchor)
            ]
            chosen = later[0] if later else matches[0]  # wrap around
        else:
            earlier = [m for m in matches if anchor is not None and (m[0], m[1]) < anchor]
            chosen = earlier[-1] if earlier else matches[-1]
        self._set_current(chosen)
        self.count_label.setText(self._count_text(matches, chosen))
        self.matchActivated.emit(*chosen)
        return chosen

    # -- replacing ---------------------------------------------------------------------------
    def replace_current(self) -> None:
        doc = self._doc
        if doc is None:
            return
        current = self._current
        if current is None or current not in self.matches():
            self.find_next()  # show the first match; the next click replaces it
            return
        row, start, end = current
        text = doc.transcript[row].text
        replacement = self.replace_edit.text()
        try:
            doc.push(SetText(row, text[:start] + replacement + text[end:]))
        except EditError as exc:
            self.message.emit(str(exc))
            return
        self._set_current(None)
        self._step(forward=True, after=(row, start + len(replacement)), inclusive=True)

    def replace_all(self) -> int:
        doc = self._doc
        find = self.find_edit.text()
        if doc is None or not find:
            self.message.emit("Enter the text to find")
            return 0
        count = len(self.matches())
        if count == 0:
            self.message.emit(f"No matches for {find!r}")
            return 0
        try:
            doc.push(
                ReplaceAll(
                    find,
                    self.replace_edit.text(),
                    self.match_case.isChecked(),
                    self.whole_word.isChecked(),
                    label=f"Replace {count} × {find!r}",
                )
            )
        except EditError as exc:
            self.message.emit(str(exc))
            return 0
        self._restart()
        self.message.emit(f"Replaced {count} {'match' if count == 1 else 'matches'}")
        return count
