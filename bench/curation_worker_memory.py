"""What a filter-stage worker's memory is made of, as it works through a growing number of documents.

Runs the curation's own ``decont_index`` and ``filter`` stages (``curation.pipeline.build_stages``,
the standard pipeline of ``bench_curation_cost_curve.py``) in this one process, ``tasks: 1``, on a
real-text corpus from ``bench/curation_real_corpus.py``, with a pass-through probe after the
MinHash signature step. Every ``--every`` documents the probe records the process's RSS and the
entries and estimated MiB of each capped per-process cache (word tokenizer chunks, Gopher word
flags, cleanliness word flags) next to its cap; ``--tracemalloc`` also records the Python
allocations that grew most between the first and last snapshot (file:line), which names what
grows with the document count when the caches have stopped growing.

    nice -n 10 .venv/bin/python bench/curation_worker_memory.py --mb 50 --every 10000
    nice -n 10 .venv/bin/python bench/curation_worker_memory.py --mb 10 --tracemalloc

Writes ``bench/results/curation_worker_memory.{json,png}`` (``--out``) and prints one line per snapshot.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root


def _rss_mib(key: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _deep_mib(cache: dict) -> float:
    """Keys, values and the strings inside value tuples, each object counted once, plus the table."""
    seen: set[int] = set()
    total = sys.getsizeof(cache)
    for k, v in cache.items():
        for obj in (k, v, *(v if isinstance(v, tuple) else ())):
            if id(obj) not in seen:
                seen.add(id(obj))
                total += sys.getsizeof(obj)
    return total / 2**20


def caches() -> dict[str, tuple[dict, int]]:
    """name -> (the cache, its cap) for every capped per-process cache the filter stage fills."""
    from curation.dedup import cleanliness_fast as cf
    from curation.filters import gopher_fast as gf
    from curation.filters import word_tokenizer as wt

    return {
        "word_tokenizer chunks": (wt._CHUNK_CACHE, wt._CHUNK_CACHE_MAX),
        "gopher word flags": (gf._WORD_FLAGS, gf._WORD_CACHE_MAX),
        "cleanliness word flags": (cf._WORD_CACHE, cf._WORD_CACHE_MAX),
    }


def make_probe(every: int, snapshots: list, trace: bool):
    from datatrove.pipeline.base import PipelineStep

    class Probe(PipelineStep):
        name = "memory probe"

        def run(self, data, rank: int = 0, world_size: int = 1):
            import tracemalloc

            start = time.process_time()

            def snap(n: int, end: bool = False) -> None:
                # end: after the task's last document, when DedupSignature has written and freed its rows
                row = {"docs": n, "end_of_task": end, "cpu_s": round(time.process_time() - start, 1), "rss_mib": round(_rss_mib(), 1),
                       "hwm_mib": round(_rss_mib("VmHWM"), 1)}  # fmt: skip
                for name, (cache, cap) in caches().items():
                    row[name] = {"entries": len(cache), "cap": cap, "mib": round(_deep_mib(cache), 1)}
                if trace:
                    row["_snapshot"] = tracemalloc.take_snapshot()
                snapshots.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "_snapshot"}), flush=True)

            n = 0
            for n, doc in enumerate(data, 1):
                yield doc
                if n % every == 0:
                    snap(n)
            snap(n, end=True)

    return Probe()


def plot(result: dict, path: Path, compare: dict | None = None, compare_label: str = "") -> None:
    """RSS, the caches' estimated MiB, and RSS less the caches, against documents."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # the palette of the curation report's plots (curation/funnel.py)
    blue, orange, grey, red = "#4c72b0", "#dd8452", "#8c8c8c", "#c44e52"

    def series(res: dict):
        snaps = [s for s in res["snapshots"] if not s["end_of_task"]]
        docs = [s["docs"] for s in snaps]
        cache = [sum(v["mib"] for v in s.values() if isinstance(v, dict)) for s in snaps]
        return docs, [s["rss_mib"] for s in snaps], cache

    fig, (ax, grow) = plt.subplots(1, 2, figsize=(13, 4.4))
    docs, rss, cache = series(result)
    rest = [r - c for r, c in zip(rss, cache, strict=True)]
    ax.plot(docs, rss, "s-", color=red, label="RSS of the process")
    ax.plot(docs, rest, "o-", color=blue, label="RSS less the caches")
    ax.plot(docs, cache, "^-", color=orange, label="capped caches (estimated MiB)")
    ax.set_xlabel("documents through the filter stage (one process, tasks 1)")
    ax.set_ylabel("MiB")
    ax.set_ylim(0, 1.15 * max(rss))
    ax.legend(fontsize=8, loc="center right")
    ax.set_title("what the worker holds")
    # right: growth since the first snapshot (the level depends on the corpus built beforehand)
    grow.plot(docs, [r - rest[0] for r in rest], "o-", color=blue, label="RSS less the caches")
    grow.plot(docs, [c - cache[0] for c in cache], "^-", color=orange, label="capped caches")
    if compare:
        cdocs, crss, ccache = series(compare)
        crest = [r - c for r, c in zip(crss, ccache, strict=True)]
        grow.plot(cdocs, [r - crest[0] for r in crest], "o--", color=grey, mfc="none",
                  label=f"RSS less the caches, {compare_label}")  # fmt: skip
    grow.axhline(0, color=grey, lw=0.5)
    grow.set_xlabel("documents through the filter stage (one process, tasks 1)")
    grow.set_ylabel("MiB grown since the first snapshot")
    grow.legend(fontsize=8, loc="upper left")
    grow.set_title("growth")
    fig.suptitle("filter-stage worker memory as documents flow (real text)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=50.0, help="corpus size (MB of text)")
    parser.add_argument("--every", type=int, default=10_000, help="documents between snapshots")
    parser.add_argument("--tracemalloc", action="store_true", help="also name the allocations that grow")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "curation_worker_memory.json"
    )
    parser.add_argument("--compare", type=Path, help="an earlier result's JSON, drawn grey on the PNG")
    parser.add_argument("--compare-label", default="earlier run", help="legend text of --compare")
    parser.add_argument("--plot-only", action="store_true", help="redraw the PNG of --out's JSON and exit")
    args = parser.parse_args()
    compare = json.loads(args.compare.read_text()) if args.compare else None
    if args.plot_only:
        plot(json.loads(args.out.read_text()), args.out.with_suffix(".png"), compare, args.compare_label)
        return
    from bench.curation_real_corpus import build_sources, require_real_sets, standard_config

    require_real_sets(args.data)
    import warnings

    from datatrove.executor import LocalPipelineExecutor

    from curation.pipeline import build_stages

    work = Path(tempfile.mkdtemp(prefix="bench_wmem_"))
    sources = build_sources(args.data, work / "src", target_mb=args.mb)
    config = standard_config(sources, args.data, work)
    snapshots: list[dict] = []
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(1)
    rss_start = _rss_mib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, pipeline, _ in build_stages(config, work / "out", work / "out" / "work"):
            if name == "filter":
                at = next(i for i, s in enumerate(pipeline) if type(s).__name__ == "DedupSignature")
                pipeline.insert(at + 1, make_probe(args.every, snapshots, args.tracemalloc))
            # tasks 1, workers 1: datatrove runs the task in this process, where the probe can see it
            LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(work / "logs" / name)).run()
            if name == "filter":
                break
    rss_end = _rss_mib()
    grown = []
    during = [s for s in snapshots if not s["end_of_task"]]
    if args.tracemalloc and len(during) > 1:
        # the last snapshot taken while documents still flowed: the task's per-document state is alive
        diff = during[-1]["_snapshot"].compare_to(during[0]["_snapshot"], "lineno")
        grown = [
            {
                "where": str(d.traceback),
                "grew_mib": round(d.size_diff / 2**20, 2),
                "mib": round(d.size / 2**20, 2),
            }
            for d in diff[:12]
        ]
        for g in grown:
            print(f"grew {g['grew_mib']:8.2f} MiB (now {g['mib']:.2f}) at {g['where']}")
    result = {
        "mb": args.mb,
        "rss_before_mib": round(rss_start, 1),
        "rss_after_filter_stage_mib": round(rss_end, 1),  # after the task's final writes (docs/, sorted sigs)
        "tracemalloc": args.tracemalloc,
        "snapshots": [{k: v for k, v in s.items() if k != "_snapshot"} for s in snapshots],
        "grown_between_first_and_last_snapshot_in_task": grown,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    plot(result, args.out.with_suffix(".png"), compare, args.compare_label)
    print(f"wrote {args.out}")
    import shutil

    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
