"""Peak memory per worker at two corpus sizes: does it stay flat as the corpus grows?

Runs ``run_curation`` (standard pipeline: four heuristic filters, exact + MinHash dedup) with
``tasks=2, workers=2`` on corpora of two sizes, each in a fresh subprocess, and samples
``/proc/<pid>/status`` (VmHWM, Linux) of the driver and of every worker process it spawns.
Streaming stages (filter, buckets, write) run in the workers; the single-task cluster stage
runs in the driver and holds one 19-byte record per document (plus the duplicate pairs).

    nice -n 10 python bench/bench_curation_memory.py --sizes 10000 40000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/NAME.py` from the root
from bench.proc_stats import descendants, peak_kib  # noqa: E402

CHILD = """
import json, sys
from curation import CurationConfig, run_curation
cfg = CurationConfig.model_validate({"sources": [{"name": "web", "path": sys.argv[1], "kind": "web"}],
    "heldout": {"fraction": 0.0}, "executor": {"tasks": 2, "workers": 2}})
run_curation(cfg, sys.argv[2])
"""


def measure(corpus: Path, out: Path) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(corpus), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = {"driver_mib": 0.0, "worker_mib": 0.0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["driver_mib"] = max(peak["driver_mib"], peak_kib(proc.pid) / 1024)
            for child in descendants(proc.pid):
                peak["worker_mib"] = max(peak["worker_mib"], peak_kib(child) / 1024)
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    thread.start()
    rc = proc.wait()
    done.set()
    thread.join()
    assert rc == 0, f"curation run failed (exit {rc})"
    return {**peak, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_000])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "curation_memory.json"
    )
    args = parser.parse_args()
    from bench.curation_corpus import build_corpus

    work = Path(tempfile.mkdtemp(prefix="bench_mem_"))
    rows = []
    for n in args.sizes:
        corpus = build_corpus(work / f"c{n}" / "corpus.jsonl", n)
        rows.append({"docs": len(corpus.read_text().splitlines()), **measure(corpus, work / f"out{n}")})
        print(rows[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
