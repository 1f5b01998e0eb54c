"""A colour for each speaker, the same in every view (editor table, timeline), Qt-free.

A speaker's colour follows its place in the order of first appearance, not its
name, so a rename keeps the colour. The first ten are Tableau 10 (told apart
well, also with common colour-vision deficiencies, and of a middle lightness
that stands out on a light and on a dark background); more speakers get hues
spread by the golden angle at the same lightness.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable

PALETTE = (
    "#4E79A7",  # blue
    "#F28E2B",  # orange
    "#E15759",  # red
    "#76B7B2",  # teal
    "#59A14F",  # green
    "#EDC948",  # yellow
    "#B07AA1",  # purple
    "#FF9DA7",  # pink
    "#9C755F",  # brown
    "#BAB0AC",  # grey
)
_GOLDEN_ANGLE = 0.381966


def speaker_colour(index: int) -> str:
    """``#RRGGBB`` for the speaker at ``index`` (0-based, order of first appearance)."""
    if index < 0:
        raise ValueError("speaker index must be 0 or more")
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (0.6 + (index - len(PALETTE)) * _GOLDEN_ANGLE) % 1.0
    r, g, b = colorsys.hls_to_rgb(hue, 0.58, 0.55)
    return f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"


def speaker_colours(speakers: Iterable[str]) -> dict[str, str]:
    """Each speaker's colour, for speakers given in order of first appearance
    (``app.core.transcript.edits.speakers_of``)."""
    return {name: speaker_colour(i) for i, name in enumerate(dict.fromkeys(speakers))}
