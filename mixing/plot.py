"""``plan.png``: the share of each domain over training, stacked, with phase boundaries.

General domains form the bottom bands, so the reserved-general floor is drawn on them; colours
come from ``mixing/palette.py`` (the same as in every evaluation plot).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from mixing.palette import domain_color


def plot_plan(
    plan: pl.DataFrame,
    path: str | Path,
    *,
    min_general_share: float = 0.0,
    general_domains: list[str] | tuple[str, ...] = ("general",),
) -> Path:
    """Stacked shares per domain against training tokens (constant within each phase)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_phase = (
        plan.group_by(["phase", "domain"])
        .agg(pl.col("share").sum(), pl.col("phase_start_token").first(), pl.col("phase_end_token").first())
        .pivot(
            on="domain",
            index=["phase", "phase_start_token", "phase_end_token"],
            values="share",
            sort_columns=True,
        )
        .with_columns(pl.exclude("phase", "phase_start_token", "phase_end_token").fill_null(0.0))
        .sort("phase")
    )
    domains = [c for c in per_phase.columns if c not in ("phase", "phase_start_token", "phase_end_token")]
    domains.sort(key=lambda d: (d not in general_domains, d))  # general at the bottom: the floor sits on it
    # Each phase contributes its start and end, so the areas are flat within a phase.
    x = np.repeat(per_phase["phase_start_token"].to_numpy(), 2).astype(np.float64)
    x[1::2] = per_phase["phase_end_token"].to_numpy()
    scale, unit = next(
        ((s, u) for s, u in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")) if x.max() >= s), (1, "")
    )
    ys = [np.repeat(per_phase[d].to_numpy(), 2) for d in domains]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.stackplot(x / scale, ys, labels=domains, colors=[domain_color(d) for d in domains], alpha=0.85)
    names = plan.group_by("phase").agg(pl.col("phase_name").first()).sort("phase")["phase_name"].to_list()
    starts = per_phase["phase_start_token"].to_numpy() / scale
    for start, name in zip(starts, names, strict=True):
        ax.axvline(start, color="black", linewidth=0.6)
        if len(names) <= 12:
            ax.text(
                start,
                1.01,
                f" {name}",
                rotation=30,
                fontsize=7,
                va="bottom",
                transform=ax.get_xaxis_transform(),
            )
    if min_general_share > 0:
        general = [d for d in domains if d in general_domains]
        label = f"general floor: at least {min_general_share:.0%} {'+'.join(general) or 'general'}"
        ax.axhline(min_general_share, color="black", linestyle="--", linewidth=1.2, label=label)
    ax.set_xlim(x.min() / scale, x.max() / scale)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"training tokens ({unit})" if unit else "training tokens")
    ax.set_ylabel("share of the phase")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
