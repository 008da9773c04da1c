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
    rows["top_percentile"] = np.nan
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


def _cluster_of_two(tmp_path, rows):
    """PriorityCluster over hand-made rows that all share one text hash (one cluster); kept row index."""
    from curation.dedup.signature import DOC_DTYPE

    work = tmp_path / "dedup"
    (work / "docs").mkdir(parents=True)
    table = np.zeros(len(rows), dtype=DOC_DTYPE)
    table["top_percentile"] = np.nan  # no percentile cut
    for i, row in enumerate(rows):
        for key, value in row.items():
            table[i][key] = value
    np.save(work / "docs" / "00000.npy", table)
    list(
        PriorityCluster(
            str(work),
            ["a", "b"],
            exact=True,
            heldout_fraction=None,
            heldout_max_docs=None,
            world_size_stage1=1,
        ).run()
    )
    removed = np.load(work / "clusters" / "00000.npz")["removed"]
    assert removed.sum() == len(rows) - 1
    return int(np.flatnonzero(~removed)[0])


NAN = float("nan")


def test_keeper_rule_order(tmp_path):
    # 1. source rank beats quality and cleanliness
    rows = [
        {"priority": 1, "quality": 0.9, "clean": 50, "num_words": 60},
        {"priority": 0, "quality": 0.2, "clean": 10, "num_words": 20},
    ]
    assert _cluster_of_two(tmp_path / "rank", rows) == 1
    # 2. quality (rounded to 0.01) beats cleanliness; below 0.01 apart, cleanliness decides
    rows = [{"quality": 0.61, "clean": 10, "num_words": 60}, {"quality": 0.70, "clean": 5, "num_words": 60}]
    assert _cluster_of_two(tmp_path / "quality", rows) == 1
    rows = [
        {"quality": 0.7001, "clean": 5, "num_words": 60},
        {"quality": 0.6999, "clean": 10, "num_words": 60},
    ]
    assert _cluster_of_two(tmp_path / "quality_noise", rows) == 1
    # 3. unscored (NaN): cleanliness, then more words, then position
    rows = [{"quality": NAN, "clean": 40, "num_words": 60}, {"quality": NAN, "clean": 42, "num_words": 50}]
    assert _cluster_of_two(tmp_path / "clean", rows) == 1
    rows = [{"quality": NAN, "clean": 40, "num_words": 59}, {"quality": NAN, "clean": 40, "num_words": 60}]
    assert _cluster_of_two(tmp_path / "words", rows) == 1
    rows = [{"quality": NAN, "clean": 40, "num_words": 60}, {"quality": NAN, "clean": 40, "num_words": 60}]
    assert _cluster_of_two(tmp_path / "position", rows) == 0


def test_cleanliness_prefers_clean_copy():
    from curation.dedup.cleanliness import cleanliness

    clean = (
        "The river was used by the people of the city for many years before the bridge was built.\n"
        "It was the only way to move goods from the market to the village in the winter."
    )
    noisy = {
        "typo": clean.replace("people", "peopel").replace("years", "yaers"),
        "junk": clean.replace("bridge", "bridge x7Qz &nbsp;"),
        "boilerplate": clean + "\nClick here to subscribe to our newsletter",
        "drop": clean.replace(" the only", " only"),
    }
    for kind, text in noisy.items():
        assert cleanliness(clean) > cleanliness(text), kind


def _dedup_run(tmp_path, docs, cfg):
    """Signature -> buckets -> cluster -> filter on one task; returns the kept ids."""
    work = tmp_path / "dedup"
    sig = DedupSignature(str(work), {"s": 0}, minhash=cfg, language=FastWordTokenizer())
    list(sig.run(iter([Document(text=t, id=i, metadata={"source": "s"}) for i, t in docs]), rank=0))
    for b in range(cfg.num_buckets):
        MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=cfg).run(
            rank=b, world_size=cfg.num_buckets
        )
    list(
        PriorityCluster(
            str(work), ["s"], exact=True, heldout_fraction=None, heldout_max_docs=None, world_size_stage1=1
        ).run()
    )
    f = DedupFilter(str(work / "clusters"), str(tmp_path / "ex"))
    out = f.run(iter([Document(text=t, id=i, metadata={"source": "s"}) for i, t in docs]), rank=0)
    return {d.id for d in out}


def _noisy_copy(rng, text, edits):
    junk = ["x7Qz", "&nbsp;", "a1b2c3", "<br>", "\ufffd"]
    words = text.split(" ")
    for _ in range(edits):
        kind = rng.randrange(4)
        i = rng.randrange(len(words))
        if kind == 0 and len(words[i]) >= 4 and words[i].isalpha():
            j = rng.randrange(len(words[i]) - 1)
            w = words[i]
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # swapped letters
        elif kind == 1:
            words.insert(i, rng.choice(junk))
        elif kind == 2 and len(words) > 20:
            del words[i]
        else:
            words = ["Click here to subscribe to our newsletter\n"] + words
    return " ".join(words)


