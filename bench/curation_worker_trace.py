"""RSS of every curation worker over time, per stage, watched from outside a running benchmark.

Attaches to a running ``bench_curation_cost_curve.py`` (or any process whose descendants run
``run_curation``) and samples ``/proc`` every ``--every`` seconds: each ``run_curation`` process is
a *driver*, its descendants are *workers* (the forkserver and its pool processes); the stage a
sample belongs to is the newest ``work/*/logs/<stage>`` folder of that driver's output folder
(stages run one after the other). Nothing in the measured processes changes, so the cost
curve's figures stay those of an uninstrumented run.

    .venv/bin/python bench/curation_worker_trace.py --pid BENCH_PID --out trace.jsonl
    .venv/bin/python bench/curation_worker_trace.py --summary trace.jsonl [--summary-json stages.json]

The summary prints, per corpus and stage: worker processes seen, worker RSS at the stage's first
and last sample, and the peak (VmHWM) -- which stage holds the per-worker peak, and whether a
worker's RSS keeps rising during a stage or levels off.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/NAME.py` from the root
from bench.proc_stats import descendants, memory_kib, process_tree  # noqa: E402


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def watch(root: int, out: Path, every: float) -> None:
    seen_stage: dict[tuple[str, str], float] = {}  # (run folder, stage) -> first seen
    last: dict[int, tuple[float, int]] = {}  # pid -> (time written, rss written)
    start = time.time()
    with open(out, "a") as f:
        while Path(f"/proc/{root}").exists():
            kids = process_tree()
            now = time.time() - start
            for driver in descendants(root, kids):
                argv = _cmdline(driver)
                if not argv or "run_curation" not in " ".join(argv[:3]):
                    continue
                run = argv[-1]  # the bench passes the output folder last
                for logs in Path(run).glob("work/*/logs/*"):
                    seen_stage.setdefault((run, logs.name), now)
                stages = [(t, s) for (r, s), t in seen_stage.items() if r == run]
                stage = max(stages)[1] if stages else "start"
                for pid, role in [(driver, "driver")] + [(w, "worker") for w in descendants(driver, kids)]:
                    st = memory_kib(pid)
                    if "VmRSS" not in st:
                        continue
                    t0, rss0 = last.get(pid, (-1e9, -1 << 30))
                    # a row when RSS moved by 1 MiB or every 2 s: the trace stays small on a 1M-doc run
                    if abs(st["VmRSS"] - rss0) >= 1024 or now - t0 >= 2.0:
                        last[pid] = (now, st["VmRSS"])
                        row = {"t": round(now, 2), "run": Path(run).name, "stage": stage, "pid": pid, "role": role,
                               "rss_mib": round(st["VmRSS"] / 1024, 1), "hwm_mib": round(st["VmHWM"] / 1024, 1)}  # fmt: skip
                        f.write(json.dumps(row) + "\n")
                        f.flush()
            time.sleep(every)


def summary(trace: Path) -> list[dict]:
    rows = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["run"], r["stage"], r["role"]), []).append(r)
    out = []
    for (run, stage, role), g in groups.items():
        by_pid: dict[int, list[dict]] = {}
        for r in g:
            by_pid.setdefault(r["pid"], []).append(r)
        # the busiest process of the group: the one whose RSS got highest
        top = max(by_pid.values(), key=lambda s: max(x["rss_mib"] for x in s))
        out.append({
            "run": run, "stage": stage, "role": role, "processes": len(by_pid),
            "t_start": g[0]["t"], "t_end": g[-1]["t"],
            "rss_first_mib": top[0]["rss_mib"], "rss_last_mib": top[-1]["rss_mib"],
            "rss_max_mib": max(x["rss_mib"] for x in g), "hwm_max_mib": max(x["hwm_mib"] for x in g),
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, help="the benchmark process to watch")
    parser.add_argument("--out", type=Path, default=Path("curation_worker_trace.jsonl"))
    parser.add_argument("--every", type=float, default=0.25, help="seconds between samples")
    parser.add_argument(
        "--summary", type=Path, nargs="+", help="print the per-stage table of traces and exit"
    )
    parser.add_argument("--summary-json", type=Path, help="with --summary: also write the rows here")
    args = parser.parse_args()
    if args.summary:
        rows = {str(path): summary(path) for path in args.summary}
        if args.summary_json:
            args.summary_json.write_text(json.dumps(rows, indent=1))
        print("| corpus | stage | role | processes | s | RSS first | RSS last | RSS max | peak (HWM) |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for s in (s for trace in rows.values() for s in trace):
            print(f"| {s['run']} | {s['stage']} | {s['role']} | {s['processes']} | {s['t_end'] - s['t_start']:.0f} | "
                  f"{s['rss_first_mib']:.0f} | {s['rss_last_mib']:.0f} | {s['rss_max_mib']:.0f} | {s['hwm_max_mib']:.0f} |")  # fmt: skip
        return
    if args.pid is None or not Path(f"/proc/{args.pid}").exists():
        raise SystemExit(f"--pid {args.pid}: no such process (give the pid of a running benchmark)")
    watch(args.pid, args.out, args.every)


if __name__ == "__main__":
    main()
