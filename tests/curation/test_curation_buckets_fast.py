"""FastMinhashBuckets writes the very .dups files and stats datatrove's MinhashDedupBuckets writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datatrove.pipeline.dedup.minhash import SENTINEL, HashConfig, MinhashConfig, MinhashDedupBuckets

from curation.dedup.buckets import FastMinhashBuckets


def _dtype(cfg: MinhashConfig, with_doc: bool = True) -> np.dtype:
    fmt = f"<{cfg.hash_config.struct_format}"
    fields = [(f"h{i}", fmt) for i in range(cfg.hashes_per_bucket)]
    return np.dtype(fields + ([("doc", "<u4")] if with_doc else []))


def _write_band(
    root: Path, cfg: MinhashConfig, rng: np.random.Generator, files: int, docs: int, dup: float
) -> None:
    """Sorted bucket files for every band: random signatures over a small alphabet (so hashes tie
    on their first values and whole signatures repeat within and across files), some copied."""
    dtype = _dtype(cfg)
    pool = rng.integers(0, 6, size=(docs * files, cfg.hashes_per_bucket))  # small values: many ties
    for b in range(cfg.num_buckets):
        for f in range(files):
            if f == 2:  # an empty file among the others, as a task with no document gives
                (root / f"bucket_{b:03d}").mkdir(parents=True, exist_ok=True)
                (root / f"bucket_{b:03d}" / f"{f:05d}.minhash.sig").write_bytes(b"")
                continue
            recs = np.empty(docs, dtype)
            rows = rng.integers(0, 6, size=(docs, cfg.hashes_per_bucket))
            copied = rng.random(docs) < dup
            rows[copied] = pool[rng.integers(0, pool.shape[0], copied.sum())]
            for i in range(cfg.hashes_per_bucket):
                recs[f"h{i}"] = rows[:, i] * 1_000_003 + b
            recs["doc"] = np.arange(docs)
            recs.sort(order=dtype.names)
            (root / f"bucket_{b:03d}").mkdir(parents=True, exist_ok=True)
            recs.tofile(root / f"bucket_{b:03d}" / f"{f:05d}.minhash.sig")


def _write_index(root: Path, cfg: MinhashConfig, rng: np.random.Generator, n: int) -> None:
    dtype = _dtype(cfg, with_doc=False)
    for b in range(cfg.num_buckets):
        recs = np.empty(n, dtype)
        for i in range(cfg.hashes_per_bucket):
            recs[f"h{i}"] = rng.integers(0, 6, n) * 1_000_003 + b
        recs = np.unique(recs)
        (root / f"bucket_{b:03d}").mkdir(parents=True, exist_ok=True)
        recs.tofile(root / f"bucket_{b:03d}" / "old.minhash.index")


def _run(step_cls, sigs: Path, out: Path, cfg: MinhashConfig, index: Path | None, chunk: int | None = None):
    outputs, stats = {}, {}
    for band in range(cfg.num_buckets):
        step = step_cls(
            str(sigs),
            str(out),
            config=cfg,
            index_folder=str(index) if index else None,
            only_dedup_in_index=False,
        )
        if chunk is not None:
            step.chunk_records = chunk
        result = step.run(rank=band, world_size=cfg.num_buckets)
        if result is not None:  # datatrove's run is a generator
            list(result)
        stats[band] = {k: step.stats[k].total for k in ("total_matches", "index_match") if step.stats[k].n}
    for path in sorted(out.glob("*.dups")):
        outputs[path.name] = path.read_bytes()
    return outputs, stats


@pytest.mark.parametrize("precision", [64, 32])
@pytest.mark.parametrize("with_index", [False, True])
def test_same_pairs_and_stats_as_datatrove(tmp_path, precision, with_index):
    cfg = MinhashConfig(
        n_grams=5, num_buckets=3, hashes_per_bucket=2, hash_config=HashConfig(precision=precision)
    )
    rng = np.random.default_rng(7)
    _write_band(tmp_path / "sigs", cfg, rng, files=4, docs=300, dup=0.3)
    index = None
    if with_index:
        index = tmp_path / "index"
        _write_index(index, cfg, rng, 40)
    want, want_stats = _run(MinhashDedupBuckets, tmp_path / "sigs", tmp_path / "stock", cfg, index)
    # small ranges: equal signatures must still meet in one range, and ranges keep the order
    got, got_stats = _run(FastMinhashBuckets, tmp_path / "sigs", tmp_path / "fast", cfg, index, chunk=64)
    assert set(got) == set(want) == {f"{b:05d}_00.dups" for b in range(cfg.num_buckets)}
    for name in want:
        assert got[name] == want[name], name
    assert got_stats == want_stats
    pairs = np.frombuffer(b"".join(want.values()), "<u4").reshape(-1, 4)
    assert len(pairs) > 100  # the bands do have duplicates to find
    if with_index:
        assert (
            (pairs[:, 0] == SENTINEL).sum() == sum(s.get("index_match", 0) for s in want_stats.values()) > 0
        )


def test_pair_order_is_the_heap_order_on_ties(tmp_path):
    """Three documents with one signature in two files: chained pairs, file before file, doc before doc."""
    cfg = MinhashConfig(n_grams=5, num_buckets=1, hashes_per_bucket=1)
    dtype = _dtype(cfg)
    (tmp_path / "sigs" / "bucket_000").mkdir(parents=True)
    for f, docs in ((0, [4, 9]), (1, [1])):
        recs = np.array([(7, d) for d in docs], dtype)
        recs.tofile(tmp_path / "sigs" / "bucket_000" / f"{f:05d}.minhash.sig")
    got, stats = _run(FastMinhashBuckets, tmp_path / "sigs", tmp_path / "fast", cfg, None)
    pairs = np.frombuffer(got["00000_00.dups"], "<u4").reshape(-1, 4).tolist()
    assert pairs == [[0, 4, 0, 9], [0, 9, 1, 1]]
    assert stats == {0: {"total_matches": 2}}


def _run_workers(step_cls, sigs: Path, out: Path, cfg: MinhashConfig, workers: int, **kwargs) -> dict:
    for rank in range(cfg.num_buckets * workers):
        step = step_cls(str(sigs), str(out), config=cfg, **kwargs)
        result = step.run(rank=rank, world_size=cfg.num_buckets * workers)
        if result is not None:
            list(result)
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.dups"))}


def test_uncovered_options_give_datatrove_output(tmp_path):
    """Two workers per band (datatrove splits the hash range by seeking) and ``only_dedup_in_index``
    are datatrove's own path: the same files as the stock step, and the fast path is not taken."""
    cfg = MinhashConfig(n_grams=5, num_buckets=1, hashes_per_bucket=2)
    rng = np.random.default_rng(11)
    _write_band(tmp_path / "sigs", cfg, rng, files=4, docs=300, dup=0.3)
    _write_index(tmp_path / "index", cfg, rng, 40)
    assert FastMinhashBuckets(str(tmp_path), str(tmp_path), config=cfg)._fast_path(world_size=2) is False
    for name, kwargs in (("split", {}), ("index_only", {"index_folder": str(tmp_path / "index")})):
        workers = 2 if name == "split" else 1
        want = _run_workers(
            MinhashDedupBuckets, tmp_path / "sigs", tmp_path / f"stock_{name}", cfg, workers, **kwargs
        )
        got = _run_workers(
            FastMinhashBuckets, tmp_path / "sigs", tmp_path / f"fast_{name}", cfg, workers, **kwargs
        )
        assert got == want, name
        assert sum(len(b) for b in want.values()) > 0, name  # there were pairs to write
    assert set(want) == {"00000_00.dups"}
    assert {"00000_00.dups", "00000_01.dups"} <= set(
        p.name for p in (tmp_path / "fast_split").glob("*.dups")
    )  # one file per worker: datatrove's naming, not the fast path's single file
