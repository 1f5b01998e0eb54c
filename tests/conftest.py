"""Shared pytest configuration. Fixtures live in the tests/fixtures_*.py plugins."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = [
    "tests.fixtures_audio",
    "tests.fixtures_model",
    "tests.fixtures_mic",
    "tests.fixtures_app",
]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own settings, data, log and instance-channel folders;
    nothing touches the user's (or another test's running window)."""
    monkeypatch.setenv("MURMUR_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("MURMUR_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("MURMUR_RUNTIME_DIR", str(tmp_path_factory.mktemp("run")))
    monkeypatch.setenv("MURMUR_LOG_DIR", str(tmp_path_factory.mktemp("log")))
