"""Shared pieces of the ``dedup.against`` tests on real text (test_curation_dedup_against*.py):
write a source, configure and run a curation, read its records, fingerprint an output folder,
plant a near copy."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import warnings
from pathlib import Path

import pytest

from curation import CurationConfig, run_curation
from curation.real_sets import find_shared_data

DATA = find_shared_data()
needs_data = pytest.mark.skipif(
    DATA is None, reason="../shared/data (real public sets) is not beside this checkout"
)


def write_source(path: Path, docs: list[dict]) -> str:
    """A jsonl source of ``{"id", "text"}`` records (other keys of ``docs`` are left out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in docs))
    return str(path)


def against_config(sources: dict[str, str], **dedup) -> CurationConfig:
    """Every source in full (no held-out slice), one task; ``gsm*`` sources are math."""
    return CurationConfig.model_validate(
        {
            "sources": [
                {"name": name, "path": path, "domain": "math" if name.startswith("gsm") else "general"}
                for name, path in sources.items()
            ],
            "dedup": dedup,
            "heldout": {"fraction": None, "max_docs": None},
            "executor": {"tasks": 1, "workers": 1},
        }
    )


def curate(config: CurationConfig, out: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_curation(config, out)


def records(folder: Path) -> dict[str, dict]:
    """id -> record of every ``*.jsonl.gz`` under ``folder`` (curated/, heldout/, removed/)."""
    out = {}
    for shard in sorted(folder.rglob("*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                out[record["id"]] = record
    return out


def folder_hash(folder: Path) -> str:
    """Names and bytes of every file under ``folder``: equal only if nothing was written there."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def near_copy(text: str, rng: random.Random) -> str:
    """Three words of a long article replaced: Jaccard of the 5-gram sets stays above 0.95."""
    words = text.split(" ")
    at = rng.randrange(len(words) - 3)
    words[at : at + 3] = ["planted", "edit", "here"]
    return " ".join(words)
