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

_DIRS = ("MURMUR_CONFIG_DIR", "MURMUR_DATA_DIR", "MURMUR_RUNTIME_DIR", "MURMUR_LOG_DIR")


@pytest.fixture(scope="session", autouse=True)
def _isolated_session(tmp_path_factory: pytest.TempPathFactory):
    """The same for module- and session-scoped fixtures, which are set up before each
    test's own folders (e.g. CLI runs started once for a module): never the user's."""
    saved = {name: os.environ.get(name) for name in _DIRS}
    for name in _DIRS:
        os.environ[name] = str(tmp_path_factory.mktemp(f"session-{name.lower()}"))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own settings, data, log and instance-channel folders;
    nothing touches the user's (or another test's running window)."""
    monkeypatch.setenv("MURMUR_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("MURMUR_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("MURMUR_RUNTIME_DIR", str(tmp_path_factory.mktemp("run")))
    monkeypatch.setenv("MURMUR_LOG_DIR", str(tmp_path_factory.mktemp("log")))
