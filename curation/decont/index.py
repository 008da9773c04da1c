"""Build the n-gram index of the eval sets (datatrove's NGramsDecontIndexer is broken).

Eval sets are local jsonl files: GSM8K (``question``/``answer``), HumanEval
(``prompt``/``canonical_solution``) or any ``text_keys``. Each field of each item with at least
``min_item_words`` words contributes its word n-grams. The index is two arrays saved in one
``.npz``: ``hashes`` (sorted uint64) and ``items`` (int32 row in ``items.json``, which holds
``{eval_set, item_id}``), so a hit can name the eval item it came from.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curation.config import DecontConfig, EvalSetConfig
from curation.decont.ngrams import ngram_hashes, words


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def load_eval_items(eval_set: EvalSetConfig) -> list[tuple[str, list[str]]]:
    """``(item_id, [field texts])`` for each line of the eval file."""
    path = Path(eval_set.path)
    if not path.is_file():
        raise FileNotFoundError(f"decontamination.eval_sets[{eval_set.name}]: no file {path}")
    keys = eval_set.keys()
    items = []
    with _open_text(path) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({error.msg})") from error
            missing = [k for k in keys if k not in row]
            if missing:
                raise ValueError(
                    f"{path}:{line_no}: eval set {eval_set.name!r} has no key(s) {missing} "
                    f"(keys: {sorted(row)}); set `text_keys` or `format`"
                )
            item_id = str(row.get("task_id") or row.get("id") or line_no)
            items.append((item_id, [str(row[k]) for k in keys]))
    return items


def preflight_eval_set(eval_set: EvalSetConfig) -> None:
    """Fail before work starts on a missing file or key (reads the whole file: eval sets are small)."""
    load_eval_items(eval_set)


class DecontIndexer(PipelineStep):
    """Write ``index.npz`` + ``items.json`` for ``config.eval_sets`` into ``output_dir`` (one task)."""

    name = "🧪 Decont index"
    type = "🧹 - DECONT"

    def __init__(self, config: DecontConfig, output_dir: str):
        super().__init__()
        self.config = config
        self.output_dir = output_dir

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        if rank != 0:
            return
        all_hashes, all_items, meta = [], [], []
        for eval_set in self.config.eval_sets:
            for item_id, fields in load_eval_items(eval_set):
                row = len(meta)
                meta.append({"eval_set": eval_set.name, "item_id": item_id})
                for text in fields:
                    tokens = words(text)
                    if len(tokens) < self.config.min_item_words:
                        self.stat_update("fields_too_short")
                        continue
                    # a field shorter than n words is indexed whole, at its own length
                    hashes = ngram_hashes(tokens, min(self.config.n, len(tokens)))
                    if len(tokens) < self.config.n:
                        self.stat_update("fields_shorter_than_n")
                        hashes = hashes[:0]  # only full n-grams are matched against documents
                    all_hashes.append(hashes)
                    all_items.append(np.full(len(hashes), row, dtype=np.int32))
                self.stat_update("items")
        hashes = np.concatenate(all_hashes) if all_hashes else np.empty(0, np.uint64)
        items = np.concatenate(all_items) if all_items else np.empty(0, np.int32)
        order = np.argsort(hashes, kind="stable")
        out = Path(self.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "index.npz", hashes=hashes[order], items=items[order])
        (out / "items.json").write_text(json.dumps(meta))
        self.stat_update("ngrams", value=len(hashes))
