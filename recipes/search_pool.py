"""The proxies' data pool: each source cut to the same fraction as the proxy's token budget.

A proxy trains ``f = proxy tokens / target tokens`` of the target run's tokens. On the full token
pool it would see each source ``f`` times as often as the target run does (fresh data where the
target repeats), and "Repetition Mismatch" (arXiv 2606.07597) shows such proxies favour the small,
high-quality sources the target run can only repeat. So the pool keeps, per source, its first
documents up to ``f`` of its tokens (at least one document): a proxy then repeats each source at
the target run's epochs, and the planner's epoch caps (read off the pool's inventory) bind as they
would for the target. The pool is written in the tokenizer's shard format next to a copy of the
tokenizer and an inventory with the pool's exact counts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl


def write_pool(tokens_dir: Path, out: Path, fraction: float) -> pl.DataFrame:
    """Write the cut pool into ``out``; returns its inventory (``out/inventory.parquet``)."""
    from training.data.shards import SourceShards

    inventory = pl.read_parquet(tokens_dir / "inventory.parquet")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tokens_dir / "tokenizer.json", out / "tokenizer.json")
    counts = {}
    for source in inventory["source"].to_list():
        shards = SourceShards(tokens_dir / source, source)
        counts[source] = _write_prefix(shards, tokens_dir / source, out / source, fraction)
    pool = inventory.with_columns(
        pl.col("source").replace_strict(counts, return_dtype=pl.Int64).alias("num_tokens")
    )
    if "num_docs" in pool.columns:
        docs = {s: int(len(np.fromfile(out / s / "000.ds.index", dtype="<u8"))) for s in counts}
        pool = pool.with_columns(
            pl.col("source").replace_strict(docs, return_dtype=pl.Int64).alias("num_docs")
        )
    pool.write_parquet(out / "inventory.parquet")
    return pool


def _write_prefix(shards, source_dir: Path, folder: Path, fraction: float) -> int:
    """The first documents (in shard order) up to ``fraction`` of the source's tokens, as one shard."""
    wanted = max(1, int(np.ceil(fraction * shards.num_tokens)))
    ends = np.cumsum(shards.doc_len)
    num_docs = min(int(np.searchsorted(ends, wanted, side="left")) + 1, shards.num_docs)
    folder.mkdir(parents=True, exist_ok=True)
    docs = range(num_docs)
    tokens = np.concatenate([shards.read(d, 0, int(shards.doc_len[d])) for d in docs])
    tokens.astype(shards.tokens[0].dtype).tofile(folder / "000.ds")
    np.cumsum(shards.doc_len[:num_docs]).astype("<u8").tofile(folder / "000.ds.index")
    if shards.has_mask:
        mask = np.concatenate([shards.read_mask(d, 0, int(shards.doc_len[d])) for d in docs])
        mask.astype(np.uint8).tofile(folder / "000.ds.mask")
    for key, values in shards.doc_keys.items():  # curriculum keys per document (difficulty, quality)
        values[:num_docs].astype("<f4").tofile(folder / f"000.ds.{key}")
    return int(len(tokens))
