"""Subtitle files made elsewhere: reading SRT and WebVTT into transcript segments."""

from app.core.subtitles.reader import (
    MAX_SRT_SPEAKERS,
    SUBTITLE_EXTENSIONS,
    SubtitleError,
    media_beside,
    parse_srt,
    parse_subtitles,
    parse_vtt,
    read_subtitles,
    srt_speakers,
)

__all__ = [
    "MAX_SRT_SPEAKERS",
    "SUBTITLE_EXTENSIONS",
    "SubtitleError",
    "media_beside",
    "parse_srt",
    "parse_subtitles",
    "parse_vtt",
    "read_subtitles",
    "srt_speakers",
]
