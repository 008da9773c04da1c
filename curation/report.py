"""The last stage: publish outputs, write the inventory, the funnel and the reports.

``FinalizeReport`` is a one-task datatrove step, so it runs under every executor (on Slurm it is
the last job of the chain). It reads what the earlier stages left in the work folder: datatrove
stats per stage (kept/dropped counts and reasons), per-source sums, cluster examples and
decontamination hits, and writes ``DIR/inventory.parquet`` and ``DIR/reports/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import defaultdict
from pathlib import Path

import polars as pl
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curation.schema import INVENTORY_COLUMNS, check_inventory
from curation.stats.merge import load_stage_stats
from curation.stats.source_stats import SUMMED_KEYS, empty_source_totals

STAGE_ORDER = ("filter", "write")
_COUNTER_KEYS = ("total", "forwarded", "dropped")


def _publish(src: Path, dst: Path) -> None:
    """Make ``dst`` a fresh tree of hard links (copies across filesystems) to ``src``."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    if not src.is_dir():
        return
    for path in sorted(src.rglob("*")):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)


def build_funnel(work_dir: Path, sources: list[str]) -> dict:
    """Per step: input, kept, dropped, reasons; per source: docs left after each step."""
    steps, by_source = [], {s: {} for s in sources}
    for stage in STAGE_ORDER:
        stats = load_stage_stats(work_dir / "logs" / stage)
        if stats is None:
            continue
        for step in stats.stats:
            counters = {k: _total(v) for k, v in step.stats.items()}
            if "Sources" in step.name:
                reasons = {
                    k.removeprefix("rejected_"): v for k, v in counters.items() if k.startswith("rejected_")
                }
                read = counters.get("documents", 0) + counters.get("rejected", 0)
                steps.append(
                    {
                        "step": "read",
                        "input": read,
                        "kept": counters.get("documents", 0),
                        "dropped": counters.get("rejected", 0),
                        "reasons": reasons,
                    }
                )
                for s in sources:
                    ok, bad = counters.get(f"read/{s}", 0), counters.get(f"rejected/{s}", 0)
                    by_source[s].update({"input": ok + bad, "rejected": bad, "after_read": ok})
                continue
            if "dropped" not in counters and "total" not in counters:
                if "Held-out" in step.name:
                    steps.append(
                        {
                            "step": "heldout",
                            "input": counters.get("heldout", 0) + counters.get("forwarded", 0),
                            "kept": counters.get("forwarded", 0),
                            "dropped": counters.get("heldout", 0),
                            "reasons": {"heldout": counters.get("heldout", 0)},
                        }
                    )
                    for s in sources:
                        by_source[s]["heldout"] = counters.get(f"heldout/{s}", 0)
                continue
            name = _step_key(step.name)
            if name is None:
                continue
            reasons = {k.removeprefix("dropped_"): v for k, v in counters.items() if k.startswith("dropped_")}
            entry = {
                "step": name,
                "input": counters.get("total", 0),
                "kept": counters.get("forwarded", 0),
                "dropped": counters.get("dropped", 0),
                "reasons": reasons,
            }
            if steps and steps[-1]["step"] == name:  # per-domain variants of one filter: one funnel row
                previous = steps[-1]
                previous["kept"] = previous["kept"] - entry["input"] + entry["kept"]
                previous["dropped"] += entry["dropped"]
                for k, v in reasons.items():
                    previous["reasons"][k] = previous["reasons"].get(k, 0) + v
            else:
                steps.append(entry)
            for s in sources:
                key = f"dropped_{name}"
                by_source[s][key] = by_source[s].get(key, 0) + counters.get(f"dropped/{s}", 0)
    return {"steps": steps, "by_source": by_source}


def _total(value) -> int:
    """A counter's total: a MetricStats after merging, a plain number or dict when read from one file."""
    if isinstance(value, dict):
        return int(value.get("total", 0))
    return int(getattr(value, "total", value))


_STEP_KEYS = {
    "Gopher Quality": "gopher_quality",
    "Gopher Repetition": "gopher_repetition",
    "C4 Quality": "c4",
    "FineWeb Quality": "fineweb",
    "N-gram decont": "decontamination",
    "Dedup filter": "dedup",
    "Quality scorer": "quality_classifier",
}


def _step_key(name: str) -> str:
    for label, key in _STEP_KEYS.items():
        if label in name:
            return key
    return None  # a step that drops nothing (tagger, writer, signatures)


def build_inventory(work_dir: Path, out_dir: Path, sources: list[str], domain_hints: dict) -> pl.DataFrame:
    merged: dict[str, dict] = defaultdict(empty_source_totals)
    estimated = True
    for f in sorted((work_dir / "source_stats").glob("*.json")):
        payload = json.loads(f.read_text())
        estimated = payload["estimated"]
        for s, v in payload["sources"].items():
            m = merged[s]
            for k in SUMMED_KEYS:
                m[k] += v[k]
            for d, c in v["domains"].items():
                m["domains"][d] += c
    rows = []
    for s in sources:
        m = merged[s]
        domain = (
            max(m["domains"].items(), key=lambda kv: kv[1])[0]
            if m["domains"]
            else (domain_hints.get(s) or "general")
        )
        rows.append(
            {
                "source": s,
                "domain": domain,
                "num_docs": m["num_docs"],
                "num_tokens": m["num_tokens"],
                "num_tokens_estimated": estimated,
                "mean_quality": m["quality_sum"] / m["num_quality"] if m["num_quality"] else None,
                "mean_difficulty": m["difficulty_sum"] / m["num_difficulty"] if m["num_difficulty"] else None,
                "path": str(out_dir / "curated" / s),
                "domain_shares": json.dumps(
                    {d: c / max(1, m["num_docs"]) for d, c in sorted(m["domains"].items())}
                ),
            }
        )
    frame = pl.DataFrame(rows, schema={**INVENTORY_COLUMNS, "domain_shares": pl.String()})
    return check_inventory(frame)


