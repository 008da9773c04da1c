"""The demo's three mid-training claims, checked on its own numbers.

(a) The anneal lowers target-domain held-out loss clearly more than general loss.
(b) With the reserved general share, general held-out loss stays within ``retention_margin`` of
    the base, while the ablation without it loses more. Measured on the reference sets
    (``eval.reference_sets``: the model's original distribution) when there are any, else on the
    general domains; the claim says which.
(c) The decay phase produces the characteristic loss drop. From the constant-LR base, one run
    decays the LR to zero and one keeps it constant, on the same plan and seed, so both see the same
    batches in the same order: the gap between their training losses is paired, batch by batch.
    The claim holds when, over the last 10% of steps, the decayed run's loss is clearly below the
    constant run's, measured against the same gap over the first 10% (when the LRs nearly agree).
(c') The same comparison on general held-out loss, against the run-to-run noise of this model
    size: the drop on text neither run trained on. Reported separately, because at toy scale
    (several epochs over a small general corpus) most of the drop is on text the model has seen.

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
    decay: str | None,
    constant: str | None,
    target_domains: list[str],
    general_domains: list[str],
    decay_metrics: pl.DataFrame | None = None,
    constant_metrics: pl.DataFrame | None = None,
    retention_margin: float = 0.05,
    noise: float = 0.06,
    min_drop: float = 0.05,
    reference_domains: list[str] = (),
) -> list[Claim]:
    losses = domain_losses(eval_frame)
    retained = list(reference_domains) or general_domains
    return [
        _claim_targets_gain_more(losses, base, anneal, target_domains, general_domains),
        _claim_retention(losses, base, anneal, ablation, retained, retention_margin, bool(reference_domains)),
        _claim_decay_drop_in_training(decay_metrics, constant_metrics, min_drop),
        _claim_decay_drop_heldout(losses, decay, constant, general_domains, noise),
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


def _claim_retention(losses, base, anneal, ablation, generals, margin, on_reference: bool = False) -> Claim:
    name = "(b) the reserved general share prevents forgetting"
    d_anneal = _mean_delta(losses, anneal, base, generals)
    d_ablation = _mean_delta(losses, ablation, base, generals) if ablation else None
    if d_anneal is None or d_ablation is None:
        return Claim(name, None, "needs the base, the anneal and the no-replay ablation evaluated")
    holds = d_anneal <= margin and d_ablation > d_anneal + margin
    what = (
        f"reference-set ({', '.join(generals)}: the base's pre-training distribution)"
        if on_reference
        else "general (the anneal's own general data; no reference set given)"
    )
    return Claim(
        name,
        holds,
        f"{what} held-out loss change vs base: with the reserved share {d_anneal:+.3f} "
        f"nats (margin {margin}), without it {d_ablation:+.3f} nats",
    )


def read_metrics(path: Path) -> pl.DataFrame:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pl.DataFrame(rows) if rows else pl.DataFrame({"step": [], "loss": []})


def paired_training_gap(decay: pl.DataFrame, constant: pl.DataFrame) -> pl.DataFrame:
    """step, lr of each run, and constant-minus-decay training loss at the steps both logged."""
    return (
        decay.select("step", pl.col("loss").alias("loss_decay"), pl.col("lr").alias("lr_decay"))
        .join(
            constant.select("step", pl.col("loss").alias("loss_constant"), pl.col("lr").alias("lr_constant")),
            on="step",
        )
        .sort("step")
        .with_columns(gap=pl.col("loss_constant") - pl.col("loss_decay"))
    )


def _claim_decay_drop_in_training(decay, constant, min_drop) -> Claim:
    """The decay run's training loss vs the constant-LR run's on the same batches."""
    name = "(c) the decay phase gives the characteristic loss drop (training loss, same batches)"
    if decay is None or constant is None or decay.height == 0 or constant.height == 0:
        return Claim(name, None, "needs a decay run and a constant-LR run with training metrics")
    paired = paired_training_gap(decay, constant)
    if paired.height < 4:
        return Claim(name, None, f"only {paired.height} steps logged by both runs; need at least 4")
    last_step = paired["step"].max()
    # At least two logged steps per window, so one noisy batch cannot decide the verdict.
    early = paired.filter(pl.col("step") <= 0.1 * last_step)
    late = paired.filter(pl.col("step") > 0.9 * last_step)
    early = early if early.height >= 2 else paired.head(2)
    late = late if late.height >= 2 else paired.tail(2)
    start_gap = float(early["gap"].mean())
    end_gap = float(late["gap"].mean())
    holds = end_gap >= min_drop and end_gap > 3 * abs(start_gap)
    return Claim(
        name,
        holds,
        f"on the same batches in the same order, the run whose LR decays to 0 ends with training "
        f"loss {end_gap:.3f} nats below the constant-LR run (mean over the last 10% of steps), "
        f"against {start_gap:+.3f} nats over the first 10%, when the two LRs nearly agreed; "
        f"the claim needs at least {min_drop} nats and 3x the starting gap",
    )


def _claim_decay_drop_heldout(losses, decay, constant, generals, noise) -> Claim:
    """WSD's decay vs carrying on at constant LR, same data and steps, on held-out general loss."""
    name = "(c') the decay's drop carries over to held-out general text"
    d_decay = _mean_delta(losses, decay, "base", generals) if decay else None
    d_constant = _mean_delta(losses, constant, "base", generals) if constant else None
    if d_decay is None or d_constant is None:
        return Claim(name, None, "needs a decay run and a constant-LR run on the same data from the base")
    gap = d_constant - d_decay
    holds = gap > noise
    return Claim(
        name,
        holds,
        f"from the constant-LR base, {decay} (LR decayed to 0) changed general held-out loss "
        f"by {d_decay:+.3f} nats, {constant} (same data, LR kept constant) by {d_constant:+.3f}: "
        f"the decay is worth {gap:.3f} nats (run-to-run noise at this size is ~{noise} nats)",
    )
