"""Questions the main window asks before it loses work."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

EXPORT, DISCARD, CANCEL = "export", "discard", "cancel"
REPLACE, KEEP_BOTH = "replace", "keep both"


def _some(names: list[str]) -> str:
    return ", ".join(names[:5]) + ("…" if len(names) > 5 else "")


def _ask(
    parent: QWidget,
    kind: QMessageBox.Icon,
    title: str,
    text: str,
    question: str,
    accept: tuple[str, str],
    destructive: tuple[str, str],
) -> str:
    """A box with an accepting button (the default), a destructive one and Cancel;
    returns the chosen button's value, or CANCEL."""
    box = QMessageBox(parent)
    box.setIcon(kind)
    box.setWindowTitle(title)
    box.setText(text)
    box.setInformativeText(question)
    first = box.addButton(accept[0], QMessageBox.ButtonRole.AcceptRole)
    second = box.addButton(destructive[0], QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(first)
    box.exec()
    clicked = box.clickedButton()
    return accept[1] if clicked is first else destructive[1] if clicked is second else CANCEL


def ask_unexported(parent: QWidget, names: list[str]) -> str:
    """Unexported edits: returns EXPORT, DISCARD or CANCEL."""
    return _ask(
        parent,
        QMessageBox.Icon.Warning,
        "Unexported edits",
        f"Edits to {_some(names)} have not been exported.",
        "Export them in your default formats before going on?",
        ("Export", EXPORT),
        ("Discard edits", DISCARD),
    )


def confirm_stop_work(parent: QWidget, running: int) -> bool:
    """Work is running or queued: True when the user wants to stop it and quit."""
    answer = QMessageBox.question(
        parent,
        "Transcription in progress",
        f"{running} file{'s are' if running != 1 else ' is'} still being transcribed "
        "or waiting. Stop and quit?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def ask_replace(parent: QWidget, existing: list[Path]) -> str:
    """Exports would land on existing files: returns REPLACE, KEEP_BOTH or CANCEL."""
    count = f"{len(existing)} file{'s' if len(existing) != 1 else ''}"
    verb = "exists" if len(existing) == 1 else "exist"
    return _ask(
        parent,
        QMessageBox.Icon.Question,
        "Files exist already",
        f"{count} {verb} already: {_some([p.name for p in existing])}",
        "Replace them, or keep both (the new exports get a number, like “talk (2).srt”)?",
        ("Keep both", KEEP_BOTH),
        ("Replace", REPLACE),
    )
