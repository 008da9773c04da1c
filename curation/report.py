"""The last stage: publish outputs, write the inventory, the funnel and the reports.

``FinalizeReport`` is a one-task datatrove step, so it runs under every executor (on Slurm it is
the last job of the chain). It reads what the earlier stages left in the work folder: datatrove
stats per stage (kept/dropped counts and reasons), per-source sums, cluster examples and
decontamination hits, and writes ``DIR/inventory.parquet`` and ``DIR/reports/``.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from pathlib import Path

import polars as pl
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curation.funnel import build_funnel, examples_text, funnel_table, plot_funnel
from curation.guard import format_warnings, removed_examples, source_warnings
from curation.link_tree import link_tree
from curation.schema import INVENTORY_COLUMNS, check_inventory
from curation.stats.source_stats import SUMMED_KEYS, empty_source_totals


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


class FinalizeReport(PipelineStep):
    """Publish curated/heldout/rejects from the work folder and write inventory + reports."""

    name = "📋 Report"
    type = "📊 - STATS"

    def __init__(
        self,
        work_dir: str,
        out_dir: str,
        sources: list[str],
        domain_hints: dict,
        extra: dict,
        *,
        profiles: dict[str, str] | None = None,
        filters_run: dict[str, list[str]] | None = None,
        guard: dict | None = None,
    ):
        super().__init__()
        self.work_dir = work_dir
        self.out_dir = out_dir
        self.sources = sources
        self.domain_hints = domain_hints
        self.extra = extra
        self.profiles = profiles or {}
        self.filters_run = filters_run or {}
        # max_drop_fraction, strict, heldout_expected (see curation/guard.py)
        self.guard = guard or {"max_drop_fraction": 0.5, "strict": False, "heldout_expected": True}

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        work, out = Path(self.work_dir), Path(self.out_dir)
        for name in ("curated", "heldout", "rejects", "removed"):
            link_tree(work / name, out / name)
        for s in self.sources:  # every source gets its folders, even when nothing survived
            (out / "curated" / s).mkdir(parents=True, exist_ok=True)
            (out / "heldout" / s).mkdir(parents=True, exist_ok=True)
        funnel = build_funnel(work, self.sources, self.profiles, self.filters_run)
        inventory = build_inventory(work, out, self.sources, self.domain_hints)
        for s, row in zip(self.sources, inventory.iter_rows(named=True), strict=True):
            funnel["by_source"][s]["curated"] = row["num_docs"]
        warnings = source_warnings(
            funnel,
            max_drop_fraction=self.guard["max_drop_fraction"],
            heldout_expected=self.guard["heldout_expected"],
            removed_dir=out / "removed",
        )
        reports = out / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        blocked = bool(warnings) and self.guard["strict"]
        payload = {"strict": self.guard["strict"], "blocked": blocked, "warnings": warnings}
        (reports / "warnings.json").write_text(json.dumps(payload, indent=2))
        examples = removed_examples(out / "removed")
        with open(reports / "removed_examples.jsonl", "w") as f:
            for example in examples:
                f.write(json.dumps(example) + "\n")
        if blocked:  # guard.strict: no inventory, so nothing downstream plans on a lost source
            (reports / "funnel.json").write_text(json.dumps(funnel, indent=2))
            (out / "inventory.parquet").unlink(missing_ok=True)
        else:
            write_reports(work, out, funnel, inventory, self.extra)
        # the table people read: per source, top reasons, one example each, the warnings
        text = funnel_table(funnel) + examples_text(examples)
        if warnings:
            text += "\n" + format_warnings(warnings) + "\n"
        (reports / "funnel.txt").write_text(text)
