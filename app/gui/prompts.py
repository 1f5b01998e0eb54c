"""Questions the main window asks before it loses work."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

EXPORT, DISCARD, CANCEL = "export", "discard", "cancel"


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
