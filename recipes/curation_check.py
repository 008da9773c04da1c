"""Score curation against the demo corpus's planted defects (ground_truth.json).

A planted duplicate counts as caught when the original and its copy do not both survive into the
curated or held-out data; junk and contaminated documents count as caught when they are gone
(or, for contamination in flag mode, flagged in their metadata).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl


def surviving_documents(curate_dir: Path) -> dict[str, dict]:
    """Document id -> metadata for every document in curated/ and heldout/."""
    docs: dict[str, dict] = {}
    for part in ("curated", "heldout"):
        for shard in sorted((curate_dir / part).glob("*/*.jsonl*")):
            opener = gzip.open if shard.suffix == ".gz" else open
            with opener(shard, "rt", encoding="utf-8") as handle:
                for line in handle:
                    record = json.loads(line)
                    docs[str(record.get("id"))] = record.get("metadata") or {}
    return docs


def planted_defects_table(ground_truth: Path, curate_dir: Path) -> pl.DataFrame:
    truth = json.loads(ground_truth.read_text())
    alive = surviving_documents(curate_dir)
    rows = []

    def add(kind: str, caught: list[bool]) -> None:
        if caught:
            rows.append(
                {
                    "defect": kind,
                    "planted": len(caught),
                    "caught": sum(caught),
                    "recall": sum(caught) / len(caught),
                }
            )

    add(
        "exact duplicate",
        [not (d["original"] in alive and d["copy"] in alive) for d in truth["exact_duplicates"]],
    )
    for low, high in ((0.0, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)):
        pairs = [d for d in truth["near_duplicates"] if low <= d["jaccard"] < high]
        add(
            f"near duplicate, Jaccard {low:.1f}-{min(high, 1.0):.1f}",
            [not (d["original"] in alive and d["copy"] in alive) for d in pairs],
        )
    for kind in ("boilerplate", "spam", "too_short"):
        add(f"junk: {kind}", [d["doc_id"] not in alive for d in truth["junk"] if d["kind"] == kind])
    add(
        "contaminated (eval item pasted in)",
        [
            d["doc_id"] not in alive or bool(alive[d["doc_id"]].get("contaminated"))
            for d in truth["contaminated"]
        ],
    )
    return pl.DataFrame(rows)
