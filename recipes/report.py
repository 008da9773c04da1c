"""The run's ``report.md``: curation funnel, plans, loss curves, per-domain evaluation, claims.

Every section reads the files the stages wrote; a section whose files are missing says so
instead of failing, so a partial run still gets a report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from evaluation.palette import domain_color  # noqa: E402
from recipes.claims import check_claims, paired_training_gap, read_metrics  # noqa: E402
from recipes.config import RecipeConfig  # noqa: E402
from recipes.runner import RunDir  # noqa: E402
from recipes.stages import evaluated_models  # noqa: E402


def write_report(recipe: RecipeConfig, root: Path, out: Path) -> list[Path]:
    sections = [
        f"# midtrain run: {recipe.name}\n",
        recipe.description.strip() + "\n" if recipe.description else "",
        _provenance(root),
        _curation(root, out),
        _plans(recipe, root, out),
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


def plot_loss_curves(metrics: dict[str, pl.DataFrame], path: Path) -> Path:
    """Loss of every run (anneals continue from the base's last step), LR per run, per-domain panels.

    Seeds of a run share its colour; the LR panel draws one line per run (seeds share the schedule).
    """
    has_base = "base" in metrics
    base_end = int(metrics["base"]["step"].max()) if has_base else 0
    runs = list(dict.fromkeys(label.split("/seed")[0] for label in metrics))
    others = [name for name in runs if name != "base"]
    run_colors = {name: _RUN_COLORS[i % len(_RUN_COLORS)] for i, name in enumerate(others)} | {
        "base": "black"
    }
    domain_runs = [label for label, m in metrics.items() if any(c.startswith("loss/") for c in m.columns)]
    rows = 2 if domain_runs else 1
    fig = plt.figure(figsize=(13, 4.4 * rows))
    grid = fig.add_gridspec(rows, max(2, len(domain_runs)) if domain_runs else 2)
    half = max(1, grid.ncols // 2)
    ax_loss = fig.add_subplot(grid[0, : grid.ncols - half] if grid.ncols > 2 else grid[0, 0])
    ax_lr = fig.add_subplot(grid[0, grid.ncols - half :] if grid.ncols > 2 else grid[0, 1])
    for label, frame in metrics.items():
        run = label.split("/seed")[0]
        offset = 0 if label == "base" else base_end
        steps = frame["step"].to_numpy() + offset
        color = run_colors[run]
        ax_loss.plot(steps, frame["loss"].to_numpy(), color=color, lw=0.6, alpha=0.25)
        ax_loss.plot(steps, frame["loss"].ewm_mean(alpha=0.2).to_numpy(), color=color, lw=1.4, label=label)
        _phase_lines(ax_loss, frame, offset, color)
    _plot_schedules(ax_lr, metrics, base_end, run_colors)
    for ax in (ax_loss, ax_lr):
        if has_base:
            ax.axvline(base_end, color="grey", ls="--", lw=1)
            ax.text(base_end, 0.98, " anneal start", transform=ax.get_xaxis_transform(), fontsize=8, va="top")
        ax.set_xlabel("step (anneals continue from the base run's last step)" if has_base else "step")
    title = "Training loss: base pre-training, then each anneal" if has_base else "Training loss per run"
    ax_loss.set(ylabel="training loss (nats/token)", title=title)
    ax_loss.legend(fontsize=7, ncol=2)
    ax_lr.set(ylabel="learning rate", title="Learning rate (one line per schedule, naming its runs)")
    ax_lr.legend(fontsize=7)
    for k, label in enumerate(domain_runs):
        ax = fig.add_subplot(grid[1, k])
        frame = metrics[label]
        offset = 0 if label == "base" else base_end
        for column in sorted(c for c in frame.columns if c.startswith("loss/")):
            domain = column.removeprefix("loss/")
            part = frame.select("step", column).drop_nulls()
            smooth = part[column].ewm_mean(alpha=0.2).to_numpy()
            ax.plot(
                part["step"].to_numpy() + offset, smooth, color=domain_color(domain), lw=1.3, label=domain
            )
        _phase_lines(ax, frame, offset, "grey")
        ax.set_title(label, fontsize=9, color=run_colors[label.split("/seed")[0]])
        if k == 0:
            ax.set_ylabel("training loss per domain (EMA)", fontsize=8)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# Run colours (not domain colours: those are evaluation/palette.py's, used where domains are drawn).
_RUN_COLORS = ["#1b9e77", "#7570b3", "#e7298a", "#e6ab02", "#a6761d", "#666666", "#d95f02", "#66a61e"]


def _plot_schedules(ax, metrics: dict[str, pl.DataFrame], base_end: int, run_colors: dict) -> None:
    """One LR line per distinct schedule, labelled with every run that follows it (seeds share one)."""
    schedules: dict[tuple, list[str]] = {}
    curves: dict[tuple, tuple] = {}
    for label, frame in metrics.items():
        if "lr" not in frame.columns:
            continue
        run = label.split("/seed")[0]
        offset = 0 if label == "base" else base_end
        steps, lrs = frame["step"].to_numpy() + offset, frame["lr"].to_numpy()
        key = (offset, tuple(round(float(v), 12) for v in lrs))
        if run not in schedules.setdefault(key, []):
            schedules[key].append(run)
        curves[key] = (steps, lrs)
    for key, names in schedules.items():
        steps, lrs = curves[key]
        color = run_colors[names[0]] if len(names) == 1 else "grey"
        ax.plot(steps, lrs, color=color, lw=1.6, label=", ".join(names))


def _phase_lines(ax, frame: pl.DataFrame, offset: int, color) -> None:
    """A dotted line where the logged phase changes within a run."""
    if "phase" not in frame.columns:
        return
    phases = frame.select("step", "phase").drop_nulls()
    changes = phases.filter(pl.col("phase") != pl.col("phase").shift(1))  # row 0: null, dropped
    for step in changes["step"].to_list():
        ax.axvline(step + offset, color=color, ls=":", lw=0.9)


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
        _plot_decay_vs_constant(decay_metrics, constant_metrics, decay_run, constant_run, out)
        text += "\n![decay vs constant LR](decay_vs_constant.png)\n"
    return text


def _first_seed_metrics(recipe: RecipeConfig, root: Path, run: str | None) -> pl.DataFrame | None:
    if run is None:
        return None
    path = root / "runs" / run / f"seed{recipe.runs[run].seeds[0]}" / "metrics.jsonl"
    return read_metrics(path) if path.is_file() else None


def _plot_decay_vs_constant(decay, constant, decay_name, constant_name, out: Path) -> None:
    """Both runs' training loss on the same batches, and their gap next to the LRs."""
    paired = paired_training_gap(decay, constant)
    if paired.height == 0:
        return
    steps = paired["step"].to_numpy()
    fig, (ax_loss, ax_gap) = plt.subplots(1, 2, figsize=(12, 4.2))
    for column, label in (("loss_constant", constant_name), ("loss_decay", decay_name)):
        ax_loss.plot(steps, paired[column].to_numpy(), lw=0.6, alpha=0.35)
        smooth = paired[column].ewm_mean(alpha=0.15).to_numpy()
        ax_loss.plot(steps, smooth, lw=1.8, label=f"{label} (EMA)", color=ax_loss.lines[-1].get_color())
    ax_loss.set(xlabel="anneal step", ylabel="training loss (nats)", title="Same batches, two LR schedules")
    ax_loss.legend(fontsize=8)
    ax_gap.plot(steps, paired["gap"].to_numpy(), color="tab:purple", lw=0.8, alpha=0.5)
    ax_gap.plot(steps, paired["gap"].ewm_mean(alpha=0.15).to_numpy(), color="tab:purple", lw=1.8)
    ax_gap.axhline(0, color="grey", lw=0.8)
    ax_gap.set(xlabel="anneal step", ylabel="constant minus decay (nats)", title="Loss gap and LRs")
    ax_lr = ax_gap.twinx()
    ax_lr.plot(steps, paired["lr_constant"].to_numpy(), color="grey", ls="--", lw=1)
    ax_lr.plot(steps, paired["lr_decay"].to_numpy(), color="black", ls=":", lw=1)
    ax_lr.set_ylabel("learning rate (dashed: constant, dotted: decay)")
    fig.tight_layout()
    fig.savefig(out / "decay_vs_constant.png", dpi=110)
    plt.close(fig)
