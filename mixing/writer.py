"""Write a plan: ``plan.parquet``, ``plan.json`` (its inputs) and ``plan.png`` (the schedule).

``plan.json`` records what made the plan: the resolved MixConfig, a digest of the inventory
columns the plan used (or of the whole inventory when given), package versions, the git commit,
every change a ``resolve='auto'`` re-solve made, and the warnings. No timestamps, so the same
inputs give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path

import polars as pl

from mixing.config import RECOMMENDED_MAX_EPOCHS, MixConfig
from mixing.schema import check_plan

_VERSIONED = ("midtrain", "polars", "numpy", "scikit-learn", "pydantic")


def summarize_plan(plan: pl.DataFrame) -> pl.DataFrame:
    """One row per phase: name, tokens, steps, share per domain, and the largest epochs so far."""
    domain_shares = (
        plan.group_by(["phase", "domain"])
        .agg(pl.col("share").sum())
        .pivot(on="domain", index="phase", values="share", sort_columns=True)
        .with_columns(pl.exclude("phase").fill_null(0.0))
    )
    phases = plan.group_by("phase").agg(
        pl.col("phase_name").first(),
        (pl.col("phase_end_token").first() - pl.col("phase_start_token").first()).alias("num_tokens"),
        pl.col("phase_start_step").first(),
        pl.col("phase_end_step").first(),
        pl.col("epochs").max().alias("max_epochs"),
    )
    return phases.join(domain_shares, on="phase").sort("phase")


def inventory_digest(frame: pl.DataFrame) -> str:
    """sha256 of a frame's rows sorted by source (row order does not matter)."""
    canonical = frame.sort("source").write_csv()
    return hashlib.sha256(canonical.encode()).hexdigest()


def _versions() -> dict[str, str]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def plan_metadata(
    plan: pl.DataFrame,
    *,
    config: MixConfig,
    inventory: pl.DataFrame | None = None,
    changes: list[str] | None = None,
    warnings: list[str] | None = None,
) -> dict:
    used = (
        plan.filter(pl.col("phase") == 0).select("source", "domain", "unique_tokens", "tier")
        if ("unique_tokens" in plan.columns and "tier" in plan.columns)
        else plan.select("source", "domain").unique()
    )
    if changes is None and "constraint" in plan.columns:
        moved = plan.filter(pl.col("constraint").is_not_null())
        changes = [
            f"phase {r['phase_name']!r}: source {r['source']!r} share {r['target_share']:.4f} -> "
            f"{r['share']:.4f} ({r['constraint']})"
            for r in moved.iter_rows(named=True)
        ]
    warnings = list(warnings or [])
    if config.max_epochs > RECOMMENDED_MAX_EPOCHS and not warnings:
        warnings.append(f"max_epochs {config.max_epochs} is above {RECOMMENDED_MAX_EPOCHS:g}")
    return {
        "schema": "midtrain.plan/1",
        "config": config.model_dump(mode="json"),
        "inventory_digest": inventory_digest(inventory if inventory is not None else used),
        "inventory_digest_of": "inventory"
        if inventory is not None
        else "plan columns source, domain, unique_tokens, tier",
        "num_phases": int(plan["phase"].n_unique()),
        "num_sources": int(plan["source"].n_unique()),
        "num_tokens": int(plan["num_tokens"].sum()),
        "changes": changes or [],
        "warnings": warnings,
        "versions": _versions(),
        "git_commit": _git_commit(),
    }


def write_plan(
    plan: pl.DataFrame,
    out_dir: str | Path,
    *,
    config: MixConfig,
    inventory: pl.DataFrame | None = None,
    changes: list[str] | None = None,
    warnings: list[str] | None = None,
    plot: bool = True,
) -> Path:
    """Write ``out_dir/plan.parquet``, ``plan.json`` and ``plan.png``; return the parquet path."""
    check_plan(plan)
    meta = plan_metadata(plan, config=config, inventory=inventory, changes=changes, warnings=warnings)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "plan.parquet"
    plan.write_parquet(path)
    (out_dir / "plan.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if plot:
        from mixing.plot import plot_plan

        plot_plan(
            plan,
            out_dir / "plan.png",
            min_general_share=config.min_general_share,
            general_domains=list(config.general_domains),
        )
    return path
