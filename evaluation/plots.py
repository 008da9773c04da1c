"""PNG plots for the report: loss per domain, gains vs retention, long-context accuracy grids."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def plot_domain_losses(frame: pl.DataFrame, path: Path) -> Path | None:
    """Grouped bars: held-out loss per domain (x) for each checkpoint (colour)."""
    losses = frame.filter(pl.col("task").str.starts_with("loss/") & (pl.col("metric") == "loss"))
    if losses.is_empty():
        return None
    plt = _pyplot()
    domains = list(dict.fromkeys(t.removeprefix("loss/") for t in losses["task"]))
    checkpoints = list(dict.fromkeys(losses["checkpoint"]))
    width = 0.8 / len(checkpoints)
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(domains) * max(1, len(checkpoints) / 2)), 3.6))
    for i, name in enumerate(checkpoints):
        part = {
            r["task"].removeprefix("loss/"): r["value"]
            for r in losses.filter(pl.col("checkpoint") == name).iter_rows(named=True)
        }
        xs = [j + (i - (len(checkpoints) - 1) / 2) * width for j in range(len(domains))]
        ax.bar(xs, [part.get(d, float("nan")) for d in domains], width=width, label=name)
    ax.set_xticks(range(len(domains)), domains)
    ax.set_ylabel("held-out loss (nats/token)")
    ax.set_title("Held-out loss per domain")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_gains_retention(summary: pl.DataFrame, threshold: float, path: Path) -> Path | None:
    """Each checkpoint as a point: general-domain change (x, right = forgetting) vs target gain (y)."""
    summary = summary.drop_nulls(["target_gain", "general_change"])
    if summary.is_empty():
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4))
    for r in summary.iter_rows(named=True):
        color = "tab:red" if r["forgetting"] else "tab:blue"
        ax.scatter(r["general_change"], r["target_gain"], color=color, s=40)
        ax.annotate(
            r["checkpoint"],
            (r["general_change"], r["target_gain"]),
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.axvline(threshold, color="tab:red", linestyle="--", linewidth=1, label=f"forgetting > {threshold:g}")
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("general loss change vs base (nats/token, + = worse)")
    ax.set_ylabel("target loss gain vs base (nats/token, + = better)")
    ax.set_title("Gains vs retention")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_longcontext(frame: pl.DataFrame, probe: str, path: Path) -> Path | None:
    """One heatmap per checkpoint: accuracy by depth (rows) and length (columns)."""
    grid = longcontext_grid(frame, probe)
    if grid.is_empty():
        return None
    plt = _pyplot()
    checkpoints = list(dict.fromkeys(grid["checkpoint"]))
    lengths = sorted(set(grid["length"]))
    depths = sorted(set(grid["depth"]))
    fig, axes = plt.subplots(
        1,
        len(checkpoints),
        figsize=(1.2 + 0.9 * len(lengths) * len(checkpoints) + 1, 0.5 * len(depths) + 1.8),
        squeeze=False,
    )
    image = None
    for ax, name in zip(axes[0], checkpoints, strict=True):
        cells = {
            (r["depth"], r["length"]): r["value"]
            for r in grid.filter(pl.col("checkpoint") == name).iter_rows(named=True)
        }
        data = [[cells.get((d, n), float("nan")) for n in lengths] for d in depths]
        image = ax.imshow(data, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        for i, row in enumerate(data):
            for j, value in enumerate(row):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(lengths)), [str(n) for n in lengths], fontsize=7)
        ax.set_yticks(range(len(depths)), [f"{d:g}" for d in depths], fontsize=7)
        ax.set_xlabel("length (tokens)")
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("depth")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="accuracy")
    fig.suptitle(f"{probe} accuracy", fontsize=10)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def longcontext_grid(frame: pl.DataFrame, probe: str) -> pl.DataFrame:
    """Rows of ``accuracy@<length>@<depth>`` for ``probe`` as (checkpoint, length, depth, value, n)."""
    part = frame.filter((pl.col("task") == probe) & pl.col("metric").str.starts_with("accuracy@"))
    return part.with_columns(
        length=pl.col("metric").str.split("@").list.get(1).cast(pl.Int64),
        depth=pl.col("metric").str.split("@").list.get(2).cast(pl.Float64),
    ).select("checkpoint", "length", "depth", "value", "n")
