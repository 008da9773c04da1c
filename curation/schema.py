"""The files curation writes, and the checks a reader runs on them.

Output of a curation run in ``DIR``:

``DIR/curated/<source>/*.jsonl.gz``
    One JSON object per document, written by datatrove's ``JsonlWriter``:
    ``{"text": str, "id": str, "metadata": {...}}`` with metadata keys
    ``source`` (str), ``domain`` (str: one of the domain labels, ``general`` by default),
    ``domain_confidence`` (float in [0, 1]), ``quality_score`` (float in [0, 1] or absent when no
    quality classifier ran), ``difficulty_tier`` (int >= 0, 0 = easiest) and, for documents that
    survived near-duplicate clustering, ``dedup_cluster_size`` (int >= 1). A source declared with
    ``instruction:`` adds ``instruction``: the conversation exactly as read, ``{"messages": [{"role",
    "content", ...}, ...]}`` or ``{"prompt": str, "response": str}``; its ``text`` is then the turns'
    contents joined by blank lines (what curation judged), and tokenization renders the
    conversation itself (training/tokenize/instruct.py).

``DIR/heldout/<source>/*.jsonl.gz``
    Same format; a per-source slice set aside *before* training data is written. Never trained on;
    evaluation reads it for per-domain held-out loss.

``DIR/inventory.parquet``
    One row per source, columns in ``INVENTORY_COLUMNS`` (required) plus optional summaries;
    with ``synthesize:``, also ``synthetic`` (bool) and ``parent_source`` (str, null for curated
    sources), and one row per synthetic source (``curation/synth/stages.py``).

``DIR/reports/``
    ``funnel.json`` (per step: kept/dropped counts and drop reasons), ``funnel.png``,
    ``dedup_clusters.jsonl``, ``decontamination.jsonl``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

# Required inventory columns and their dtypes. Extra columns are allowed (and kept).
INVENTORY_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.String(),  # unique source name; also the folder name under curated/ and heldout/
    "domain": pl.String(),  # the source's (majority) domain label: general, math, code, reasoning, ...
    "num_docs": pl.Int64(),  # documents kept in curated/<source>/
    "num_tokens": pl.Int64(),  # tokens kept (exact with the configured tokenizer, else an estimate)
    "num_tokens_estimated": pl.Boolean(),  # True when num_tokens is an estimate (bytes / 4)
    "mean_quality": pl.Float64(),  # mean quality score in [0, 1]; null when no classifier ran
    "mean_difficulty": pl.Float64(),  # mean difficulty tier (0 = easiest)
    "path": pl.String(),  # folder with the source's curated shards
}

DOCUMENT_METADATA_KEYS = ("source", "domain", "domain_confidence", "difficulty_tier")


def check_inventory(frame: pl.DataFrame, *, where: str | Path = "inventory") -> pl.DataFrame:
    """Return ``frame`` with required columns cast to their dtypes, or raise a clear ValueError."""
    missing = [c for c in INVENTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; an inventory needs {list(INVENTORY_COLUMNS)} "
            "(written by `midtrain curate`)"
        )
    return frame.with_columns([pl.col(c).cast(t, strict=False) for c, t in INVENTORY_COLUMNS.items()])


def read_inventory(path: str | Path) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no inventory here; run `midtrain curate` first")
    return check_inventory(pl.read_parquet(path), where=path)
