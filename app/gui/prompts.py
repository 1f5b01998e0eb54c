"""Questions the main window asks before it loses work."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

EXPORT, DISCARD, CANCEL = "export", "discard", "cancel"
REPLACE, KEEP_BOTH = "replace", "keep both"


def ask_unexported(parent: QWidget, names: list[str]) -> str:
    """Unexported edits: returns EXPORT, DISCARD or CANCEL."""
    shown = ", ".join(names[:5]) + ("…" if len(names) > 5 else "")
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unexported edits")
    box.setText(f"Edits to {shown} have not been exported.")
    box.setInformativeText("Export them in your default formats before going on?")
    export = box.addButton("Export", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard edits", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(export)
    box.exec()
    clicked = box.clickedButton()
    return EXPORT if clicked is export else DISCARD if clicked is discard else CANCEL


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
    shown = ", ".join(p.name for p in existing[:5]) + ("…" if len(existing) > 5 else "")
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Files exist already")
    count = f"{len(existing)} file{'s' if len(existing) != 1 else ''}"
    box.setText(f"{count} exist{'s' if len(existing) == 1 else ''} already: {shown}")
    box.setInformativeText(
        "Replace them, or keep both (the new exports get a number, like “talk (2).srt”)?"
    )
    keep = box.addButton("Keep both", QMessageBox.ButtonRole.AcceptRole)
    replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    clicked = box.clickedButton()
    return REPLACE if clicked is replace else KEEP_BOTH if clicked is keep else CANCEL