def _gather_jsonl(folder: Path) -> list[dict]:
    rows = []
    for f in sorted(folder.glob("*.jsonl")):
        with open(f) as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def write_reports(
    work_dir: Path, out_dir: Path, funnel: dict, inventory: pl.DataFrame, extra: dict
) -> list[Path]:
    reports = out_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    written = []
    (reports / "funnel.json").write_text(json.dumps(funnel, indent=2))
    written.append(reports / "funnel.json")
    # dedup clusters, grouped, with examples
    members = _gather_jsonl(work_dir / "cluster_examples")
    clusters: dict[int, dict] = {}
    for m in members:
        c = clusters.setdefault(
            m["cluster"],
            {"cluster": m["cluster"], "kind": m["kind"], "size": m["size"], "kept": None, "removed": []},
        )
        entry = {"doc_id": m["doc_id"], "source": m["source"], "excerpt": m["excerpt"]}
        if m["kept"]:
            c["kept"] = entry
        else:
            c["removed"].append(entry)
    with open(reports / "dedup_clusters.jsonl", "w") as f:
        for c in sorted(clusters.values(), key=lambda c: c["cluster"]):
            f.write(json.dumps(c) + "\n")
    written.append(reports / "dedup_clusters.jsonl")
    summary_path = work_dir / "dedup" / "clusters" / "summary.json"
    dedup_summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    # decontamination hits: one line per (doc, eval item)
    hits = _gather_jsonl(work_dir / "decont_hits")
    with open(reports / "decontamination.jsonl", "w") as f:
        for h in hits:
            f.write(json.dumps(h) + "\n")
    written.append(reports / "decontamination.jsonl")
    by_item: dict[str, list[str]] = defaultdict(list)
    for h in hits:
        by_item[f"{h['eval_set']}:{h['item_id']}"].append(h["doc_id"])
    from curation.filters.agreement import merge_agreement

    agreement = merge_agreement(work_dir / "agreement")
    summary = {
        "dedup": dedup_summary,
        "tokenizer_agreement": agreement,
        "decontamination": {
            "num_hits": len(hits),
            "num_docs": len({h["doc_id"] for h in hits}),
            "eval_items_found": dict(sorted(by_item.items())),
        },
        **extra,
    }
    (reports / "summary.json").write_text(json.dumps(summary, indent=2))
    written.append(reports / "summary.json")
    inventory.write_parquet(out_dir / "inventory.parquet")
    written.append(out_dir / "inventory.parquet")
    (reports / "funnel.txt").write_text(funnel_table(funnel))
    written.append(reports / "funnel.txt")
    with contextlib.suppress(ImportError):  # no matplotlib: the JSON and the text table say it all
        written.append(plot_funnel(funnel, reports / "funnel.png"))
    return written


def funnel_table(funnel: dict) -> str:
    lines = [f"{'step':<20}{'input':>10}{'kept':>10}{'dropped':>10}  reasons"]
    for s in funnel["steps"]:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(s["reasons"].items(), key=lambda kv: -kv[1])[:4])
        lines.append(f"{s['step']:<20}{s['input']:>10}{s['kept']:>10}{s['dropped']:>10}  {reasons}")
    return "\n".join(lines) + "\n"


def plot_funnel(funnel: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = funnel["steps"]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(steps) + 1.5))
    names = [s["step"] for s in steps][::-1]
    kept = [s["kept"] for s in steps][::-1]
    dropped = [s["dropped"] for s in steps][::-1]
    ax.barh(names, kept, color="#4c72b0", label="kept")
    ax.barh(names, dropped, left=kept, color="#dd8452", label="dropped")
    ax.set_xlabel("documents")
    ax.set_title("curation funnel")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


class FinalizeReport(PipelineStep):
    """Publish curated/heldout/rejects from the work folder and write inventory + reports."""

    name = "📋 Report"
    type = "📊 - STATS"

    def __init__(self, work_dir: str, out_dir: str, sources: list[str], domain_hints: dict, extra: dict):
        super().__init__()
        self.work_dir = work_dir
        self.out_dir = out_dir
        self.sources = sources
        self.domain_hints = domain_hints
        self.extra = extra

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        work, out = Path(self.work_dir), Path(self.out_dir)
        for name in ("curated", "heldout", "rejects"):
            _publish(work / name, out / name)
        for s in self.sources:  # every source gets its folders, even when nothing survived
            (out / "curated" / s).mkdir(parents=True, exist_ok=True)
            (out / "heldout" / s).mkdir(parents=True, exist_ok=True)
        funnel = build_funnel(work, self.sources)
        inventory = build_inventory(work, out, self.sources, self.domain_hints)
        for s, row in zip(self.sources, inventory.iter_rows(named=True), strict=True):
            funnel["by_source"][s]["curated"] = row["num_docs"]
        write_reports(work, out, funnel, inventory, self.extra)
