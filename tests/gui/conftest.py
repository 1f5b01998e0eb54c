"""Fixtures shared by the window tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.settings import Settings
from app.gui.main_window import MainWindow
from tests.gui.driving import shown_window
from tests.listener_speech import LISTENER


@pytest.fixture
def listener_window(
    qtbot: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    """A shown main window that transcribes with the listener model, on the CPU."""
    settings = Settings(model=str(LISTENER), device="cpu", precision="fp32")
    with shown_window(settings, tmp_path, monkeypatch) as win:
        yield win
