"""Dedup: exact + MinHash clusters across sources, keeper from the higher-ranked source."""

import random

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets

from curation.dedup import DedupFilter, DedupSignature, PriorityCluster, candidate_probability
from curation.filters import FastWordTokenizer


def _text(rng, n=120):
    # letters only: MinHash normalisation maps every digit to 0
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(3000)]
    return " ".join(rng.choice(vocab) for _ in range(n))


def test_lsh_curve_matches_reference():
    assert abs(candidate_probability(0.8, 14, 8) - 0.924) < 1e-3
    assert abs(candidate_probability(0.7, 14, 8) - 0.565) < 1e-3


def test_cross_source_dedup_keeps_trusted_copy(tmp_path):
    rng = random.Random(0)
    base, other = _text(rng), _text(rng)
    words = base.split()
    near = " ".join(words[:-3] + ["zzq", "zzr", "zzs"])  # Jaccard ~0.9 to base
    # rank 0 (task 0) holds the scraped copies, rank 1 the trusted original: position must not win
    shards = {
        0: [("scraped", "s-near", near), ("scraped", "s-short", "tiny doc"), ("scraped", "s-other", other)],
        1: [("trusted", "t-base", base), ("trusted", "t-short", "Tiny   DOC")],
    }
    cfg = MinhashConfig(n_grams=3, num_buckets=8, hashes_per_bucket=4)
    work = tmp_path / "dedup"
    for rank, rows in shards.items():
        sig = DedupSignature(
            str(work), {"trusted": 0, "scraped": 1}, minhash=cfg, language=FastWordTokenizer()
        )
        docs = [Document(text=t, id=i, metadata={"source": s}) for s, i, t in rows]
        assert len(list(sig.run(iter(docs), rank=rank, world_size=2))) == len(rows)
    for b in range(cfg.num_buckets):
        MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=cfg).run(rank=b, world_size=8)
    cluster = PriorityCluster(
        str(work),
        ["trusted", "scraped"],
        exact=True,
        heldout_fraction=0.0,
        heldout_max_docs=None,
        world_size_stage1=2,
    )
    list(cluster.run())
    kept = []
    for rank, rows in shards.items():
        f = DedupFilter(str(work / "clusters"), str(tmp_path / "ex"))
        docs = [Document(text=t, id=i, metadata={"source": s}) for s, i, t in rows]
        kept += [(d.id, d.metadata["dedup_cluster_size"]) for d in f.run(iter(docs), rank=rank, world_size=2)]
    # the near copy and the short exact copy (no MinHash signature: < n_grams words) lose to the trusted source
    assert sorted(kept) == [("s-other", 1), ("t-base", 2), ("t-short", 2)]


def test_heldout_selection_is_seeded_and_capped(tmp_path):
    work = tmp_path / "dedup"
    (work / "docs").mkdir(parents=True)
    from curation.dedup.signature import DOC_DTYPE

    rows = np.zeros(100, dtype=DOC_DTYPE)
    rows["exact"] = np.arange(100)
    rows["heldout_key"] = np.random.default_rng(0).integers(0, 2**63, 100)
    np.save(work / "docs" / "00000.npy", rows)
    list(
        PriorityCluster(
            str(work), ["a"], exact=True, heldout_fraction=0.1, heldout_max_docs=4, world_size_stage1=1
        ).run()
    )
    held = np.load(work / "clusters" / "00000.npz")["heldout"]
    assert held.sum() == 4
    assert set(np.flatnonzero(held)) == set(np.argsort(rows["heldout_key"])[:4])
