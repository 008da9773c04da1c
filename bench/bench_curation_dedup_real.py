"""Dedup on near-duplicates made from real text: MinHash recall/precision per Jaccard bucket, and which copy is kept.

Base documents are real: WikiText-2 paragraphs, Shakespeare speeches, GSM8K question+answer
(``../shared/data``). A noisy copy of a base is made by one kind of edit repeated until the
Jaccard similarity of the two 5-gram shingle sets (datatrove's MinHash shingles, after its text
normalisation, so exactly what the buckets see) falls to a target:

- ``typo``: a letter swapped, dropped, doubled or replaced in a word of 3+ letters;
- ``junk``: a junk token inserted (``x7Qz``, ``&nbsp;``, ``####``, a URL, a U+FFFD);
- ``drop``: a word deleted;
- ``boilerplate``: a web boilerplate line added at the start or end ("Click here to subscribe...");
- ``mixed``: each edit drawn from the four above.

All bases and copies go, shuffled, into ONE source (so source rank cannot decide) and through
``run_curation`` (filters off, MinHash 14x8, 5-grams). Recall per bucket = share of planted pairs
where exactly one copy survives; precision = share of removed documents whose true Jaccard with
their cluster's keeper is >= 0.5 (or >= 0.7, about the 14x8 curve's threshold). "Clean kept" compares the keeper rule (quality, then
``cleanliness``, then position) with the old rule (position only), on the same clusters.

    nice -n 10 python bench/bench_curation_dedup_real.py --pairs-per-kind 80
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KINDS = ("typo", "junk", "drop", "boilerplate", "mixed")
TARGETS = (0.55, 0.65, 0.72, 0.78, 0.82, 0.86, 0.9, 0.94)
BUCKETS = ((0.5, 0.6), (0.6, 0.7), (0.7, 0.75), (0.75, 0.8), (0.8, 0.85), (0.85, 0.9), (0.9, 1.01))
JUNK = ("x7Qz", "&nbsp;", "####", "http://bit.ly/3xZq", "\ufffd\ufffd", "a1b2c3", "<br>", "@@@@")
BOILERPLATE = (
    "Click here to subscribe to our newsletter",
    "Share this: Facebook Twitter Email",
    "All rights reserved.",
    "Read more",
    "Advertisement",
    "Privacy Policy | Terms of Use | Cookies",
    "Skip to content",
    "Leave a comment",
)


def load_bases(num_per_set: int, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    wiki = [
        line.strip()
        for line in (DATA / "wikitext2_valid.txt").read_text().splitlines()
        if line.strip() and not line.strip().startswith("=") and len(line.split()) >= 60
    ]
    paragraphs = (DATA / "tinyshakespeare.txt").read_text().split("\n\n")
    shakespeare = [p.strip() for p in paragraphs if len(p.split()) >= 50]
    with open(DATA / "gsm8k_train.jsonl") as f:
        gsm = [f"Question: {r['question']}\nAnswer: {r['answer']}" for r in map(json.loads, f)]
    bases = {}
    for name, texts in (("wiki", wiki), ("shakespeare", shakespeare), ("gsm8k", gsm)):
        for i, text in enumerate(rng.sample(texts, min(num_per_set, len(texts)))):
            bases[f"{name}-{i}"] = text
    return bases


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == 1:
        return word[:i] + word[i + 1 :]
    if op == 2:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i + 1 :]


def edit(rng: random.Random, lines: list[list[str]], kind: str) -> None:
    """Apply one edit of ``kind`` in place to a document held as lines of words."""
    if kind == "mixed":
        kind = rng.choice(KINDS[:-1])
    if kind == "boilerplate":
        line = rng.choice(BOILERPLATE).split()
        lines.insert(0 if rng.random() < 0.5 else len(lines), line)
        return
    li = rng.choice([i for i, line in enumerate(lines) if line])
    line = lines[li]
    if kind == "junk":
        line.insert(rng.randrange(len(line) + 1), rng.choice(JUNK))
    elif kind == "drop" and len(line) > 1:
        del line[rng.randrange(len(line))]
    elif kind == "typo":
        candidates = [i for i, w in enumerate(line) if w.isalpha() and len(w) >= 3]
        if candidates:
            wi = rng.choice(candidates)
            line[wi] = _typo(rng, line[wi])


def make_pairs(bases: dict[str, str], pairs_per_kind: int, seed: int = 0):
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    from curation.filters import FastWordTokenizer

    signer = MinhashDedupSignature("/tmp/unused", config=MinhashConfig(), language=FastWordTokenizer())

    def shingles(text: str) -> set:
        return set(signer.get_shingles(text).ravel().tolist())

    rng = random.Random(seed)
    originals = rng.sample(sorted(bases), pairs_per_kind * len(KINDS))
    docs, pairs = dict(bases), []
    for k, orig in enumerate(originals):
        kind, target = KINDS[k % len(KINDS)], TARGETS[(k // len(KINDS)) % len(TARGETS)]
        lines = [line.split(" ") for line in bases[orig].split("\n")]
        ref = shingles(bases[orig])
        for _ in range(2000):
            edit(rng, lines, kind)
            text = "\n".join(" ".join(line) for line in lines)
            other = shingles(text)
            jac = len(ref & other) / max(1, len(ref | other))
            if jac <= target + 0.02:
                break
        docs[f"copy{k}-{orig}"] = text
        pairs.append((orig, f"copy{k}-{orig}", kind, jac))
    return docs, pairs, shingles


def run(docs: dict[str, str], work: Path) -> tuple[list[str], np.ndarray, set[str]]:
    """Run the pipeline; return doc ids in shard order, their cluster ids, and the removed ids."""
    from curation import CurationConfig, run_curation

    corpus = work / "corpus.jsonl"
    order = sorted(docs)
    random.Random(1).shuffle(order)
    with open(corpus, "w") as f:
        f.writelines(json.dumps({"id": i, "text": docs[i]}) + "\n" for i in order)
    cfg = CurationConfig.model_validate(
        {
            "sources": [{"name": "s", "path": str(corpus)}],
            "filters": {"enabled": []},
            "heldout": {"fraction": 0.0},
            "executor": {"tasks": 1, "workers": 1},
        }
    )
    result = run_curation(cfg, work / "out")
    with gzip.open(result.work_dir / "filtered" / "00000.jsonl.gz", "rt") as fh:
        ids = [json.loads(x)["id"] for x in fh]
    clusters = np.load(result.work_dir / "dedup" / "clusters" / "00000.npz")["cluster"]
    kept = set()
    for p in (work / "out" / "curated").rglob("*.jsonl.gz"):
        with gzip.open(p, "rt") as fh:
            kept |= {json.loads(x)["id"] for x in fh}
    return ids, clusters, set(docs) - kept


def main() -> None:
    from curation.dedup import candidate_probability

    parser = argparse.ArgumentParser()
    parser.add_argument("--bases-per-set", type=int, default=1000)
    parser.add_argument("--pairs-per-kind", type=int, default=200)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "curation_dedup_real.json"
    )
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA}: real data folder absent")
    docs, pairs, shingles = make_pairs(load_bases(args.bases_per_set), args.pairs_per_kind)
    work = Path(tempfile.mkdtemp(prefix="bench_dedup_real_"))
    ids, clusters, removed = run(docs, work)
    position = {d: i for i, d in enumerate(ids)}
    members: dict[int, list[str]] = {}
    for d, c in zip(ids, clusters, strict=True):
        if c >= 0:
            members.setdefault(int(c), []).append(d)
    cluster_of = {d: int(c) for d, c in zip(ids, clusters, strict=True)}

    def old_keeper(doc_id: str) -> str:
        return min(members[cluster_of[doc_id]], key=position.__getitem__)

    caught = [(a, b, k, j) for a, b, k, j in pairs if (a in removed) != (b in removed)]
    print(f"{len(docs)} documents, {len(pairs)} planted pairs, {len(removed)} removed\n")
    print("MinHash 14x8 on real-text near-duplicates (all kinds)")
    print(f"{'Jaccard':>12} {'pairs':>6} {'recall':>7} {'P(s) curve':>10}")
    rows = []
    for lo, hi in BUCKETS:
        bucket = [(a, b, j) for a, b, _, j in pairs if lo <= j < hi]
        if not bucket:
            continue
        recall = sum((a in removed) != (b in removed) for a, b, _ in bucket) / len(bucket)
        curve = float(np.mean([candidate_probability(j, 14, 8) for *_, j in bucket]))
        label = f"[{lo:.2f}, {min(hi, 1.0):.2f})"
        rows.append({"jaccard": label, "pairs": len(bucket), "recall": recall, "lsh_curve": curve})
        print(f"{label:>12} {len(bucket):>6} {recall:>7.3f} {curve:>10.3f}")
    sims = []
    for d in removed:
        keeper = next(m for m in members[cluster_of[d]] if m not in removed)
        a, b = shingles(docs[d]), shingles(docs[keeper])
        sims.append(len(a & b) / max(1, len(a | b)))
    precision = {f">={t}": float(np.mean(np.array(sims) >= t)) if sims else 1.0 for t in (0.5, 0.7)}
    planted_ids = {x for a, b, *_ in pairs for x in (a, b)}
    print(
        f"precision (removed docs with Jaccard >= 0.5 / >= 0.7 to their keeper): "
        f"{precision['>=0.5']:.3f} / {precision['>=0.7']:.3f} "
        f"({len(removed - planted_ids)} removals outside planted pairs)\n"
    )
    print("Clean original kept, among caught pairs (one source: rank cannot decide)")
    print(f"{'kind':>12} {'caught':>6} {'position rule':>14} {'keeper rule':>12}")
    keep_rows = []
    for kind in (*KINDS, "all"):
        sel = [(a, b) for a, b, k, _ in caught if kind in (k, "all")]
        new = sum(a not in removed for a, _ in sel)
        old = sum(old_keeper(a) == a for a, _ in sel)
        keep_rows.append({"kind": kind, "caught": len(sel), "position_rule": old, "keeper_rule": new})
        print(f"{kind:>12} {len(sel):>6} {old:>8}/{len(sel):<5} {new:>6}/{len(sel):<5}")
    result = {
        "docs": len(docs),
        "pairs": len(pairs),
        "recall_by_jaccard": rows,
        "precision": precision,
        "removed_outside_planted": len(removed - planted_ids),
        "clean_kept": keep_rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
