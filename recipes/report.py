"""The run's ``report.md``: curation funnel, plans, loss curves, per-domain evaluation, claims.

Every section reads the files the stages wrote; a section whose files are missing says so
instead of failing, so a partial run still gets a report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from recipes.claims import check_claims, read_metrics
from recipes.config import RecipeConfig
from recipes.report_plots import colors_of_runs, plot_decay_vs_constant, plot_loss_curves
from recipes.report_synth import synthesis_section
from recipes.runner import RunDir
from recipes.search_report import search_section
from recipes.stages import evaluated_models


def write_report(recipe: RecipeConfig, root: Path, out: Path) -> list[Path]:
    sections = [
        f"# midtrain run: {recipe.name}\n",
        recipe.description.strip() + "\n" if recipe.description else "",
        _provenance(root),
        _curation(root, out),
        synthesis_section(recipe, root),
        _plans(recipe, root, out),
        search_section(recipe, root, out),
        _training(recipe, root, out),
        _evaluation(root, out),
    ]
    if recipe.claims:
        sections.append(_claims(recipe, root, out))
    report = out / "report.md"
    report.write_text("\n".join(s for s in sections if s))
    return [report, *sorted(out.glob("*.png"))]


def _table(frame: pl.DataFrame, *, digits: int = 3) -> str:
    def cell(value) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.width + "\n"
    return header + "".join("| " + " | ".join(cell(v) for v in row) + " |\n" for row in frame.iter_rows())


def _copy_png(source: Path, out: Path, name: str) -> str | None:
    if not source.is_file():
        return None
    shutil.copyfile(source, out / name)
    return f"![{name}]({name})\n"


def _provenance(root: Path) -> str:
    text = "## Provenance\n\n"
    prov = root / "provenance.json"
    if prov.is_file():
        info = json.loads(prov.read_text())
        packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v)
        text += f"git commit `{info.get('git_commit')}`, Python {info['python']}; {packages}.\n\n"
    times = RunDir(root).stage_times()
    if times:
        frame = pl.DataFrame({"stage": list(times), "wall_s": [round(v, 1) for v in times.values()]})
        text += _table(frame, digits=1) + f"\nTotal stage time: {sum(times.values()):.0f} s.\n"
    return text


def _curation(root: Path, out: Path) -> str:
    text = "## Curation\n\n"
    funnel = root / "curate" / "reports" / "funnel.json"
    if not funnel.is_file():
        return text + "No curation report found.\n"
    image = _copy_png(root / "curate" / "reports" / "funnel.png", out, "funnel.png")
    text += (image or "") + "\n"
    inventory = root / "tokens" / "inventory.parquet"
    if not inventory.is_file():
        inventory = root / "curate" / "inventory.parquet"
    if inventory.is_file():
        frame = pl.read_parquet(inventory)
        text += (
            "Inventory (tokens exact after tokenization):\n\n"
            + _table(
                frame.select(
                    [
                        c
                        for c in (
                            "source",
                            "domain",
                            "num_docs",
                            "num_tokens",
                            "mean_quality",
                            "mean_difficulty",
                        )
                        if c in frame.columns
                    ]
                )
            )
            + "\n"
        )
    truth = root / "corpus" / "ground_truth.json"
    if truth.is_file():
        from recipes.curation_check import planted_defects_table

        text += "Planted defects in the demo corpus and what curation did with them:\n\n"
        text += _table(planted_defects_table(truth, root / "curate")) + "\n"
    return text


def _plans(recipe: RecipeConfig, root: Path, out: Path) -> str:
    text = "## Mixture plans\n\n"
    names = (["base"] if recipe.base else []) + list(recipe.runs)
    for name in names:
        plan_dir = root / "base" / "plan" if name == "base" else root / "plans" / name
        if not (plan_dir / "plan.parquet").is_file():
            continue
        plan = pl.read_parquet(plan_dir / "plan.parquet")
        by_domain = (
            plan.group_by("phase", "phase_name", "domain")
            .agg(pl.col("share").sum(), pl.col("num_tokens").sum())
            .sort("phase", "domain")
        )
        text += f"### {name}\n\n" + (_copy_png(plan_dir / "plan.png", out, f"plan_{name}.png") or "") + "\n"
        text += _table(by_domain) + "\n"
    return text


def _training(recipe: RecipeConfig, root: Path, out: Path) -> str:
    runs: dict[str, Path] = {}
    if recipe.base is not None:
        runs["base"] = root / "base" / "run" / "metrics.jsonl"
    for name, spec in recipe.runs.items():
        for seed in spec.seeds:
            label = name if len(spec.seeds) == 1 else f"{name}/seed{seed}"
            runs[label] = root / "runs" / name / f"seed{seed}" / "metrics.jsonl"
    metrics = {k: read_metrics(v) for k, v in runs.items() if v.is_file()}
    metrics = {k: m for k, m in metrics.items() if m.height}
    if not metrics:
        return "## Training\n\nNo training metrics found.\n"
    plot_loss_curves(metrics, out / "loss_curves.png")
    has_base = "base" in metrics
    text = "## Training\n\n![loss curves](loss_curves.png)\n\n"
    text += (
        "Top left: training loss of every run (EMA over steps; raw in light lines); each anneal starts "
        "where the base run ends (dashed line). "
        if has_base
        else "Top left: training loss of every run. "
    )
    text += "Dotted lines are phase boundaries; below, each run's training loss per domain.\n"
    return text


def _evaluation(root: Path, out: Path) -> str:
    text = "## Evaluation\n\n"
    eval_file = root / "eval" / "eval.parquet"
    if not eval_file.is_file():
        return text + "No evaluation found.\n"
    frame = pl.read_parquet(eval_file)
    loss = frame.filter(pl.col("task").str.starts_with("loss/") & (pl.col("metric") == "loss"))
    if loss.height:
        wide = loss.with_columns(pl.col("task").str.strip_prefix("loss/").alias("domain")).pivot(
            on="domain", index="checkpoint", values="value"
        )
        text += "Held-out loss per domain (nats/token, lower is better):\n\n" + _table(wide) + "\n"
    for png in sorted((root / "eval").glob("*.png")):
        text += _copy_png(png, out, f"eval_{png.name}") or ""
    return text + "\nFull evaluation: `../eval/report.md` (paths relative to this report).\n"


def _claims(recipe: RecipeConfig, root: Path, out: Path) -> str:
    text = "## Does mid-training work here?\n\n"
    eval_file = root / "eval" / "eval.parquet"
    if not eval_file.is_file():
        return text + "No evaluation to check the claims on.\n"
    models = evaluated_models(recipe, root)
    ablation = next((m for m in models if "no-replay" in m or "no_replay" in m), None)
    decay_run = next((name for name in recipe.runs if name.startswith("decay")), None)
    constant_run = next((name for name in recipe.runs if name.startswith("constant")), None)
    decay_metrics = _first_seed_metrics(recipe, root, decay_run)
    constant_metrics = _first_seed_metrics(recipe, root, constant_run)
    claims = check_claims(
        pl.read_parquet(eval_file),
        base="base",
        anneal="anneal",
        ablation=ablation,
        decay=next((m for m in models if m.startswith("decay")), None),
        constant=next((m for m in models if m.startswith("constant")), None),
        target_domains=list(recipe.eval.get("target_domains", ["math", "code"])),
        general_domains=list(recipe.eval.get("general_domains", ["general"])),
        decay_metrics=decay_metrics,
        constant_metrics=constant_metrics,
        reference_domains=[f"reference:{name}" for name in recipe.eval.get("reference_sets") or {}],
    )
    for claim in claims:
        verdict = {True: "**holds**", False: "**does not hold at this scale**", None: "**not checked**"}[
            claim.holds
        ]
        text += f"- {claim.name}: {verdict}. {claim.detail}.\n"
    if decay_metrics is not None and constant_metrics is not None:
        colors = colors_of_runs(["base", *recipe.runs])  # as in loss_curves.png
        plot_decay_vs_constant(decay_metrics, constant_metrics, decay_run, constant_run, out, colors)
        text += "\n![decay vs constant LR](decay_vs_constant.png)\n"
    return text


def _first_seed_metrics(recipe: RecipeConfig, root: Path, run: str | None) -> pl.DataFrame | None:
    if run is None:
        return None
    path = root / "runs" / run / f"seed{recipe.runs[run].seeds[0]}" / "metrics.jsonl"
    return read_metrics(path) if path.is_file() else None
