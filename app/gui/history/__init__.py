"""The history: every transcript in the library, searchable, autosaved."""

from app.gui.history.autosave import LibraryAutosave
from app.gui.history.panel import HistoryPanel, open_library

__all__ = ["HistoryPanel", "LibraryAutosave", "open_library"]
