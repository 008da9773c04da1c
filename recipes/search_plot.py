"""search.png: each domain's share in every proxy against its objective, with the prior and the
proposal marked, and (for a fitted law) the law's prediction against the measured objective."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl


def plot_search(proxies: pl.DataFrame, proposal: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixing.palette import domain_color

    names = proposal["names"]
    fitted = "predicted" in proxies.columns
    panels = len(names) + (1 if fitted else 0)
    fig, axes = plt.subplots(1, panels, figsize=(3.4 * panels, 3.3), squeeze=False)
    colors = {name: domain_color(name) for name in names}
    ok = proxies.filter(pl.col("status") == "ok")
    bad = proxies.filter(pl.col("status") != "ok")
    low, high = _objective_range(ok, proposal)
    for ax, name in zip(axes[0], names, strict=False):
        ax.scatter(ok[name], ok["objective"], color=colors[name], s=22, label="proxy")
        if bad.height:  # failed proxies have no objective: drawn on the bottom edge
            ax.scatter(bad[name], [low] * bad.height, marker="x", color="black", s=30, label="failed proxy")
        ax.axvline(proposal["prior"][name], color="grey", linestyle=":", label="prior")
        ax.axvline(proposal["mixture"][name], color="crimson", linestyle="--", label="proposal")
        if proposal.get("predicted_objective") is not None:
            ax.scatter(
                [proposal["mixture"][name]],
                [proposal["predicted_objective"]],
                marker="*",
                s=140,
                color="crimson",
                zorder=3,
                label="proposal (predicted)",
            )
        ax.set_xlabel(f"{name} share")
        ax.set_ylim(low - 0.05 * (high - low + 1e-9), high + 0.05 * (high - low + 1e-9))
        ax.set_xlim(-0.02, 1.02)
    axes[0][0].set_ylabel("objective (proxy, lower is better)")
    axes[0][0].legend(fontsize=7, loc="best")
    if fitted:
        ax = axes[0][-1]
        column = "predicted_heldout" if "predicted_heldout" in ok.columns else "predicted"
        ax.scatter(ok["objective"], ok[column], color="tab:blue", s=22)
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8)
        ax.set_xlabel("measured objective (proxy)")
        where = "out of fold" if column == "predicted_heldout" else "in sample"
        ax.set_ylabel(f"{proposal['law']} law, predicted ({where})")
        r2, rho = proposal.get("r2_heldout"), proposal.get("spearman_heldout")
        ax.set_title(f"out-of-fold R² {_fmt(r2)}, Spearman {_fmt(rho)}", fontsize=9)
    method = proposal["method"] + (f" ({proposal['law']})" if proposal.get("law") else "")
    runs = f"{ok.height} proxies fitted" if fitted else f"{ok.height} proxy runs (reference and rounds)"
    fig.suptitle(f"mixture search for run {proposal['run']!r}: {method}, {runs}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _objective_range(ok: pl.DataFrame, proposal: dict[str, Any]) -> tuple[float, float]:
    values = ok["objective"].to_list() + [v for v in (proposal.get("predicted_objective"),) if v is not None]
    return (min(values), max(values)) if values else (0.0, 1.0)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
