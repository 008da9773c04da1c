"""The dedup cluster stage at scale, simulated: time and peak memory at 10M (and 100M) documents.

Generates what the filter and buckets stages would leave for ``N`` documents: per-task document
records (``docs/<rank>.npy``, ``DOC_DTYPE``) and datatrove ``.dups`` pair files for 14 buckets,
with a planted duplicate rate ``r``: ``r * N`` documents are copies of another one (several
copies may share an original, so clusters grow past 2); a quarter are exact copies (same text
hash, and a pair in every bucket), the rest near copies found by each bucket with probability
0.8 (a pair at Jaccard ~0.85 under 14 x 8 LSH). Then runs ``PriorityCluster`` alone in a fresh
process and reads its time and peak RSS (``ru_maxrss``), for

- **now**: this checkout (union-find streaming one ``.dups`` file at a time, ``components.py``);
- **today**: ``--baseline`` (all pairs concatenated in int64 + scipy connected components),
  extracted with ``git archive``; its outputs are compared with now's, file by file.

    nice -n 10 .venv/bin/python bench/bench_curation_cluster.py --docs 10000000 --dup-rates 0.05 0.3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root
BASELINE = "a243e88"
NUM_BUCKETS = 14
DOCS_PER_TASK = 1_000_000

CHILD = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
from curation.dedup.cluster import PriorityCluster
step = PriorityCluster(args["work"], ["s0", "s1", "s2", "s3"], exact=True, heldout_fraction=0.01,
                       heldout_max_docs=1000, world_size_stage1=args["ranks"])
start = time.perf_counter()
list(step.run())
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_rss_bytes": peak}))
"""


def generate(work: Path, num_docs: int, dup_rate: float, seed: int = 0) -> dict:
    from curation.dedup.signature import DOC_DTYPE

    rng = np.random.default_rng(seed)
    ranks = max(1, -(-num_docs // DOCS_PER_TASK))
    (work / "docs").mkdir(parents=True, exist_ok=True)
    (work / "buckets").mkdir(parents=True, exist_ok=True)
    exact = rng.integers(0, 2**63, num_docs, dtype=np.uint64)
    num_dups = int(num_docs * dup_rate)
    perm = rng.permutation(num_docs).astype(np.int64)
    dups = perm[:num_dups]
    originals = perm[num_dups:][rng.integers(0, num_docs - num_dups, num_dups)]
    del perm
    num_exact = num_dups // 4
    exact[dups[:num_exact]] = exact[originals[:num_exact]]
    for rank in range(ranks):
        lo, hi = rank * DOCS_PER_TASK, min(num_docs, (rank + 1) * DOCS_PER_TASK)
        docs = np.zeros(hi - lo, DOC_DTYPE)
        docs["priority"] = rng.integers(0, 4, hi - lo)
        docs["has_sig"] = 1
        docs["exact"] = exact[lo:hi]
        docs["heldout_key"] = rng.integers(0, 2**63, hi - lo, dtype=np.uint64)
        docs["quality"] = rng.integers(0, 200, hi - lo) / 200  # ties at the 0.01 rounding too
        docs["clean"] = rng.integers(0, 50, hi - lo)
        docs["num_words"] = rng.integers(50, 100, hi - lo)
        docs["top_percentile"] = np.nan
        np.save(work / "docs" / f"{rank:05d}.npy", docs)
    del exact
    is_exact = np.zeros(num_dups, bool)
    is_exact[:num_exact] = True
    a_rank, a_doc = originals // DOCS_PER_TASK, originals % DOCS_PER_TASK
    b_rank, b_doc = dups // DOCS_PER_TASK, dups % DOCS_PER_TASK
    num_pairs = 0
    for bucket in range(NUM_BUCKETS):
        found = is_exact | (rng.random(num_dups) < 0.8)
        rows = np.stack([a_rank[found], a_doc[found], b_rank[found], b_doc[found]], axis=1).astype("<u4")
        rows.tofile(work / "buckets" / f"{bucket:05d}_00.dups")
        num_pairs += len(rows)
    return {"ranks": ranks, "num_dups": num_dups, "num_pair_records": num_pairs}


def baseline_tree(commit: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", commit, "curation"], cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def measure(tree: Path, work: Path, ranks: int) -> dict:
    shutil.rmtree(work / "clusters", ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"work": str(work), "ranks": ranks})],
        env=env,
        cwd=str(tree),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return {
            "error": proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same_outputs(work: Path, saved: Path, ranks: int) -> bool:
    for rank in range(ranks):
        a, b = np.load(work / "clusters" / f"{rank:05d}.npz"), np.load(saved / f"{rank:05d}.npz")
        if set(a.files) != set(b.files) or any(not np.array_equal(a[k], b[k]) for k in a.files):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--dup-rates", type=float, nargs="+", default=[0.05, 0.3])
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--skip-baseline-above", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_cluster.json")
    args = parser.parse_args()
    work_root = args.work or Path(tempfile.mkdtemp(prefix="bench_cluster_"))
    old_tree = baseline_tree(args.baseline, work_root / "baseline")
    rows = []
    for num_docs in args.docs:
        for rate in args.dup_rates:
            work = work_root / f"n{num_docs}_r{rate}"
            shutil.rmtree(work, ignore_errors=True)
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            info = generate(work, num_docs, rate)
            row = {"docs": num_docs, "dup_rate": rate, **info, "generate_s": time.perf_counter() - t0}
            row["now"] = measure(ROOT, work, info["ranks"])
            if num_docs <= args.skip_baseline_above:
                saved = work_root / "clusters_now"
                shutil.rmtree(saved, ignore_errors=True)
                shutil.move(work / "clusters", saved)
                row["today"] = measure(old_tree, work, info["ranks"])
                if "error" not in row["today"]:
                    row["identical_outputs"] = same_outputs(work, saved, info["ranks"])
                shutil.rmtree(saved, ignore_errors=True)
            row["load_avg_1min"] = load
            rows.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(
        f"\n{'docs':>12} {'dup rate':>8} {'pairs':>11} {'now s':>7} {'now peak':>9} {'today s':>8} {'today peak':>10}"
    )
    for r in rows:
        now, today = r["now"], r.get("today", {})
        gib = 2**30
        print(
            f"{r['docs']:>12,} {r['dup_rate']:>8.2f} {r['num_pair_records']:>11,} "
            f"{now.get('seconds', float('nan')):>7.1f} {now.get('peak_rss_bytes', 0) / gib:>7.2f}Gi "
            f"{today.get('seconds', float('nan')):>8.1f} {today.get('peak_rss_bytes', 0) / gib:>8.2f}Gi"
        )


if __name__ == "__main__":
    main()
