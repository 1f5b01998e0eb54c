"""Recent dictations: kept in memory and in a JSON file in the data folder, so a
paste that went to the wrong window can be found again and copied."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from app.core.atomic import write_text_atomic
from app.core.settings import data_dir

log = logging.getLogger(__name__)

MAX_RECENT = 50


@dataclass(frozen=True)
class Dictation:
    text: str
    created: str  # ISO 8601, local time
    target: str = ""  # how it was delivered: paste, type, copy, window


def dictations_file() -> Path:
    return data_dir() / "recent_dictations.json"


class RecentDictations:
    """The newest first; at most ``limit``; saved after every addition."""

    def __init__(self, path: Path | None = None, limit: int = MAX_RECENT) -> None:
        self.path = path or dictations_file()
        self.limit = limit
        self.items: list[Dictation] = self._load()

    def _load(self) -> list[Dictation]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("could not read %s (%s); starting an empty list", self.path, exc)
            return []
        items = []
        for entry in data if isinstance(data, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                items.append(
                    Dictation(
                        text=entry["text"],
                        created=str(entry.get("created", "")),
                        target=str(entry.get("target", "")),
                    )
                )
        return items[: self.limit]

    def add(self, text: str, target: str = "") -> Dictation:
        item = Dictation(
            text=text, created=datetime.now().isoformat(timespec="seconds"), target=target
        )
        self.items.insert(0, item)
        del self.items[self.limit :]
        self.save()
        return item

    def clear(self) -> None:
        self.items.clear()
        self.save()

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps([asdict(i) for i in self.items], indent=1, ensure_ascii=False)
            write_text_atomic(self.path, text + "\n")
        except OSError as exc:  # the list in memory still works
            log.warning("could not save recent dictations to %s: %s", self.path, exc)
