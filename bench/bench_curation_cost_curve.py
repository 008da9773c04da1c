"""The curation cost curve: docs/s, MB/s and peak RSS per worker as the real-text corpus grows.

Corpora from ``bench/curation_real_corpus.py`` (the real sets of ``../shared/data`` grown with
fresh variants and 10 % planted duplicates) at each ``--mb`` size (5 MB is ~10k documents, 50 MB
~100k, 150 MB ~300k, 500 MB ~1M); the standard pipeline of ``bench_curation_throughput.py`` with ``tasks: 2, workers: 2``,
each run in a fresh process. CPU seconds are the run's own plus its workers' (``/proc/<pid>/stat``
sampled every 50 ms), so the rates are per CPU-second (after one small unmeasured run that loads
or compiles the numba kernels); peak RSS (VmHWM) is sampled from ``/proc`` for the driver and every
worker. Writes ``bench/results/curation_cost_curve.{json,png}``.

    nice -n 10 .venv/bin/python bench/bench_curation_cost_curve.py --mb 5 50 500
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root

CHILD = r"""
import json, os, sys, warnings
from curation import CurationConfig, run_curation
config = json.loads(sys.argv[1])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    run_curation(CurationConfig.model_validate(config), sys.argv[2])
"""


def _count(sources: dict[str, Path]) -> tuple[int, float]:
    """Documents and MB of text in the sources, read line by line (1M documents are ~0.5 GB)."""
    n_docs, n_bytes = 0, 0
    for path in sources.values():
        with open(path, encoding="utf-8") as f:
            for line in f:
                n_docs += 1
                n_bytes += len(json.loads(line)["text"].encode())
    return n_docs, n_bytes / 1e6


def machine_speed(data: Path) -> float:
    """MB/s per CPU-second of the MinHash kernel on WikiText, in a fresh process, before and after
    each size: on a shared box a CPU-second is not a fixed amount of work (under heavy load,
    cache and core contention made the same kernel 8x slower per CPU-second), so rows measured
    under different loads are compared through this figure, not through raw CPU seconds."""
    code = (
        "import sys, time; from pathlib import Path; from datatrove.pipeline.dedup.minhash import MinhashConfig;"
        "from curation.dedup.fast_minhash import FastMinhash; from curation.filters import make_word_tokenizer;"
        "from curation.real_sets import wikitext_articles;"
        "docs = wikitext_articles(Path(sys.argv[1]) / 'wikitext2_valid.txt');"
        "fm = FastMinhash(MinhashConfig(), make_word_tokenizer('fast', 'en'), '.'); fm.signature(docs[0]);"
        "t = time.process_time(); [fm.signature(d) for d in docs];"
        "print(sum(len(d.encode()) for d in docs) / 1e6 / (time.process_time() - t))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(data)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(done.stdout.strip().splitlines()[-1])


def measure(config: dict, out: Path) -> dict:
    from bench.proc_stats import cpu_s, descendants, peak_kib

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(config), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "MPLBACKEND": "Agg"},
    )
    peak = {"driver_mib": 0.0, "worker_mib": 0.0}
    cpu: dict[int, float] = {}  # last CPU seconds seen per process (driver and every worker)
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["driver_mib"] = max(peak["driver_mib"], peak_kib(proc.pid) / 1024)
            cpu[proc.pid] = max(cpu.get(proc.pid, 0.0), cpu_s(proc.pid))
            for child in descendants(proc.pid):
                peak["worker_mib"] = max(peak["worker_mib"], peak_kib(child) / 1024)
                cpu[child] = max(cpu.get(child, 0.0), cpu_s(child))
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    thread.start()
    proc.wait()
    done.set()
    thread.join()
    assert proc.returncode == 0, f"curation run failed (exit {proc.returncode})"
    # sampled every 50 ms: a process's last 50 ms may be missed, the driver's exit is not counted
    return {**peak, "cpu_s": sum(cpu.values()), "wall_s": time.perf_counter() - start}


# the palette of the curation report's plots (curation/funnel.py: kept, dropped, not run, alarm)
BLUE, ORANGE, GREY, RED = "#4c72b0", "#dd8452", "#8c8c8c", "#c44e52"


def fit(rows: list[dict]) -> tuple[float, float]:
    """Least-squares ``CPU s = fixed + per_doc * docs``: linear cost is a straight per-document part."""
    docs, cpu = [r["docs"] for r in rows], [r["cpu_s"] for r in rows]
    n, sx, sy = len(docs), sum(docs), sum(cpu)
    sxx, sxy = sum(d * d for d in docs), sum(d * c for d, c in zip(docs, cpu, strict=True))
    per_doc = (n * sxy - sx * sy) / (n * sxx - sx * sx) if n > 1 else sy / sx
    return (sy - per_doc * sx) / n, per_doc


def plot(rows: list[dict], path: Path, compare: list[dict] | None = None, compare_label: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = [r["docs"] for r in rows]
    fig, (cost, rate, mem) = plt.subplots(1, 3, figsize=(15, 4.4))
    # left: total CPU seconds against documents, log-log, with the fixed + per-document fit
    cost.plot(docs, [r["cpu_s"] for r in rows], "o-", color=BLUE, label="measured CPU s (driver + workers)")
    fixed, per_doc = fit(rows)
    grid = [docs[0] * (docs[-1] / docs[0]) ** (i / 20) for i in range(21)]
    cost.plot(grid, [fixed + per_doc * d for d in grid], ":", color=GREY,
              label=f"fit: {fixed:.0f} s fixed + {per_doc * 1e3:.2f} ms/doc")  # fmt: skip
    cost.set_xscale("log")
    cost.set_yscale("log")
    cost.set_xlabel("documents")
    cost.set_ylabel("CPU seconds (all processes)")
    cost.set_title("total cost")
    cost.legend(fontsize=8)
    # middle: rate per CPU-second; MB/s is the same curve times the mean document size, so it is
    # written at each point rather than drawn as a second, overlapping line
    rate.plot(docs, [r["docs_per_cpu_s"] for r in rows], "o-", color=BLUE, label="docs/s per core")
    for r in rows:
        rate.annotate(f"{r['docs_per_cpu_s']:.0f} docs/s\n{r['mb_per_cpu_s']:.2f} MB/s", (r["docs"], r["docs_per_cpu_s"]),
                      textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8, color=BLUE)  # fmt: skip
    rate.set_xscale("log")
    rate.set_xlim(docs[0] / 2.5, docs[-1] * 2.5)
    rate.set_xlabel("documents")
    rate.set_ylabel("docs/s per core (per CPU-second)")
    rate.set_ylim(0, 1.35 * max(r["docs_per_cpu_s"] for r in rows))
    rate.legend(loc="lower right", fontsize=8)
    rate.set_title("rate per core (docs/s; MB of text/s written)")
    # right: peak RSS per worker and of the driver (and an earlier run's workers, to compare)
    mem.plot(docs, [r["worker_mib"] for r in rows], "s-", color=RED, label="peak RSS per worker")
    mem.plot(docs, [r["driver_mib"] for r in rows], "^:", color=ORANGE, label="peak RSS, driver")
    top = max(max(r["worker_mib"], r["driver_mib"]) for r in rows)
    if compare:
        mem.plot([r["docs"] for r in compare], [r["worker_mib"] for r in compare], "s--", color=GREY,
                 mfc="none", label=f"peak RSS per worker, {compare_label}")  # fmt: skip
        top = max(top, max(r["worker_mib"] for r in compare))
    mem.set_xscale("log")
    mem.set_xlabel("documents")
    mem.set_ylabel("peak RSS (MiB)")
    mem.set_ylim(0, 1.2 * top)
    mem.legend(loc="lower right", fontsize=8)
    mem.set_title("memory (VmHWM)")
    fig.suptitle("midtrain curation cost curve (standard pipeline, tasks 2, workers 2, real text)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, nargs="+", default=[5.0, 50.0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_cost_curve.json")
    parser.add_argument(
        "--add",
        type=Path,
        nargs="*",
        default=[],
        help="rows measured by earlier runs (their JSON), plotted with these",
    )
    parser.add_argument(
        "--compare", type=Path, help="an earlier run's JSON: its per-worker peaks, drawn grey"
    )
    parser.add_argument("--compare-label", default="earlier run", help="legend text of --compare")
    parser.add_argument("--plot-only", action="store_true", help="redraw the PNG of --out's JSON and exit")
    args = parser.parse_args()
    compare = json.loads(args.compare.read_text()) if args.compare else None
    if args.plot_only:
        plot(json.loads(args.out.read_text()), args.out.with_suffix(".png"), compare, args.compare_label)
        return
    earlier = [row for path in args.add for row in json.loads(path.read_text())]
    from bench.curation_real_corpus import (
        build_sources,
        curation_config,
        require_real_sets,
        subset_sources,
        write_gsm8k_eval,
    )

    require_real_sets(args.data)

    work = Path(tempfile.mkdtemp(prefix="bench_cost_"))
    eval_gsm8k = write_gsm8k_eval(args.data, work)
    rows = []
    # one small unmeasured run first: a checkout whose numba kernels are not cached yet compiles
    # them once (~90 CPU-s), which would otherwise land in the first size's cost
    warm = subset_sources(build_sources(args.data, work / "warm", target_mb=1), work / "warm_sub", 0.03)
    measure(curation_config(warm, eval_gsm8k, args.data), work / "warm_out")
    shutil.rmtree(work / "warm_out", ignore_errors=True)
    for mb in args.mb:
        sources = build_sources(args.data, work / f"src{mb}", target_mb=mb)
        built = sum(p.stat().st_size for p in sources.values()) / 1e6
        if built > 1.3 * mb:  # smaller than the real sets: the first share of every source
            sources = subset_sources(sources, work / f"sub{mb}", mb / built)
        n_docs, size = _count(sources)
        config = curation_config(sources, eval_gsm8k, args.data)
        config["executor"] = {"tasks": 2, "workers": 2}
        load, speed = os.getloadavg()[0], machine_speed(args.data)
        res = measure(config, work / f"out{mb}")
        row = {"docs": n_docs, "mb": size, **res, "load_avg_1min": load, "load_avg_end": os.getloadavg()[0]}
        row["minhash_mb_per_cpu_s"] = (speed + machine_speed(args.data)) / 2
        row.update(mb_per_cpu_s=size / res["cpu_s"], docs_per_cpu_s=n_docs / res["cpu_s"])
        rows.append(row)
        print(json.dumps(row), flush=True)
        # written after every size: a long last size that is stopped keeps the ones before it
        args.out.parent.mkdir(parents=True, exist_ok=True)
        everything = sorted(earlier + rows, key=lambda r: r["docs"])
        args.out.write_text(json.dumps(everything, indent=2))
        plot(everything, args.out.with_suffix(".png"), compare, args.compare_label)
        shutil.rmtree(work / f"out{mb}", ignore_errors=True)
        shutil.rmtree(work / f"src{mb}", ignore_errors=True)
        shutil.rmtree(work / f"sub{mb}", ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
