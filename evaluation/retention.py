"""Gains vs retention: how each checkpoint's held-out loss moved against the base checkpoint.

``delta = loss(checkpoint) - loss(base)`` in nats/token per domain, so a negative delta is a gain.
On target domains a gain is what mid-training is for; on general domains a delta above
``forgetting_threshold`` is flagged as forgetting.
"""

from __future__ import annotations

import polars as pl

RETENTION_COLUMNS = ["checkpoint", "domain", "role", "base_loss", "loss", "delta", "forgetting"]


def gains_retention(
    eval_frame: pl.DataFrame,
    *,
    base: str,
    target_domains: list[str],
    general_domains: list[str],
    forgetting_threshold: float,
) -> pl.DataFrame:
    """One row per (checkpoint != base, target or general domain present in the losses)."""
    losses = eval_frame.filter(pl.col("task").str.starts_with("loss/") & (pl.col("metric") == "loss"))
    losses = losses.with_columns(domain=pl.col("task").str.strip_prefix("loss/")).select(
        "checkpoint", "domain", pl.col("value").alias("loss")
    )
    if base not in losses["checkpoint"].to_list():
        raise ValueError(f"base checkpoint {base!r} has no held-out losses to compare against")
    roles = {**{d: "target" for d in target_domains}, **{d: "general" for d in general_domains}}
    base_losses = losses.filter(pl.col("checkpoint") == base).select(
        "domain", pl.col("loss").alias("base_loss")
    )
    frame = (
        losses.filter((pl.col("checkpoint") != base) & pl.col("domain").is_in(list(roles)))
        .join(base_losses, on="domain", how="inner", maintain_order="left")
        .with_columns(
            role=pl.col("domain").replace_strict(roles, return_dtype=pl.String),
            delta=pl.col("loss") - pl.col("base_loss"),
        )
        .with_columns(forgetting=(pl.col("role") == "general") & (pl.col("delta") > forgetting_threshold))
    )
    return frame.select(RETENTION_COLUMNS)


def summarize(retention: pl.DataFrame, checkpoints: list[str]) -> pl.DataFrame:
    """Per checkpoint: mean target gain (base - loss), mean general change (loss - base), flag."""
    rows = []
    for name in checkpoints:
        part = retention.filter(pl.col("checkpoint") == name)
        if part.is_empty():
            continue
        target = part.filter(pl.col("role") == "target")["delta"]
        general = part.filter(pl.col("role") == "general")["delta"]
        rows.append(
            {
                "checkpoint": name,
                "target_gain": -float(target.mean()) if len(target) else None,
                "general_change": float(general.mean()) if len(general) else None,
                "forgetting": bool(part["forgetting"].any()),
            }
        )
    schema = {
        "checkpoint": pl.String,
        "target_gain": pl.Float64,
        "general_change": pl.Float64,
        "forgetting": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)


def retention_rows(retention: pl.DataFrame, summary: pl.DataFrame) -> list[dict]:
    """Eval rows: ``delta/<domain>`` (delta_loss, forgetting) and ``gains_vs_retention`` summaries."""
    rows = []
    for r in retention.iter_rows(named=True):
        rows.append(
            {
                "checkpoint": r["checkpoint"],
                "task": f"delta/{r['domain']}",
                "metric": "delta_loss",
                "value": r["delta"],
                "n": None,
            }
        )
        if r["role"] == "general":
            rows.append(
                {
                    "checkpoint": r["checkpoint"],
                    "task": f"delta/{r['domain']}",
                    "metric": "forgetting",
                    "value": float(r["forgetting"]),
                    "n": None,
                }
            )
    for r in summary.iter_rows(named=True):
        for metric in ("target_gain", "general_change"):
            if r[metric] is not None:
                rows.append(
                    {
                        "checkpoint": r["checkpoint"],
                        "task": "gains_vs_retention",
                        "metric": metric,
                        "value": r[metric],
                        "n": None,
                    }
                )
        rows.append(
            {
                "checkpoint": r["checkpoint"],
                "task": "gains_vs_retention",
                "metric": "forgetting",
                "value": float(r["forgetting"]),
                "n": None,
            }
        )
    return rows
