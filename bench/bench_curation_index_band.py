"""Memory and CPU of one band of the dedup index (``DedupIndexWriter._write_band``), now vs a baseline.

The ``dedup_index`` stage writes each MinHash band's kept signatures, sorted and unique, one band
per task. This builds two sorted signature files (two filter-stage tasks) of ``--records`` in all,
with hashes distributed as MinHash values are (the least of 20-2,000 n-gram hashes below 2**61,
so most lie near 0) and 5 % repeated first hashes, keeps 90 % of the documents, and runs the band
step of this tree and of ``--baseline`` (its ``curation/dedup/index.py`` read from git) each in a
fresh process: peak RSS over the process's start (VmHWM), CPU seconds, the ratio, and whether the
two index files are byte-identical.

    nice -n 10 .venv/bin/python bench/bench_curation_index_band.py --records 1000000 4000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root
BASELINE = "080f954"  # before the band step's two fixes (9eba79a, fd03bb4)

CHILD = r"""
import importlib.util, json, sys, time
from pathlib import Path
import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig
import curation.dedup.signature  # imported by the band step: loaded before the measured window
module, work, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
spec = importlib.util.spec_from_file_location("band_index", module)
index = importlib.util.module_from_spec(spec)
spec.loader.exec_module(index)
kept = [np.load(work / f"kept{r}.npy") for r in range(2)]
step = index.DedupIndexWriter(str(work), str(work / "out"), minhash=MinhashConfig(), settings={},
                              work_hash="w", world_size_stage1=2)
def hwm():
    return next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM")) / 1024
start, t = hwm(), time.process_time()
step._write_band(0, kept, out)
print(json.dumps({"cpu_s": time.process_time() - t, "peak_over_start_mib": hwm() - start}))
"""


def make_band(work: Path, records: int) -> None:
    import numpy as np
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    from curation.dedup.signature import _record_dtype

    dtype, rng, n = _record_dtype(MinhashConfig()), np.random.default_rng(0), records // 2
    folder = work / "sigs" / "bucket_000"
    folder.mkdir(parents=True, exist_ok=True)
    for r in range(2):
        recs = np.zeros(n, dtype)
        # a MinHash value is the least of a document's n-gram hashes (uniform below the Mersenne
        # prime 2**61 - 1): for k n-grams it is (2**61 - 1) * Beta(1, k), mostly near 0
        ngrams = rng.integers(20, 2000, n)
        for name in dtype.names[:-1]:
            recs[name] = (rng.beta(1, ngrams) * (2**61 - 1)).astype(np.uint64)
        recs["h0"][: n // 20] = recs["h0"][n // 20 : n // 10]  # documents sharing a first hash
        recs["doc"] = rng.permutation(n)
        recs.sort(order=dtype.names)
        recs.tofile(folder / f"{r:05d}.minhash.sig")
        np.save(work / f"kept{r}.npy", rng.random(n) < 0.9)


def run(module: Path, work: Path, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(module), str(work), str(out)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument(
        "--baseline", default=BASELINE, help="commit whose curation/dedup/index.py is the baseline"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_index_band.json")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_band_"))
    baseline = tmp / "index_baseline.py"
    try:
        source = subprocess.run(
            ["git", "show", f"{args.baseline}:curation/dedup/index.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except subprocess.CalledProcessError as error:
        raise SystemExit(
            f"--baseline {args.baseline}: {error.stderr.strip()} (give a commit of this repo)"
        ) from error
    baseline.write_text(source)
    rows = []
    print(
        "| records a band | baseline peak MiB | now peak MiB | ratio | baseline CPU s | now CPU s | same bytes |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for records in args.records:
        work = tmp / f"band{records}"
        make_band(work, records)
        old = run(baseline, work, work / "baseline")
        new = run(ROOT / "curation" / "dedup" / "index.py", work, work / "now")
        same = (work / "baseline" / "w.minhash.index").read_bytes() == (
            work / "now" / "w.minhash.index"
        ).read_bytes()
        row = {"records": records, "baseline": old, "now": new, "identical": same}
        rows.append(row)
        print(f"| {records:,} | {old['peak_over_start_mib']:.0f} | {new['peak_over_start_mib']:.0f} | "
              f"{old['peak_over_start_mib'] / max(new['peak_over_start_mib'], 1e-9):.1f}x | "
              f"{old['cpu_s']:.1f} | {new['cpu_s']:.1f} | {same} |", flush=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"baseline": args.baseline, "rows": rows}, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
