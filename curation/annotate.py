"""Steps that finish a document's metadata: domain, difficulty, held-out routing, shard reading.

``DomainAndTier`` is the fallback used when the classifier package is unavailable: the domain
comes from the source hint (confidence 1.0) or is ``general`` (confidence 0.0), and the tier
from length and symbol density. ``HeldoutSplit`` sends documents marked by the dedup stage to
the held-out writer. ``ShardReader`` reads exactly the shard one filter-stage task wrote, so a
stage-4 task sees its documents in the order their signatures were computed.
"""

from __future__ import annotations

import re
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader

from curation.stats.batched import BatchedStats

_SYMBOLS = re.compile(r"[=+\-*/^\\{}()<>$]")
TRANSIENT_KEYS = ("heldout", "file_path")


def simple_tier(text: str) -> int:
    """0/1/2 from length and the share of math/code symbols (a stand-in for a classifier)."""
    num_words = max(1, len(text.split()))
    density = len(_SYMBOLS.findall(text)) / num_words
    score = (num_words >= 200) + (num_words >= 800) + (density > 0.15)
    return min(2, score)


class DomainAndTier(BatchedStats, PipelineStep):
    name = "🏷 Domain + tier (hint)"
    type = "🏷 - TAGGER"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            hint = doc.metadata.get("domain")
            doc.metadata["domain"] = hint or "general"
            doc.metadata["domain_confidence"] = 1.0 if hint else 0.0
            doc.metadata["difficulty_tier"] = simple_tier(doc.text)
            self.stat_update(f"domain_{doc.metadata['domain']}")
            yield doc


class HeldoutSplit(BatchedStats, PipelineStep):
    """Write docs with ``metadata['heldout']`` to ``writer`` (heldout/<source>/) and drop them here."""

    name = "🧊 Held-out split"
    type = "🔀 - SPLIT"

    def __init__(self, writer):
        super().__init__()
        self.writer = writer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.writer as writer:
            for doc in data:
                heldout = doc.metadata.pop("heldout", False)
                for key in TRANSIENT_KEYS:
                    doc.metadata.pop(key, None)
                if heldout:
                    self.stat_update("heldout", f"heldout/{doc.metadata.get('source')}")
                    writer.write(doc, rank)
                    continue
                self.stat_update("forwarded")
                yield doc


class ShardReader(BatchedStats, PipelineStep):
    """Read ``<folder>/<rank>.jsonl.gz`` (nothing when that task wrote no documents)."""

    name = "📖 Shard"
    type = "📖 - READER"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        name = f"{rank:05d}.jsonl.gz"
        if not (Path(self.folder) / name).is_file():
            return
        reader = JsonlReader(self.folder, glob_pattern=name, add_file_path=False, recursive=False)
        for doc in reader.read_file(name):
            self.stat_update("documents")
            yield doc
