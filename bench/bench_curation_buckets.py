"""MinHash stage 2 (signatures -> duplicate pairs): datatrove's heap merge vs midtrain's numpy merge, one run.

One band of ``--docs`` documents over ``--files`` sorted signature files (8 x 64-bit hashes, as
``DedupSignature`` writes them), ``--dup-rate`` of them copies of another document's signature.
Each step runs in its own subprocess (CPU seconds and peak RSS per step); the ``.dups`` files are
compared byte for byte.

    nice -n 10 .venv/bin/python bench/bench_curation_buckets.py --docs 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root

CHILD = r"""
import json, resource, sys, time
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
from curation.dedup.buckets import FastMinhashBuckets
args = json.loads(sys.argv[1])
cls = FastMinhashBuckets if args["fast"] else MinhashDedupBuckets
cfg = MinhashConfig(n_grams=5, num_buckets=1, hashes_per_bucket=8)
step = cls(args["sigs"], args["out"], config=cfg, only_dedup_in_index=False)
cpu = time.process_time()
result = step.run(rank=0, world_size=1)
if result is not None:
    list(result)
print(json.dumps({"cpu_s": time.process_time() - cpu,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_band(folder: Path, docs: int, files: int, dup_rate: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    dtype = np.dtype([(f"h{i}", "<u8") for i in range(8)] + [("doc", "<u4")])
    per_file = docs // files
    (folder / "bucket_000").mkdir(parents=True, exist_ok=True)
    # MinHash values are minima: skewed towards 0, as real bands are
    originals = (rng.random((per_file * files, 8)) ** 3 * (1 << 61)).astype(np.uint64)
    for f in range(files):
        rows = (rng.random((per_file, 8)) ** 3 * (1 << 61)).astype(np.uint64)
        copied = rng.random(per_file) < dup_rate
        rows[copied] = originals[rng.integers(0, originals.shape[0], copied.sum())]
        recs = np.empty(per_file, dtype)
        for i in range(8):
            recs[f"h{i}"] = rows[:, i]
        recs["doc"] = np.arange(per_file)
        recs.sort(order=dtype.names)
        recs.tofile(folder / "bucket_000" / f"{f:05d}.minhash.sig")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--dup-rate", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_buckets.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_buckets_"))
    write_band(work / "sigs", args.docs, args.files, args.dup_rate, seed=0)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = {}
    for name, fast in (("datatrove", False), ("midtrain", True)):
        spec = {"fast": fast, "sigs": str(work / "sigs"), "out": str(work / name)}
        load = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(spec)],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
        runs[name] = {**json.loads(done.stdout.strip().splitlines()[-1]), "load_avg_1min": load}
        dups = (work / name / "00000_00.dups").read_bytes()
        runs[name]["pairs"] = len(dups) // 16
        runs[name]["_bytes"] = dups
        print(
            f"{name:>10}: cpu {runs[name]['cpu_s']:7.2f} s  peak {runs[name]['peak_mib']:6.0f} MiB  "
            f"pairs {runs[name]['pairs']:,}  (load {load:.1f})",
            flush=True,
        )
    identical = runs["datatrove"].pop("_bytes") == runs["midtrain"].pop("_bytes")
    ratio = runs["datatrove"]["cpu_s"] / runs["midtrain"]["cpu_s"]
    print(f"speed-up {ratio:.1f}x; .dups identical: {identical}")
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "docs": args.docs,
        "files": args.files,
        "dup_rate": args.dup_rate,
        "runs": runs,
        "speedup": ratio,
        "identical": identical,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(work)  # a 1M-record band is ~200 MB of files per side
    if not identical:
        raise SystemExit("the .dups files differ")


if __name__ == "__main__":
    main()
