"""Per-document curriculum keys beside the token shards: ``<shard>.ds.difficulty`` / ``.ds.quality``.

Curation writes ``difficulty_score`` (float in [0, 1]) or ``difficulty_tier`` (int, 0 = easiest)
and ``quality_score`` into each document's metadata. The shard writers (text:
training/tokenize/text_shards.py, instruction data: training/tokenize/instruct.py) take each
document's keys with `document_key` as they write it, so the order is the shard's, and save one
little-endian float32 per document (NaN where a document has no value). The loader reads them to
stream a source's documents in curriculum order (`training/data/shards.py`).
"""

from __future__ import annotations

import math

# sidecar name -> metadata keys tried in order (score first: it orders documents inside a tier)
DOC_KEYS = {
    "difficulty": ("difficulty_score", "difficulty_tier", "difficulty"),
    "quality": ("quality_score", "quality"),
}


def document_key(metadata: dict, keys: tuple[str, ...]) -> float:
    """The first finite number among ``keys`` in ``metadata``, else NaN."""
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return math.nan
