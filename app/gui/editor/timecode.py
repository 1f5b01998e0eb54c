"""Times as the editor shows them (``H:MM:SS.mmm``): the core's, re-exported for the GUI."""

from app.core.transcript.timecode import format_time, parse_time

__all__ = ["format_time", "parse_time"]
