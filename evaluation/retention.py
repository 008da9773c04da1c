"""Gains vs retention: how each checkpoint's held-out loss moved against the base checkpoint.

``delta = loss(checkpoint) - loss(base)`` in nats/token per domain, so a negative delta is a gain.
On target domains a gain is what mid-training is for; on general domains and reference sets a
delta above ``forgetting_threshold`` is flagged as forgetting.

The retention verdict (``summarize``'s ``forgetting``) uses the **reference sets** (held-out text of
the model's original distribution, role ``reference``) when there are any, and otherwise the
anneal's own general domains, which may be new to the model: ``retention_basis`` says which.
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
    reference_domains: list[str] = (),
) -> pl.DataFrame:
    """One row per (checkpoint != base, target, general or reference domain present in the losses)."""
    losses = eval_frame.filter(pl.col("task").str.starts_with("loss/") & (pl.col("metric") == "loss"))
    losses = losses.with_columns(domain=pl.col("task").str.strip_prefix("loss/")).select(
        "checkpoint", "domain", pl.col("value").alias("loss")
    )
    if base not in losses["checkpoint"].to_list():
        raise ValueError(f"base checkpoint {base!r} has no held-out losses to compare against")
    roles = {d: "target" for d in target_domains} | {d: "general" for d in general_domains}
    roles |= {d: "reference" for d in reference_domains}
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
        .with_columns(
            forgetting=pl.col("role").is_in(["general", "reference"])
            & (pl.col("delta") > forgetting_threshold)
        )
    )
    return frame.select(RETENTION_COLUMNS)


def summarize(retention: pl.DataFrame, checkpoints: list[str]) -> pl.DataFrame:
    """Per checkpoint: mean target gain (base - loss), mean general and reference change (loss - base),
    and the forgetting verdict on the reference sets if any, else on the general domains."""
    has_reference = bool((retention["role"] == "reference").any()) if not retention.is_empty() else False
    basis = "reference" if has_reference else "general"
    rows = []
    for name in checkpoints:
        part = retention.filter(pl.col("checkpoint") == name)
        if part.is_empty():
            continue
        deltas = {
            role: part.filter(pl.col("role") == role)["delta"] for role in ("target", "general", "reference")
        }
        rows.append(
            {
                "checkpoint": name,
                "target_gain": -float(deltas["target"].mean()) if len(deltas["target"]) else None,
                "general_change": float(deltas["general"].mean()) if len(deltas["general"]) else None,
                "reference_change": float(deltas["reference"].mean()) if len(deltas["reference"]) else None,
                "forgetting": bool(part.filter(pl.col("role") == basis)["forgetting"].any()),
                "retention_basis": basis,
            }
        )
    schema = {
        "checkpoint": pl.String,
        "target_gain": pl.Float64,
        "general_change": pl.Float64,
        "reference_change": pl.Float64,
        "forgetting": pl.Boolean,
        "retention_basis": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def retention_change(row: dict) -> float | None:
    """The loss change the verdict is about: reference sets when measured, else general domains."""
    return row["reference_change"] if row["retention_basis"] == "reference" else row["general_change"]


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
        if r["role"] in ("general", "reference"):
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
        for metric in ("target_gain", "general_change", "reference_change"):
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
