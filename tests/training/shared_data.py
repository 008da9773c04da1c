"""Real data for tests from ../shared/data (CI has it; a fresh clone does not, so tests skip)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LLAMA = SHARED / "llama_tokenizer.json"
GSM8K = SHARED / "gsm8k_train.jsonl"
WIKITEXT = SHARED / "wikitext2_valid.txt"
needs_shared = pytest.mark.skipif(
    not (LLAMA.is_file() and GSM8K.is_file() and WIKITEXT.is_file()),
    reason=f"real data not found at {SHARED} (CI has ../shared/data; a fresh clone does not)",
)


def gsm8k_rows(num_docs: int) -> list[dict]:
    with GSM8K.open() as f:
        return [json.loads(line) for _, line in zip(range(num_docs), f, strict=False)]


def write_curated(root: Path, source: str, texts: list[str], metadata: list[dict] | None = None) -> Path:
    """``root/curated/<source>/00000.jsonl.gz`` in curation's format (text, id, metadata)."""
    folder = root / "curated" / source
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "00000.jsonl.gz", "wt") as f:
        for i, text in enumerate(texts):
            meta = metadata[i] if metadata else {}
            f.write(json.dumps({"text": text, "id": f"{source}-{i}", "metadata": meta}) + "\n")
    return root
