"""Subtitle files made elsewhere: reading SRT and WebVTT into transcript segments."""

from app.core.subtitles.reader import (
    SUBTITLE_EXTENSIONS,
    SubtitleError,
    media_beside,
    parse_srt,
    parse_subtitles,
    parse_vtt,
    read_subtitles,
)

__all__ = [
    "SUBTITLE_EXTENSIONS",
    "SubtitleError",
    "media_beside",
    "parse_srt",
    "parse_subtitles",
    "parse_vtt",
    "read_subtitles",
]
