"""The run report's training plots: loss curves of every run, and decay vs constant LR.

Runs get colours of their own (``_RUN_COLORS``); domains get ``evaluation/palette.py``'s, the same
as in every evaluation and plan plot.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from evaluation.palette import domain_color  # noqa: E402
from recipes.claims import paired_training_gap  # noqa: E402


def plot_loss_curves(metrics: dict[str, pl.DataFrame], path: Path) -> Path:
    """Loss of every run (anneals continue from the base's last step), LR per run, per-domain panels.

    Seeds of a run share its colour; the LR panel draws one line per run (seeds share the schedule).
    """
    has_base = "base" in metrics
    base_end = int(metrics["base"]["step"].max()) if has_base else 0
    run_colors = colors_of_runs(list(dict.fromkeys(label.split("/seed")[0] for label in metrics)))
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


def colors_of_runs(runs: list[str]) -> dict[str, str]:
    """Run name -> colour, the same in every plot of a report (base is black)."""
    others = [name for name in runs if name != "base"]
    return {name: _RUN_COLORS[i % len(_RUN_COLORS)] for i, name in enumerate(others)} | {"base": "black"}


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


def plot_decay_vs_constant(
    decay, constant, decay_name, constant_name, out: Path, colors: dict | None = None
) -> None:
    """Both runs' training loss on the same batches, and their gap next to the LRs."""
    paired = paired_training_gap(decay, constant)
    if paired.height == 0:
        return
    steps = paired["step"].to_numpy()
    fig, (ax_loss, ax_gap) = plt.subplots(1, 2, figsize=(12, 4.2))
    for column, label in (("loss_constant", constant_name), ("loss_decay", decay_name)):
        color = (colors or {}).get(label)
        ax_loss.plot(steps, paired[column].to_numpy(), lw=0.6, alpha=0.35, color=color)
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
