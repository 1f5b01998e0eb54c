"""Exceptions with one-line messages that are fit to show to a user."""

from __future__ import annotations


class MurmurError(Exception):
    """Base class. ``str(exc)`` is a single line meant for the user."""


class MediaError(MurmurError):
    """The input can't be read as audio: empty, corrupt, not media, no audio stream."""


class ModelError(MurmurError):
    """The model can't be found, downloaded or loaded."""


class ModelNotDownloaded(ModelError):
    """A hub model that is not in the local cache yet (the first start)."""


class ExportError(MurmurError):
    """An export could not be written (permissions, disk full, bad folder)."""


class SettingsError(MurmurError):
    """A settings value is invalid."""


class Cancelled(MurmurError):
    """The user cancelled the operation."""

    def __init__(self, message: str = "Cancelled") -> None:
        super().__init__(message)
