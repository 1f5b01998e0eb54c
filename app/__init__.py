"""Murmur: local speech-to-text and subtitles with GLM-ASR."""

__version__ = "0.1.0"
APP_NAME = "Murmur"
