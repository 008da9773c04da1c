"""Memory and CPU of sorting one MinHash bucket file at the end of a filter-stage task, now vs whole.

``DedupSignature`` writes each bucket's records unsorted while documents flow and sorts each file
at the end of the task, as datatrove's readers need. **whole** loads the file and sorts it in
memory (what midtrain did before ``curation/dedup/sorted_runs.py``: 68 bytes per document of the
task at datatrove's 14 x 8 default); **runs** is ``sorted_runs.sort_file`` as ``DedupSignature``
calls it (sorted runs of ``DedupSignature.sort_chunk_records`` records merged range by range). Records are shaped as MinHash values are (the least of 20-2,000
n-gram hashes below 2**61, so most lie near 0, plus 5 % exact copies). Each side runs in a fresh
process on its own copy: peak RSS over the process's start (VmHWM), CPU seconds, and whether the
two sorted files are byte-identical.

    nice -n 10 .venv/bin/python bench/bench_curation_bucket_sort.py --records 500000 2000000 8000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root

CHILD = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig
from curation.dedup import sorted_runs
from curation.dedup.signature import _record_dtype

def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
mode, path = sys.argv[1], Path(sys.argv[2])
dtype = _record_dtype(MinhashConfig())
start_mib, cpu = hwm(), time.process_time()
if mode == "whole":
    records = np.fromfile(path, dtype=dtype)
    records.sort(order=dtype.names)
    records.tofile(path)
else:
    from curation.dedup.signature import DedupSignature
    sorted_runs.sort_file(path, dtype, DedupSignature.sort_chunk_records)
print(json.dumps({"cpu_s": time.process_time() - cpu, "peak_over_start_mib": hwm() - start_mib}))
"""


def make_bucket(path: Path, n: int, seed: int = 0) -> None:
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    from curation.dedup.signature import _record_dtype

    dtype = _record_dtype(MinhashConfig())
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for start in range(0, n, 1 << 20):
            m = min(1 << 20, n - start)
            rec = np.empty(m, dtype)
            ngrams = rng.integers(20, 2000, m)
            for i in range(8):  # the least of `ngrams` uniform draws below 2**61
                rec[f"h{i}"] = (rng.beta(1, ngrams) * 2.0**61).astype(np.uint64)
            copies = rng.random(m) < 0.05
            src = rng.integers(0, m, int(copies.sum()))
            for i in range(8):
                rec[f"h{i}"][copies] = rec[f"h{i}"][src]
            rec["doc"] = np.arange(start, start + m)
            rec.tofile(f)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, nargs="+", default=[500_000, 2_000_000, 8_000_000])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_bucket_sort.json")
    args = parser.parse_args()
    rows = []
    for n in args.records:
        work = Path(tempfile.mkdtemp(prefix="bench_bucket_sort_"))
        try:
            make_bucket(work / "raw.sig", n)
            row = {"records": n, "file_mib": (work / "raw.sig").stat().st_size / 2**20}
            for mode in ("whole", "runs"):
                shutil.copy(work / "raw.sig", work / f"{mode}.sig")
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, mode, str(work / f"{mode}.sig")],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                    env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                )
                row[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            row["identical"] = (work / "whole.sig").read_bytes() == (work / "runs.sig").read_bytes()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows.append(row)
        print(
            f"{n:>10,} records ({row['file_mib']:6.0f} MiB): peak over start whole {row['whole']['peak_over_start_mib']:7.0f} MiB"
            f" vs runs {row['runs']['peak_over_start_mib']:5.0f} MiB; CPU {row['whole']['cpu_s']:5.1f} vs"
            f" {row['runs']['cpu_s']:5.1f} s; identical: {row['identical']}",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
