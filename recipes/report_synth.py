"""The report's "Synthetic data" section, from ``curate/reports/synthesis.json`` and the plans.

Per output source: documents in and out, rejects by reason, decontamination drops, generated
tokens and throughput; per run and phase: the synthetic share the plan gave against its
``max_synthetic_share``; an example output per job; and, whenever the generator is a rule or a
tiny model, the plain statement that the text is worthless and the pipeline is what is shown,
with the real-size configuration and its cost per million documents.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl

from recipes.config import RecipeConfig

REAL_SIZE = (
    "Real size: a vLLM model on GPUs, `synthesize.backend: {kind: vllm, model: "
    'Qwen/Qwen2.5-7B-Instruct, dp: 8}` on an 8-GPU node (docs/curation_synthetic.md, "Real size"). '
    "With `T` generated tokens/s per GPU and `L` generated tokens per document, a million documents "
    "take `1e6 * L / T` GPU-seconds: at `L = 400` and `T = 2,500` about 44 GPU-hours. Measure `T` "
    "with a short run first: `synthesis.json` reports the backend's tokens/s."
)
PIPELINE = (
    "No claim about the value of synthetic data follows from this run. What is shown is the pipeline: "
    "prompts per task, the server behind datatrove's `InferenceRunner` (chunked checkpoints, request "
    "cache), counted rejects, decontamination of the generations, the new sources in "
    "`inventory.parquet` with `synthetic: true`, and the plan's cap on their share."
)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _example(folder: Path, limit: int = 140) -> str | None:
    for f in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            for line in fh:
                if line.strip():
                    text = json.loads(line)["text"].replace("\n", " / ").replace("`", "'")
                    return text[:limit] + ("..." if len(text) > limit else "")
    return None


def _short(generator: str) -> str:
    """``curate/generator`` for a model folder, the name itself for a rule or a hub name."""
    path = Path(generator)
    return "/".join(path.parts[-2:]) if path.is_absolute() else generator


def _statement(sources: dict) -> str | None:
    """The plain words on a rule or tiny generator (None when every generator is a real model)."""
    notes = {}
    for s in sources.values():
        if s.get("note"):
            notes[s["generator"]] = s["note"]
    if not notes:
        return None
    lines = []
    for generator, note in notes.items():
        if generator.startswith("rule:"):
            lines.append(f"`{generator}` is a deterministic rule (a test backend), not a model.")
        else:
            params = note.split("about ", 1)[1].split(" parameters", 1)[0] if "about " in note else "?"
            lines.append(
                f"`{_short(generator)}` is a random-weight model of about {params} parameters: a generator "
                "this small writes little of value, and its text below is noise."
            )
    return "**What this shows, and what not.** " + " ".join(lines) + " " + PIPELINE


def _plan_shares(recipe: RecipeConfig, root: Path) -> pl.DataFrame | None:
    inventory = root / "tokens" / "inventory.parquet"
    if not inventory.is_file():
        return None
    inv = pl.read_parquet(inventory)
    if "synthetic" not in inv.columns:
        return None
    synthetic = set(inv.filter(pl.col("synthetic").fill_null(False))["source"].to_list())
    rows = []
    for name, spec in recipe.runs.items():
        path = root / "plans" / name / "plan.parquet"
        if not path.is_file():
            continue
        default_cap = spec.plan.get("max_synthetic_share", 1.0)
        caps = {p["name"]: p.get("max_synthetic_share") for p in spec.plan.get("phases") or []}
        plan = pl.read_parquet(path)
        for (phase,), group in plan.group_by("phase_name", maintain_order=True):
            cap = caps.get(str(phase).split(":ramp")[0])
            rows.append(
                {
                    "run": name,
                    "phase": phase,
                    "synthetic_share": float(group.filter(pl.col("source").is_in(synthetic))["share"].sum()),
                    "synthetic_tokens": int(
                        group.filter(pl.col("source").is_in(synthetic))["num_tokens"].sum()
                    ),
                    "max_synthetic_share": float(cap if cap is not None else default_cap),
                }
            )
    return pl.DataFrame(rows) if rows else None


def synthesis_section(recipe: RecipeConfig, root: Path) -> str:
    """The section's markdown, or "" when the recipe's curation has no ``synthesize:``."""
    path = root / "curate" / "reports" / "synthesis.json"
    if not path.is_file():
        if recipe.curate.get("synthesize"):
            return "## Synthetic data\n\nNo synthesis report found (curate/reports/synthesis.json).\n"
        return ""
    report = json.loads(path.read_text())
    sources: dict = report["sources"]
    text = "## Synthetic data\n\n"
    statement = _statement(sources)
    if statement:
        text += statement + "\n\n"
    header = (
        "| output | task | generator | prompt | docs in | rejected | decont. dropped | docs out "
        "| generated tokens | docs/s | generated tokens/s |\n|" + "---|" * 11 + "\n"
    )
    text += header
    for name, s in sources.items():
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(s["rejected"].items())) or "0"
        cells = [
            f"`{name}`",
            s["task"],
            f"`{_short(s['generator'])}`",
            f"`{s['prompt_id']}`",
            s["parents"],
            rejected,
            s["decontamination_dropped"],
            s["curated"],
            s["completion_tokens"],
            s["docs_per_s"],
            s["completion_tokens_per_s"],
        ]
        text += "| " + " | ".join(_cell(c) for c in cells) + " |\n"
    text += (
        "\nDocs in: parent documents sent to the generator; rejects are counted by reason (empty, "
        "too_short, truncated) and kept in `curate/removed/<output>/synthesis/`; outputs went through "
        "decontamination again. Throughput includes the server's start (one per task), which dominates "
        "runs this small.\n\n"
    )
    shares = _plan_shares(recipe, root)
    if shares is not None:
        text += "Synthetic share of each planned phase (`max_synthetic_share` caps it):\n\n"
        text += "| run | phase | synthetic share | synthetic tokens | max_synthetic_share |\n|---|---|---|---|---|\n"
        for r in shares.iter_rows(named=True):
            text += (
                f"| {r['run']} | {r['phase']} | {r['synthetic_share']:.3f} | {r['synthetic_tokens']} "
                f"| {r['max_synthetic_share']:.3f} |\n"
            )
        text += "\n"
    examples = [(n, _example(root / "curate" / "curated" / n)) for n in sources]
    examples = [(n, e) for n, e in examples if e]
    if examples:
        text += "One output per job, as generated:\n\n"
        text += "".join(f"- `{n}`: `{e}`\n" for n, e in examples) + "\n"
    per_doc = [
        (s["completion_tokens"] / s["parents"], s["completion_tokens_per_s"])
        for s in sources.values()
        if s["parents"] and s.get("completion_tokens_per_s") and not s["generator"].startswith("rule:")
    ]
    if per_doc:
        tokens, rate = per_doc[0]
        hours = 1e6 * tokens / rate / 3600
        text += (
            f"At this run's rate ({rate:.0f} generated tokens/s, {tokens:.0f} tokens per document, "
            f"server start included) a million documents would take ~{hours:,.0f} hours on this machine: "
            "the CPU path is for tests and small runs. "
        )
    return text + REAL_SIZE + "\n"
