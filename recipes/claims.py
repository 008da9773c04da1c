"""The demo's three mid-training claims, checked on its own numbers.

(a) The anneal lowers target-domain held-out loss clearly more than general loss.
(b) With the reserved general share, general held-out loss stays within ``retention_margin`` of
    the base, while the ablation without it loses more.
(c) The decay phase produces the characteristic loss drop: over the decay, the training loss
    falls clearly faster than the trend of the end of the constant-LR phase predicts.

Each claim returns its numbers and a verdict; a claim that does not hold is reported as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl


@dataclass
class Claim:
    name: str
    holds: bool | None  # None: could not be checked (a run or a metric is missing)
    detail: str


def domain_losses(eval_frame: pl.DataFrame) -> dict[str, dict[str, float]]:
    """checkpoint -> domain -> held-out loss."""
    rows = eval_frame.filter(pl.col("task").str.starts_with("loss/") & (pl.col("metric") == "loss"))
    result: dict[str, dict[str, float]] = {}
    for row in rows.iter_rows(named=True):
        result.setdefault(row["checkpoint"], {})[row["task"].removeprefix("loss/")] = row["value"]
    return result


def check_claims(
    eval_frame: pl.DataFrame,
    *,
    base: str,
    anneal: str,
    ablation: str | None,
    decay_run_metrics: Path | None,
    base_metrics: Path | None,
    target_domains: list[str],
    general_domains: list[str],
    retention_margin: float = 0.05,
) -> list[Claim]:
    losses = domain_losses(eval_frame)
    return [
        _claim_targets_gain_more(losses, base, anneal, target_domains, general_domains),
        _claim_retention(losses, base, anneal, ablation, general_domains, retention_margin),
        _claim_decay_drop(base_metrics, decay_run_metrics),
    ]


def _mean_delta(losses, model, base, domains) -> float | None:
    values = [
        losses[model][d] - losses[base][d]
        for d in domains
        if d in losses.get(model, {}) and d in losses.get(base, {})
    ]
    return float(np.mean(values)) if values else None


def _claim_targets_gain_more(losses, base, anneal, targets, generals) -> Claim:
    name = "(a) target domains gain more than general"
    d_target = _mean_delta(losses, anneal, base, targets)
    d_general = _mean_delta(losses, anneal, base, generals)
    if d_target is None or d_general is None:
        return Claim(name, None, f"missing held-out losses for {base!r} or {anneal!r}")
    holds = d_target < 0 and d_target < d_general - 0.1
    return Claim(
        name,
        holds,
        f"held-out loss change {base} -> {anneal}: target domains {d_target:+.3f} nats, "
        f"general {d_general:+.3f} nats",
    )


def _claim_retention(losses, base, anneal, ablation, generals, margin) -> Claim:
    name = "(b) the reserved general share prevents forgetting"
    d_anneal = _mean_delta(losses, anneal, base, generals)
    d_ablation = _mean_delta(losses, ablation, base, generals) if ablation else None
    if d_anneal is None or d_ablation is None:
        return Claim(name, None, "needs the base, the anneal and the no-replay ablation evaluated")
    holds = d_anneal <= margin and d_ablation > d_anneal + margin
    return Claim(
        name,
        holds,
        f"general held-out loss change vs base: with the reserved share {d_anneal:+.3f} "
        f"nats (margin {margin}), without it {d_ablation:+.3f} nats",
    )


def read_metrics(path: Path) -> pl.DataFrame:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pl.DataFrame(rows) if rows else pl.DataFrame({"step": [], "loss": []})


def _claim_decay_drop(base_metrics: Path | None, decay_metrics: Path | None) -> Claim:
    name = "(c) the decay phase gives the characteristic loss drop"
    if (
        base_metrics is None
        or decay_metrics is None
        or not base_metrics.is_file()
        or not decay_metrics.is_file()
    ):
        return Claim(name, None, "needs the constant-LR base run and a decay run on the same data")
    stable = read_metrics(base_metrics).sort("step")
    decay = read_metrics(decay_metrics).sort("step")
    if stable.height < 6 or decay.height < 3:
        return Claim(name, None, "too few logged steps to fit a trend")
    tail = stable.tail(max(3, stable.height * 2 // 5))
    slope, _ = np.polyfit(tail["step"].to_numpy().astype(float), tail["loss"].to_numpy().astype(float), 1)
    decay_steps = float(decay["step"].max())
    window = max(2, decay.height // 5)
    start_loss = float(tail["loss"].tail(window).mean())
    end_loss = float(decay["loss"].tail(window).mean())
    trend_drop = max(0.0, -slope * decay_steps)
    actual_drop = start_loss - end_loss
    noise = float(tail["loss"].std() or 0.0)
    holds = actual_drop > trend_drop + 2 * noise / np.sqrt(window)
    return Claim(
        name,
        holds,
        f"training loss fell {actual_drop:.3f} nats over the {decay_steps:.0f}-step decay; "
        f"the constant-LR trend predicts {trend_drop:.3f} (noise {noise:.3f})",
    )
