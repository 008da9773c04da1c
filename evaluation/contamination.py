"""Contamination audit: the share of an eval set's items that share an n-gram with the training data.

Words are lower-cased ``\\w+`` runs (punctuation and spacing do not hide a copy). An item with fewer
than ``n`` words is checked as one whole n-gram of its length. The eval side is small, so its
n-grams go into a dict (n-gram hash -> items); the curated side is streamed once, document by
document, and each of its n-grams is looked up. Reads ``curated/<source>/*.jsonl.gz`` (``text``).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

from tqdm.auto import tqdm

from evaluation.evalsets import evalset_name, item_text

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def resolve_curated_dir(path: str | Path) -> Path:
    path = Path(path)
    if (path / "curated").is_dir():
        path = path / "curated"
    if not path.is_dir():
        raise FileNotFoundError(f"contamination.curated_dir: {path} is not a folder")
    return path


def curated_texts(curated_dir: str | Path):
    root = resolve_curated_dir(curated_dir)
    files = sorted(root.glob("*/*.jsonl.gz")) + sorted(root.glob("*/*.jsonl"))
    if not files:
        raise FileNotFoundError(f"{root}: no curated shards (expected curated/<source>/*.jsonl.gz)")
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if not isinstance(record.get("text"), str):
                    raise ValueError(f"{path}:{line_no}: missing key 'text' (a string)")
                yield record["text"]


def contaminated_items(eval_sets: dict[str, list[str]], train_texts, *, n: int = 13) -> dict[str, set[int]]:
    """For each eval set, the indices of items with at least one n-gram in ``train_texts``."""
    index: dict[int, list[tuple[str, int]]] = defaultdict(list)
    short_lengths: set[int] = set()
    for name, items in eval_sets.items():
        for i, text in enumerate(items):
            tokens = words(text)
            if 0 < len(tokens) < n:
                short_lengths.add(len(tokens))
            for gram in ngrams(tokens, n):
                index[hash(gram)].append((name, i))
    hits: dict[str, set[int]] = {name: set() for name in eval_sets}
    lengths = sorted({n} | short_lengths)
    for text in train_texts:
        tokens = words(text)
        for size in lengths:
            for j in range(len(tokens) - size + 1):
                found = index.get(hash(tuple(tokens[j : j + size])))
                if found:
                    for name, i in found:
                        hits[name].add(i)
    return hits


def contamination_rows(
    files: list[Path], records_by_file: dict[Path, list[dict]], curated_dir: Path, *, n: int
):
    """Eval rows ``contamination/<evalset>`` with metrics ``share`` and ``num_contaminated``."""
    eval_sets = {evalset_name(p): [item_text(r) for r in records_by_file[p]] for p in files}
    texts = tqdm(curated_texts(curated_dir), desc="contamination", unit="doc", leave=False)
    hits = contaminated_items(eval_sets, texts, n=n)
    rows = []
    for name, items in eval_sets.items():
        share = len(hits[name]) / len(items)
        rows += [
            {
                "checkpoint": "data",
                "task": f"contamination/{name}",
                "metric": "share",
                "value": share,
                "n": len(items),
            },
            {
                "checkpoint": "data",
                "task": f"contamination/{name}",
                "metric": "num_contaminated",
                "value": float(len(hits[name])),
                "n": len(items),
            },
        ]
    return rows, hits
