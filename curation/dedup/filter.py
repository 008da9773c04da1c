"""``DedupFilter``: drop cluster members that are not their cluster's keeper.

Reads ``clusters/<rank>.npz`` written by ``PriorityCluster``; documents must arrive in the order
``DedupSignature`` saw them (the filter stage's shard for this rank). It also drops the documents
``PriorityCluster`` cut by a scoped ``top_percentile`` (reason ``below_top_percentile``) and, with
``dedup.against``, the duplicates of the previous corpus (reason ``dedup_against``). Survivors get
``dedup_cluster_size``; documents picked for the held-out slice get ``metadata['heldout']``
(consumed by ``HeldoutSplit``). Members of the first ``max_examples`` clusters are logged to
``examples_dir/<rank>.jsonl`` for the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter

from curation.stats.batched import BatchedStats

KIND_NAMES = {0: "none", 1: "exact", 2: "near", 3: "low_quality", 4: "against"}
# the funnel reason of each dropped kind; "against": a duplicate of the corpus of `dedup.against`
REASONS = {
    "exact": "exact_duplicate",
    "near": "near_duplicate",
    "low_quality": "below_top_percentile",
    "against": "dedup_against",
}


class DedupFilter(BatchedStats, BaseFilter):
    name = "🫂 Dedup filter"

    def __init__(self, clusters_dir: str, examples_dir: str, max_examples: int = 50):
        super().__init__()
        self.clusters_dir = clusters_dir
        self.examples_dir = examples_dir
        self.max_examples = max_examples
        self._arrays = None
        self._idx = 0

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        i = self._idx
        self._idx += 1
        assert i < len(self._arrays["removed"]), "more documents than signatures: shard/order mismatch"
        size = int(self._arrays["cluster_size"][i])
        cluster = int(self._arrays["cluster"][i])
        kind = KIND_NAMES[int(self._arrays["kind"][i])]
        removed = bool(self._arrays["removed"][i])
        source = doc.metadata.get("source")
        if 0 <= cluster < self.max_examples:
            self._examples.write(
                json.dumps(
                    {
                        "cluster": cluster,
                        "kind": kind,
                        "size": size,
                        "doc_id": doc.id,
                        "source": source,
                        "kept": not removed,
                        "excerpt": doc.text[:300],
                    }
                )
                + "\n"
            )
        if removed:
            self.stat_update(f"dropped/{source}")
            return False, REASONS[kind]
        doc.metadata["dedup_cluster_size"] = size
        if self._arrays["heldout"][i]:
            doc.metadata["heldout"] = True
        return True

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._arrays = dict(np.load(Path(self.clusters_dir) / f"{rank:05d}.npz"))
        self._idx = 0
        os.makedirs(self.examples_dir, exist_ok=True)
        with open(Path(self.examples_dir) / f"{rank:05d}.jsonl", "w") as self._examples:
            yield from super().run(data, rank, world_size)
        assert self._idx == len(self._arrays["removed"]), (
            f"rank {rank}: {self._idx} documents but {len(self._arrays['removed'])} signatures"
        )
