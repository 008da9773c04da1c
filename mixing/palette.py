"""One colour per domain, the same in plan.png as in every evaluation and recipe plot.

``evaluation/palette.py`` holds the same mapping (packages do not import each other); a test checks
they agree. Unknown domains get a colour from ``EXTRA`` chosen by a stable hash of the name, so a
domain has one colour in every plot of every run. Reference sets (``reference:<name>``) are drawn
in the colour of ``REFERENCE``.
"""

from __future__ import annotations

import zlib

DOMAIN_COLORS: dict[str, str] = {
    "general": "#4C72B0",  # blue
    "math": "#DD8452",  # orange
    "code": "#55A868",  # green
    "reasoning": "#8172B3",  # purple
    "long_context": "#937860",  # brown
    "instruction": "#DA8BC3",  # pink
    "science": "#64B5CD",  # light blue
    "multilingual": "#CCB974",  # khaki
}
REFERENCE = "#2F2F2F"  # near-black: the model's original distribution
EXTRA = ["#8C8C8C", "#C44E52", "#1B9E77", "#7570B3", "#E6AB02", "#A6761D", "#66A61E", "#E7298A"]


def domain_color(domain: str) -> str:
    """The colour of ``domain`` (``reference:*`` sets share the reference colour)."""
    if domain.startswith("reference:"):
        return REFERENCE
    if domain in DOMAIN_COLORS:
        return DOMAIN_COLORS[domain]
    return EXTRA[zlib.crc32(domain.encode()) % len(EXTRA)]
