"""``NGramDecontFilter``: drop (or flag) documents sharing an n-gram with an eval item.

Reads the index written by ``DecontIndexer``. Every hit is logged to ``hits_dir/<rank>.jsonl``
as ``{doc_id, source, eval_set, item_id, num_ngrams}`` for the decontamination report. In
``flag`` mode the document is kept with ``metadata["contaminated"] = ["gsm8k:12", ...]``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter

from curation.decont.lookup import in_index, lookup_table
from curation.decont.ngrams import ngram_hashes
from curation.stats.batched import BatchedStats

_MAX_TABLE_BITS = 24  # a 16 MB table; larger indexes share slots (more lookups, same answers)


class NGramDecontFilter(BatchedStats, BaseFilter):
    name = "🧹 N-gram decont"

    def __init__(self, index_dir: str, hits_dir: str, n: int = 13, mode: str = "drop"):
        super().__init__()
        assert mode in ("drop", "flag")
        self.index_dir = index_dir
        self.hits_dir = hits_dir
        self.n = n
        self.mode = mode
        self._hashes = self._items = self._meta = None
        self._table = self._slot = None
        self._hits = None

    def _load(self) -> None:
        index = np.load(Path(self.index_dir) / "index.npz")
        self._hashes, self._items = index["hashes"], index["items"]
        self._meta = json.loads((Path(self.index_dir) / "items.json").read_text())
        self._table, self._slot = lookup_table(self._hashes, _MAX_TABLE_BITS)

    def matches(self, text: str) -> dict[int, int]:
        """eval item row -> number of shared n-grams."""
        if self._hashes is None:
            self._load()
        if len(self._hashes) == 0:
            return {}
        doc = ngram_hashes(text, self.n)
        hit = in_index(doc, self._table, self._slot, self._hashes)
        if not hit.any():  # most documents: no shared n-gram, no sort needed
            return {}
        # every (shared hash, eval item) pair once, then the pairs per item, vectorised: documents
        # that do contain an eval item share ~100 n-grams with it
        found = np.unique(doc[hit])
        lo = np.searchsorted(self._hashes, found, "left")
        counts = np.searchsorted(self._hashes, found, "right") - lo
        which = np.repeat(np.arange(found.size, dtype=np.int64), counts)
        at = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        rows = self._items[at].astype(np.int64)
        num_rows = int(rows.max()) + 1  # a (hash, item) pair as one integer
        pairs = np.unique(which * num_rows + rows)
        items, shared = np.unique(pairs % num_rows, return_counts=True)
        return dict(zip(items.tolist(), shared.tolist(), strict=True))

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        hits = self.matches(doc.text)
        if not hits:
            return True
        source = doc.metadata.get("source")
        labels = []
        for row, count in sorted(hits.items()):
            meta = self._meta[row]
            labels.append(f"{meta['eval_set']}:{meta['item_id']}")
            self._hits.write(
                json.dumps(
                    {"doc_id": doc.id, "source": source, **meta, "num_ngrams": count, "action": self.mode}
                )
                + "\n"
            )
        self.stat_update(f"contaminated/{source}")
        if self.mode == "flag":
            doc.metadata["contaminated"] = labels
            self.stat_update("flagged")
            return True
        self.stat_update(f"dropped/{source}")
        return False, "contaminated"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        os.makedirs(self.hits_dir, exist_ok=True)
        with open(Path(self.hits_dir) / f"{rank:05d}.jsonl", "w") as self._hits:
            yield from super().run(data, rank, world_size)
