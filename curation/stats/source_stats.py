"""``SourceStats``: per-source sums of what the inventory reports, one JSON per task.

Counts documents and tokens (exact with a ``tokenizer.json``; otherwise UTF-8 bytes / 4,
flagged as an estimate), and sums quality scores, difficulty tiers and domain labels. Written
to ``<output_dir>/<rank>.json`` at the end of the task; the report merges them.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curation.stats.batched import BatchedStats

SUMMED_KEYS = ("num_docs", "num_tokens", "quality_sum", "num_quality", "difficulty_sum", "num_difficulty")


def empty_source_totals() -> dict:
    """Running totals of one source; a task writes them, the report adds the tasks up."""
    return {**dict.fromkeys(SUMMED_KEYS, 0), "domains": defaultdict(int)}


class SourceStats(BatchedStats, PipelineStep):
    name = "🔢 Source stats"
    type = "📊 - STATS"

    def __init__(self, output_dir: str, tokenizer_path: str | None = None, batch_size: int = 256):
        super().__init__()
        self.output_dir = output_dir
        self.tokenizer_path = tokenizer_path
        self.batch_size = batch_size

    def _count_tokens(self, texts: list[str]) -> list[int]:
        if self.tokenizer_path is None:
            return [max(1, len(t.encode("utf-8")) // 4) for t in texts]
        if not hasattr(self, "_tokenizer"):
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(self.tokenizer_path)
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        sums: dict[str, dict] = defaultdict(empty_source_totals)
        batch = []

        def flush():
            with self.track_time():
                counts = self._count_tokens([d.text for d in batch])
            for doc, count in zip(batch, counts, strict=True):
                s = sums[doc.metadata.get("source", "?")]
                s["num_docs"] += 1
                s["num_tokens"] += count
                if (q := doc.metadata.get("quality_score")) is not None:
                    s["quality_sum"] += float(q)
                    s["num_quality"] += 1
                if (t := doc.metadata.get("difficulty_tier")) is not None:
                    s["difficulty_sum"] += float(t)
                    s["num_difficulty"] += 1
                s["domains"][doc.metadata.get("domain", "general")] += 1
                self.stat_update("tokens", value=count)
            batch.clear()

        for doc in data:
            batch.append(doc)
            yield doc  # the writer after us may run before flush; counts do not depend on it
            if len(batch) >= self.batch_size:
                flush()
        if batch:
            flush()
        os.makedirs(self.output_dir, exist_ok=True)
        payload = {"estimated": self.tokenizer_path is None, "sources": sums}
        (Path(self.output_dir) / f"{rank:05d}.json").write_text(json.dumps(payload))
