"""Curation throughput on real text: midtrain now vs today's midtrain vs stock datatrove (spaCy), one run.

The standard pipeline: per-kind heuristic filters (``curation/filters/profiles.py``), exact +
MinHash dedup (5-grams, 14 x 8), n-gram decontamination against GSM8K (300 items) and HumanEval,
difficulty tiers, held-out slice, token counts. Corpus: the real sets in ``../shared/data``, one
source each, grown to ``--mb`` with fresh variants and planted duplicates
(``bench/curation_real_corpus.py``). Every run is a subprocess with ``tasks: 1, workers: 1``, so
per core; MB/s/core is text MB over the run's CPU seconds (``time.process_time`` around
``run_curation``; wall seconds are printed too, and the load average, since the machine is shared).
Each tree first runs once, untimed, on 1 % of the corpus, so that compiling its numba kernels
(cached on disk per tree) is not timed. ``--repeat K`` runs now and today K times each,
alternating which goes first (the box's speed drifts within minutes, and the second of two
back-to-back runs was seen 20-30 % slower), and reports each tree's median run and every run's
CPU seconds.

- **now**: this checkout;
- **today**: the same config on the curation package of ``--baseline`` (default: the commit
  before this round of fast paths), extracted with ``git archive``; keep/drop per document id is
  compared;
- **stock**: datatrove's own steps with its spaCy tokenizer: Gopher quality + Gopher repetition
  on every document with the options of midtrain's ``curated`` profile (datatrove's web
  thresholds drop ~98 % of this prose, which would leave the later steps nothing to do), then the
  four stock MinHash stages; no decontamination or tiers (datatrove's indexer does not work with
  current lighteval). On the first ``--stock-fraction`` of every source, with **now** timed on
  the same subset.

    nice -n 10 .venv/bin/python bench/bench_curation_throughput.py --mb 20
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# midtrain before the compiled Gopher rules and the gzip-level writer (2026-12-02; the numba
# MinHash/cleanliness paths already in). The first round's baseline, before any fast path: a243e88.
BASELINE = "58381ea"

CHILD = r"""
import gzip, json, sys, time, warnings
from pathlib import Path
args = json.loads(sys.argv[1])
out = Path(args["out"])
cpu, wall = time.process_time(), time.perf_counter()
if args["mode"] == "midtrain":
    from curation import CurationConfig, run_curation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_curation(CurationConfig.model_validate(args["config"]), out)
    folders = [out / "curated", out / "heldout"]
else:
    sys.path.insert(0, args["root"])
    from bench.bench_curation_throughput import run_stock
    run_stock(Path(args["sources"]), out)
    folders = [out / "kept"]
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
kept = []
for folder in folders:
    for f in sorted(folder.rglob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            kept += [json.loads(x)["id"] for x in fh]
steps = {}
for stats in out.rglob("logs/*/stats.json"):
    for s in json.loads(stats.read_text()):
        t = s.get("time_stats")
        if t is not None:
            key = f"{stats.parent.name}: {s['name']}"
            steps[key] = steps.get(key, 0.0) + (t["total"] if isinstance(t, dict) else float(t))
Path(args["result"]).write_text(json.dumps({"cpu_s": cpu, "wall_s": wall, "kept": kept, "steps": steps}))
"""


def run_stock(sources: Path, out: Path) -> None:
    """datatrove's own steps, spaCy word tokenizer, one task (filter options: see the module doc)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from curation.filters.profiles import BUILTIN_PROFILES

    cfg = MinhashConfig()
    curated = BUILTIN_PROFILES["curated"]  # stock web thresholds would drop ~all of this prose
    stages = [
        (
            [
                JsonlReader(str(sources), glob_pattern="*.jsonl"),
                GopherQualityFilter(**curated["gopher_quality"]),
                GopherRepetitionFilter(**curated["gopher_repetition"]),
                JsonlWriter(str(out / "filtered")),
                MinhashDedupSignature(str(out / "sigs"), config=cfg),
            ],
            1,
        ),
        ([MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=cfg)], cfg.num_buckets),
        ([MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=cfg)], 1),
        (
            [
                JsonlReader(str(out / "filtered")),
                MinhashDedupFilter(str(out / "remove")),
                JsonlWriter(str(out / "kept")),
            ],
            1,
        ),
    ]
    for i, (pipeline, tasks) in enumerate(stages):
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=1, logging_dir=str(out / "logs" / f"s{i}")).run()


def child(args: dict, pythonpath: Path) -> dict:
    result = Path(args["out"]).with_suffix(".result.json")
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({**args, "result": str(result), "root": str(ROOT)})],
        check=True,
        env=env,
        cwd=str(pythonpath),
    )
    return json.loads(result.read_text())