def test_dedup_keeps_clean_original_on_real_text(tmp_path):
    """Within one source, real paragraphs with a noisy near-copy placed FIRST: the clean one survives."""
    from pathlib import Path

    import pytest

    data = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (data / "wikitext2_valid.txt").is_file():
        pytest.skip(f"real data folder {data} absent (CI has it at ../shared/data)")
    lines = [
        line.strip()
        for line in (data / "wikitext2_valid.txt").read_text().splitlines()
        if line.strip() and not line.strip().startswith("=") and 80 <= len(line.split()) <= 300
    ]
    rng = random.Random(0)
    originals = rng.sample(lines, 40)
    docs = []
    for k, text in enumerate(originals):
        docs.append((f"noisy{k}", _noisy_copy(rng, text, edits=2)))  # first: position would keep it
        docs.append((f"clean{k}", text))
    kept = _dedup_run(tmp_path, docs, MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8))
    caught = [k for k in range(40) if (f"clean{k}" in kept) != (f"noisy{k}" in kept)]
    assert len(caught) >= 36  # 2 edits in 80+ words: Jaccard >= ~0.85, P(candidate) >= 0.99
    clean_kept = sum(f"clean{k}" in kept for k in caught)
    assert clean_kept >= len(caught) - 2, f"clean original kept in {clean_kept}/{len(caught)} caught pairs"


def _pairs_at_jaccard(rng, num_pairs, lo=0.78, hi=0.82):
    """Base docs of random letter words and a copy each, words replaced until the shingle Jaccard is in [lo, hi]."""
    from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

    signer = MinhashDedupSignature("/tmp/unused", config=MinhashConfig(), language=FastWordTokenizer())

    def shingles(words):
        return set(signer.get_shingles(" ".join(words)).ravel().tolist())

    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(5000)]
    rows, sims = [], []
    for k in range(num_pairs):
        base = [rng.choice(vocab) for _ in range(200)]
        ref, copy = shingles(base), list(base)
        while True:
            copy[rng.randrange(len(copy))] = rng.choice(vocab)
            jac = len(ref & shingles(copy)) / len(ref | shingles(copy))
            if jac <= hi:
                break
        assert jac >= lo, jac
        rows += [{"id": f"b{k}", "text": " ".join(base)}, {"id": f"c{k}", "text": " ".join(copy)}]
        sims.append(jac)
    return rows, sims


def test_pipeline_minhash_recall_follows_configured_bands(tmp_path):
    """run_curation must use every configured band: recall at Jaccard ~0.8 matches P(s) for 14x8, not 3x8."""
    import gzip
    import json
    import math

    from curation import run_curation

    rows, sims = _pairs_at_jaccard(random.Random(0), 100)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def recall(num_buckets: int) -> tuple[float, float]:
        out = tmp_path / f"out{num_buckets}"
        result = run_curation(
            {
                "sources": [{"name": "s", "path": str(corpus)}],
                "filters": {"enabled": []},
                "heldout": {"fraction": 0.0},
                "dedup": {"num_buckets": num_buckets, "hashes_per_bucket": 8},
                "executor": {"tasks": 1, "workers": 1},
            },
            out,
        )
        sig_dirs = sorted((result.work_dir / "dedup" / "sigs").glob("bucket_*"))
        assert len(sig_dirs) == num_buckets
        kept = set()
        for path in (out / "curated").rglob("*.jsonl.gz"):
            with gzip.open(path, "rt") as fh:
                kept |= {json.loads(line)["id"] for line in fh}
        caught = sum((f"b{k}" in kept) != (f"c{k}" in kept) for k in range(len(sims)))
        expected = sum(candidate_probability(s, num_buckets, 8) for s in sims) / len(sims)
        return caught / len(sims), expected

    got, expected = recall(14)
    # 100 pairs: binomial sd = sqrt(p (1 - p) / 100) ~ 0.027 at p ~ 0.92; allow 3 sd
    tol = 3 * math.sqrt(expected * (1 - expected) / len(sims))
    assert abs(expected - 0.92) < 0.03 and abs(got - expected) <= tol, (got, expected, tol)
    got3, expected3 = recall(3)  # P(0.8) = 0.42 with 3 bands: a pipeline dropping bands fails above
    assert got3 < got - 0.25 and abs(got3 - expected3) <= 3 * math.sqrt(
        expected3 * (1 - expected3) / len(sims)
    )
