"""Tests never touch the user's settings, library, logs or instance channel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DIRS = ("MURMUR_CONFIG_DIR", "MURMUR_DATA_DIR", "MURMUR_RUNTIME_DIR", "MURMUR_LOG_DIR")


@pytest.fixture(scope="module")
def seen_by_a_module_fixture() -> dict[str, str]:
    """What a module-scoped fixture (set up before each test's own folders) sees, e.g.
    the CLI runs that tests/test_cli_signals.py starts once for its module."""
    return {name: os.environ.get(name, "") for name in DIRS}


def test_module_fixtures_and_tests_get_temporary_folders(
    seen_by_a_module_fixture: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.getbasetemp().resolve()
    for name in DIRS:
        for value in (seen_by_a_module_fixture[name], os.environ[name]):
            assert value and Path(value).resolve().is_relative_to(base), (name, value)
    # and each test has folders of its own
    assert os.environ["MURMUR_DATA_DIR"] != seen_by_a_module_fixture["MURMUR_DATA_DIR"]