def baseline_tree(commit: str, dest: Path) -> Path:
    """The curation package at ``commit`` (read from git, the checkout is not touched)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", commit, "curation"], cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def _ids(paths: dict[str, Path]) -> list[str]:
    return [json.loads(x)["id"] for p in paths.values() for x in p.read_text(encoding="utf-8").splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0, help="corpus size (MB of text)")
    parser.add_argument("--dup-rate", type=float, default=0.1)
    parser.add_argument("--stock-fraction", type=float, default=0.08)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs of now and of today, alternating order")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_throughput.json")
    args = parser.parse_args()
    from bench.curation_real_corpus import (
        build_sources,
        curation_config,
        require_real_sets,
        subset_sources,
        write_gsm8k_eval,
    )

    require_real_sets(args.data)

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_cur_"))
    sources = build_sources(args.data, work / "sources", target_mb=args.mb, dup_rate=args.dup_rate)
    subset = subset_sources(sources, work / "subset", args.stock_fraction)
    eval_gsm8k = write_gsm8k_eval(args.data, work)
    size = {
        k: sum(len(json.loads(x)["text"].encode()) for p in s.values() for x in p.read_text().splitlines())
        / 1e6
        for k, s in (("full", sources), ("subset", subset))
    }
    docs = {"full": _ids(sources), "subset": _ids(subset)}
    old_tree = baseline_tree(args.baseline, work / "baseline")
    runs = {}

    def run(name: str, tree: Path, srcs: dict[str, Path], part: str, mode: str = "midtrain") -> None:
        load = os.getloadavg()[0]
        spec = {"mode": mode, "out": str(work / "runs" / name)}
        shutil.rmtree(spec["out"], ignore_errors=True)  # a finished run folder would be skipped
        if mode == "midtrain":
            spec["config"] = curation_config(srcs, eval_gsm8k, args.data)
        else:
            spec["sources"] = str(work / "subset")
        res = child(spec, tree)
        n, mb = len(docs[part]), size[part]
        res.update(
            docs=n,
            mb=mb,
            load_avg_1min=load,
            mb_per_cpu_s=mb / res["cpu_s"],
            docs_per_cpu_s=n / res["cpu_s"],
            mb_per_wall_s=mb / res["wall_s"],
            docs_per_wall_s=n / res["wall_s"],
        )
        runs[name] = res
        print(
            f"{name:>14}: {n:>7} docs {mb:6.2f} MB  cpu {res['cpu_s']:7.1f} s  wall {res['wall_s']:7.1f} s  "
            f"{res['mb_per_cpu_s']:6.2f} MB/s/core  {res['docs_per_cpu_s']:8.0f} docs/s/core  (load {load:.1f})",
            flush=True,
        )

    # Both trees compile numba kernels on first use (``cache=True``: once per tree, ~30-90 s on
    # this box); a fresh ``git archive`` has no cache, so warm each tree on 1 % of the corpus first.
    warm = subset_sources(sources, work / "warm", 0.01)
    for name, tree in (("now", ROOT), ("today", old_tree)):
        spec = {"mode": "midtrain", "out": str(work / "runs" / f"warm_{name}")}
        child({**spec, "config": curation_config(warm, eval_gsm8k, args.data)}, tree)
        shutil.rmtree(spec["out"], ignore_errors=True)
    trials: dict[str, list[dict]] = {"now": [], "today": []}
    for i in range(args.repeat):
        for name, tree in (
            (("now", ROOT), ("today", old_tree)) if i % 2 == 0 else (("today", old_tree), ("now", ROOT))
        ):
            run(name, tree, sources, "full")
            trials[name].append(runs[name])
    for name, results in trials.items():  # the median run (by CPU seconds) stands for the tree
        runs[name] = sorted(results, key=lambda r: r["cpu_s"])[(len(results) - 1) // 2]
    run("now_subset", ROOT, subset, "subset")
    if not args.skip_stock:
        run("stock_subset", ROOT, subset, "subset", mode="stock")
    new_kept, old_kept = set(runs["now"]["kept"]), set(runs["today"]["kept"])
    same = sum((d in new_kept) == (d in old_kept) for d in docs["full"])
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "baseline_commit": args.baseline,
        "corpus": {"docs": len(docs["full"]), "mb": size["full"], "dup_rate": args.dup_rate},
        "keep_drop_identical_vs_today": same / len(docs["full"]),
        "kept": {k: len(r["kept"]) for k, r in runs.items()},
        "speedup_cpu_vs_today": runs["today"]["cpu_s"] / runs["now"]["cpu_s"],
        "cpu_s_every_run": {k: [round(r["cpu_s"], 2) for r in v] for k, v in trials.items()},
    }
    if "stock_subset" in runs:
        result["speedup_cpu_vs_stock_same_docs"] = runs["stock_subset"]["cpu_s"] / runs["now_subset"]["cpu_s"]
    result["runs"] = {k: {x: v for x, v in r.items() if x != "kept"} for k, r in runs.items()}
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    print("\nper step, CPU-independent wall seconds inside datatrove (now vs today):")
    for key in sorted(set(runs["now"]["steps"]) | set(runs["today"]["steps"])):
        a, b = runs["now"]["steps"].get(key, 0.0), runs["today"]["steps"].get(key, 0.0)
        print(f"  {key[:60]:<60} {a:7.2f} {b:7.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
