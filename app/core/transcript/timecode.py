"""Times as the editor shows them: ``H:MM:SS.mmm``."""

from __future__ import annotations

import math
import re

from app.core.transcript.model import EditError

_TIME_RE = re.compile(r"^\s*(?:(?:(\d+):)?(\d{1,2}):)?(\d+(?:[.,]\d*)?)\s*$")


def format_time(seconds: float) -> str:
    """``3723.5`` -> ``1:02:03.500`` (rounded to the millisecond)."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours}:{minutes:02d}:{secs:02d}.{millis:03d}"


def parse_time(text: str) -> float:
    """Parse ``H:MM:SS.mmm``, ``MM:SS.mmm`` or plain seconds (``,`` works as ``.``).

    Raises :class:`EditError` with a one-line message for anything else.
    """
    match = _TIME_RE.match(text)
    if not match:
        raise EditError(f"Not a time: {text.strip()!r} (use H:MM:SS.mmm)")
    hours, minutes, seconds = match.groups()
    value = float(seconds.replace(",", "."))
    if minutes is not None and value >= 60:
        raise EditError(f"Seconds must be below 60 in {text.strip()!r}")
    if hours is not None and int(minutes) >= 60:
        raise EditError(f"Minutes must be below 60 in {text.strip()!r}")
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + value
    if not math.isfinite(total):
        raise EditError(f"Not a time: {text.strip()!r}")
    return round(total, 6)
