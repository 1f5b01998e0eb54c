"""The editor's waveform timeline: peaks loaded in the background, cues dragged on it."""

from app.gui.editor.timeline.loader import PeaksLoader
from app.gui.editor.timeline.widget import TimelineWidget

__all__ = ["PeaksLoader", "TimelineWidget"]
