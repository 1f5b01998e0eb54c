"""A stand-in for the Hugging Face hub: no network, the tiny model "downloaded" in pieces.

``install_fake_hub`` replaces ``HfApi.model_info`` and ``huggingface_hub.hf_hub_download``
(what the app's loader calls) so that a download writes the files of a tiny model built by
tests/tiny_model.py into the hub cache, through the loader's own progress bar class.
A test can make it fail at a given file (``fail_at`` / ``failure``), or hold it after a
given number of bytes (``hold_after``) until ``release`` is set, to press Cancel meanwhile.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

CHUNK = 4096


class FakeHub:
    """model_info + hf_hub_download stand-ins that 'download' the tiny model in chunks."""

    def __init__(self, source: Path, cache: Path, repo: str) -> None:
        self.source = source
        self.snapshot = cache / ("models--" + repo.replace("/", "--")) / "snapshots" / ("b" * 40)
        self.files = sorted(p.name for p in source.iterdir() if p.is_file())
        self.calls: list[str] = []
        self.fail_at: str | None = None  # a file name: fetching it raises ``failure``
        self.failure: BaseException = ConnectionError("Name or service not known")
        self.info_failure: BaseException | None = None  # model_info raises it (offline)
        self.hold_after: int | None = None  # bytes after which the download waits
        self.held = threading.Event()  # set when it waits
        self.release = threading.Event()  # set by the test to go on
        self._sent = 0

    @property
    def total(self) -> int:
        return sum((self.source / n).stat().st_size for n in self.files)

    def model_info(self, repo_id: str, files_metadata: bool = False, **kw: Any) -> Any:
        if self.info_failure is not None:
            raise self.info_failure
        siblings = [
            SimpleNamespace(rfilename=n, size=(self.source / n).stat().st_size) for n in self.files
        ]
        siblings.append(SimpleNamespace(rfilename="README.md", size=10))
        return SimpleNamespace(siblings=siblings, sha="b" * 40)

    def download(self, repo_id: str, filename: str, *, tqdm_class: Any = None, **kw: Any) -> str:
        self.calls.append(filename)
        if filename == self.fail_at:
            raise self.failure
        data = (self.source / filename).read_bytes()
        bar = tqdm_class(total=len(data), initial=0, desc=filename, unit="B")
        self.snapshot.mkdir(parents=True, exist_ok=True)
        with open(self.snapshot / filename, "wb") as fh:
            for start in range(0, len(data), CHUNK):
                piece = data[start : start + CHUNK]
                fh.write(piece)
                self._sent += len(piece)
                if self.hold_after is not None and self._sent >= self.hold_after:
                    self.hold_after = None
                    self.held.set()
                    self.release.wait(30)
                bar.update(len(piece))
        bar.close()
        return str(self.snapshot / filename)


def install_fake_hub(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path, hf_home: Path, repo: str
) -> FakeHub:
    """The fake hub for ``repo``, with ``HF_HUB_OFFLINE`` switched off for the test."""
    import huggingface_hub

    fake = FakeHub(tiny_model_dir, hf_home / "hub", repo)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(
        huggingface_hub.HfApi, "model_info", lambda self, *a, **k: fake.model_info(*a, **k)
    )
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.download)
    return fake
