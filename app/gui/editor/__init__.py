"""The transcript editor: segment table, find/replace, playback, video preview."""

from app.gui.editor.editor import TranscriptEditor

__all__ = ["TranscriptEditor"]
