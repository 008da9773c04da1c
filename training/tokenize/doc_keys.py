"""Per-document curriculum keys beside the token shards: ``<shard>.ds.difficulty`` / ``.ds.quality``.

Curation writes ``difficulty_score`` (float in [0, 1]) or ``difficulty_tier`` (int, 0 = easiest)
and ``quality_score`` into each document's metadata. `DocumentKeyRecorder` sits between the reader
and datatrove's ``DocumentTokenizer`` in the same pipeline, so it sees exactly the documents the
tokenizer writes, in the same order; it saves one little-endian float32 per document (NaN where a
document has no value) and `attach_doc_keys` renames the file next to the rank's shard. The loader
reads them to stream a source's documents in curriculum order (`training/data/shards.py`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from datatrove.pipeline.base import PipelineStep

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


class DocumentKeyRecorder(PipelineStep):
    """Pass documents through unchanged, recording their curriculum keys for rank ``rank``."""

    name = "curriculum keys"
    type = "🔢 - TOKENIZER"

    def __init__(self, output_folder: str):
        super().__init__()
        self.output_folder = output_folder

    def run(self, data, rank: int = 0, world_size: int = 1):
        values: dict[str, list[float]] = {name: [] for name in DOC_KEYS}
        for doc in data:
            for name, keys in DOC_KEYS.items():
                values[name].append(document_key(doc.metadata, keys))
            yield doc
        folder = Path(self.output_folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, column in values.items():
            if any(not math.isnan(v) for v in column):
                np.asarray(column, dtype="<f4").tofile(folder / f".{rank:05d}.{name}")


def attach_doc_keys(folder: Path) -> list[Path]:
    """Rename each rank's recorded keys to ``<shard>.ds.<name>``; drop any whose count is off."""
    written = []
    for pending in sorted(folder.glob(".*.*")):
        rank, _, name = pending.name[1:].partition(".")
        shards = sorted(folder.glob(f"{rank}_*.ds")) or sorted(folder.glob(f"{rank}*.ds"))
        if name not in DOC_KEYS or len(shards) != 1:
            pending.unlink()
            continue
        num_docs = Path(f"{shards[0]}.index").stat().st_size // 8
        if pending.stat().st_size // 4 != num_docs:
            pending.unlink()  # the tokenizer dropped documents: no safe alignment
            continue
        target = Path(f"{shards[0]}.{name}")
        pending.rename(target)
        written.append(target)
    return written
