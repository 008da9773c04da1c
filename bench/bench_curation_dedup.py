"""Dedup quality: planted near-duplicate pairs at Jaccard 0.5..0.95; midtrain vs datasketch MinHashLSH.

Base documents are random word sequences (letters only, 2k-word vocabulary, so unrelated
documents share almost no 5-grams). Each planted copy has words replaced at random until the
Jaccard similarity of its word 5-gram shingle set (after datatrove's text normalisation) with the
original falls just below a target; the actual similarity is what the buckets use. Recall per
bucket = share of pairs where exactly one copy survives (midtrain) or the pair is returned by an
LSH query (datasketch); precision = share of removals (pairs) that are planted pairs.
Both use 14 bands x 8 rows (112 permutations), 5-gram shingles.

    nice -n 10 python bench/bench_curation_dedup.py --base 4000 --pairs-per-target 60
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
TARGETS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
BUCKETS = ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01))


def shingles(words: list[str], n: int = 5) -> set[str]:
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def make_data(num_base: int, pairs_per_target: int, seed: int = 0):
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(2000)
    ]
    docs = {f"b{i}": [rng.choice(vocab) for _ in range(rng.randint(150, 400))] for i in range(num_base)}
    pairs = []
    originals = rng.sample(sorted(docs), min(num_base, pairs_per_target * len(TARGETS)))
    for k, orig in enumerate(originals):
        target = TARGETS[k % len(TARGETS)]
        words = list(docs[orig])
        base = shingles(words)
        copy = list(words)
        while True:
            copy[rng.randrange(len(copy))] = rng.choice(vocab)
            j = jaccard(base, shingles(copy))
            if j <= target + 0.02:
                break
        cid = f"c{k}"
        docs[cid] = copy
        pairs.append((orig, cid, j))
    return {i: " ".join(w) for i, w in docs.items()}, pairs


def run_midtrain(docs: dict[str, str], work: Path) -> tuple[float, set[str]]:
    from curation import CurationConfig, run_curation

    corpus = work / "corpus.jsonl"
    with open(corpus, "w") as f:
        f.writelines(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs.items())
    cfg = CurationConfig.model_validate(
        {
            "sources": [{"name": "s", "path": str(corpus)}],
            "filters": {"enabled": []},
            "heldout": {"fraction": 0.0},
            "executor": {"tasks": 1, "workers": 1},
        }
    )
    start = time.perf_counter()
    run_curation(cfg, work / "out")
    elapsed = time.perf_counter() - start
    import gzip

    kept = set()
    for p in (work / "out" / "curated").rglob("*.jsonl.gz"):
        with gzip.open(p, "rt") as fh:
            kept |= {json.loads(x)["id"] for x in fh}
    return elapsed, set(docs) - kept


def run_datasketch(docs: dict[str, str]) -> tuple[float, set[tuple[str, str]]]:
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    lsh = MinHashLSH(num_perm=112, params=(14, 8))
    sigs = {}
    for i, text in docs.items():
        m = MinHash(num_perm=112, seed=1)
        m.update_batch([s.encode() for s in shingles(text.split())])
        sigs[i] = m
        lsh.insert(i, m)
    found = set()
    for i, m in sigs.items():
        for j in lsh.query(m):
            if j != i:
                found.add(tuple(sorted((i, j))))
    return time.perf_counter() - start, found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=int, default=4000)
    parser.add_argument("--pairs-per-target", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "curation_dedup.json")
    args = parser.parse_args()
    docs, pairs = make_data(args.base, args.pairs_per_target)
    work = Path(tempfile.mkdtemp(prefix="bench_dedup_"))
    t_mid, removed = run_midtrain(docs, work)
    t_ds, found = run_datasketch(docs)
    planted = {tuple(sorted((a, b))) for a, b, _ in pairs}
    in_pair = {d for p in planted for d in p}
    rows = []
    for lo, hi in BUCKETS:
        bucket = [(a, b) for a, b, j in pairs if lo <= j < hi]
        if not bucket:
            continue
        mid_recall = sum((a in removed) != (b in removed) for a, b in bucket) / len(bucket)
        ds_recall = sum(tuple(sorted((a, b))) in found for a, b in bucket) / len(bucket)
        rows.append(
            {
                "jaccard": f"[{lo:.1f}, {min(hi, 1.0):.1f})",
                "pairs": len(bucket),
                "midtrain_recall": mid_recall,
                "datasketch_recall": ds_recall,
            }
        )
    mid_precision = len(removed & in_pair) / max(1, len(removed))
    ds_precision = len(found & planted) / max(1, len(found))
    hi_pairs = [(a, b) for a, b, j in pairs if j >= 0.8]
    result = {
        "docs": len(docs),
        "pairs": len(pairs),
        "buckets": rows,
        "midtrain_recall_j>=0.8": sum((a in removed) != (b in removed) for a, b in hi_pairs) / len(hi_pairs),
        "datasketch_recall_j>=0.8": sum(tuple(sorted(p)) in found for p in hi_pairs) / len(hi_pairs),
        "midtrain_precision": mid_precision,
        "datasketch_precision": ds_precision,
        "midtrain_s": t_mid,
        "datasketch_s": t_ds,
        "note": "midtrain time is the whole run_curation (read, signatures, buckets, cluster, write)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
