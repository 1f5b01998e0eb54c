"""Pytest plugin: process-wide state of the app that a test may change and must give back.

Loaded by tests/conftest.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def clean_root_logger() -> Iterator[logging.Logger]:
    """The root logger, with the handlers and level a test adds taken away afterwards
    (the window's log file: app.core.startup.setup_logging)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.captureWarnings(False)
