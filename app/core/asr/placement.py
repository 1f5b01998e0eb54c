"""Whether a model's attention places the words of packed windows, learned as it runs.

Packing (``ChunkOptions.pack``) lays the speech between long pauses end to end in one
window and cuts the window's text among its pieces where the model listened while it
wrote each token (:mod:`app.core.asr.gaze`). A model whose attention does not say where
its words were makes every packed window fall back to decoding its pieces one by one:
the packed pass is then wasted, and packing is slower than cutting at pauses
(``benchmarks/rtf.py --pack on --unsure decode`` before this module: RTF 2.455 against
1.725; with it, 1.916 for the first file against 1.786, and later files are cut at pauses).

So each packed window's outcome is counted per model. Once :data:`MIN_WINDOWS` windows
were seen and more than half of them fell back, the verdict is "does not place": the
pipeline decodes the pieces of packed windows still planned directly (the same text as
the fallback, without the packed pass) and plans later files by cutting at pauses. The
counts are kept in ``placement.json`` under the data folder, keyed by the model's folder
(a hub snapshot's folder names its revision), so the next run starts with the verdict.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# Packed windows seen before a verdict. The trained listener placed all of 395 windows;
# the real architecture with random weights none of 47 (benchmarks/README.md).
MIN_WINDOWS = 4
_FILE = "placement.json"


@dataclass
class Placement:
    """Counts of packed windows whose words the model's attention placed, or not."""

    placed: int = 0
    unplaced: int = 0
    key: str | None = None  # the model's folder; None: not remembered on disk
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def verdict(self) -> bool | None:
        """True: the attention places the words; False: it does not; None: too few seen."""
        seen = self.placed + self.unplaced
        if seen < MIN_WINDOWS:
            return None
        return self.unplaced * 2 <= seen

    def record(self, placed: bool) -> None:
        with self._lock:
            if placed:
                self.placed += 1
            else:
                self.unplaced += 1

    # -- remembered between runs -------------------------------------------------
    @classmethod
    def remembered(cls, model_folder: Path | None) -> Placement:
        """The counts saved for ``model_folder`` (none saved, or unreadable: zero)."""
        if model_folder is None:
            return cls()
        key = str(Path(model_folder).resolve())
        entry = _read().get(key)
        if not isinstance(entry, dict):
            return cls(key=key)
        counts = [entry.get("placed"), entry.get("unplaced")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            return cls(key=key)
        return cls(placed=counts[0], unplaced=counts[1], key=key)

    def save(self) -> None:
        """Write the counts (atomically); a failure is logged, never raised."""
        if self.key is None:
            return
        from app.core.atomic import atomic_write_text

        with self._lock:
            entry = {"placed": self.placed, "unplaced": self.unplaced}
        path = _path()
        try:
            data = _read()
            data[self.key] = entry
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
        except OSError as exc:
            log.warning("could not save %s: %s", path, exc)


def _path() -> Path:
    from app.core.settings import data_dir

    return data_dir() / _FILE


def _read() -> dict[str, object]:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("could not read %s (%s); starting afresh", _path(), exc)
        return {}
    return data if isinstance(data, dict) else {}
