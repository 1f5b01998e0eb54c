"""Pytest plugin: tiny GLM-ASR checkpoints built offline, and an engine loaded from one.

Loaded by tests/conftest.py. The checkpoints are built once per session (about a second
each) with tests/tiny_model.py and are loaded only through the app's own loader.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.tiny_model import build_tiny_model


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own Hugging Face home (its hub cache is ``hf_home / "hub"``)."""
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random GLM-ASR folder (real 30 s windows, 128 mel bins, varied output)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_glmasr"))


@pytest.fixture(scope="session")
def tiny_pad_placeholder_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like ``tiny_model_dir`` but the tokenizer's pad token is the audio placeholder."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_glmasr_padph"), pad_is_placeholder=True)


@pytest.fixture(scope="session")
def tiny_looping_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GLM-ASR whose greedy output falls into repetition loops."""
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny_glmasr_loop"), text_init_range=0.2, eos_scale=1.0
    )


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir: Path) -> Iterator[object]:
    """An Engine loaded from ``tiny_model_dir`` on the CPU in fp32 (batch size 4)."""
    from app.core.asr.engine import Engine, EngineOptions

    engine = Engine(
        EngineOptions(model=str(tiny_model_dir), device="cpu", dtype="fp32", batch_size=4)
    )
    engine.load()
    yield engine
    engine.unload()


def decoded_by_each(engines: Sequence[Any], clips: Sequence[Any]) -> list[list[Any]]:
    """Each loaded engine's ``decode_batch`` of the same clips; every engine is unloaded
    afterwards, whatever happens."""
    try:
        return [engine.decode_batch(list(clips)) for engine in engines]
    finally:
        for engine in engines:
            engine.unload()
