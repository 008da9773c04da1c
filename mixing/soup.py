"""Soup plans: one mixture, N data orders, for checkpoint averaging (OLMo 2 anneals 3 and averages).

The mixture (every share and token count) is identical across the soup; only the ``seed`` column
differs, and the loader seeds its document shuffling with it. ``write_soup_plans`` writes one plan
folder per seed so each training run reads an ordinary plan.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mixing.config import MixConfig
from mixing.writer import write_plan


def soup_plans(plan: pl.DataFrame, *, seeds: list[int]) -> pl.DataFrame:
    """The plan repeated once per seed, with the ``seed`` column set (sorted by seed, phase, order)."""
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: must be distinct, got {seeds}")
    frames = [plan.with_columns(pl.lit(seed, dtype=pl.Int64).alias("seed")) for seed in seeds]
    return pl.concat(frames).sort(["seed", "phase", "order"], maintain_order=True)


def write_soup_plans(
    plan: pl.DataFrame, out_dir: str | Path, *, config: MixConfig, seeds: list[int]
) -> list[Path]:
    """Write ``out_dir/seed_<s>/plan.parquet`` (+ json, png) for each seed; return the parquet paths."""
    soup = soup_plans(plan, seeds=seeds)
    paths = []
    for seed in seeds:
        one = soup.filter(pl.col("seed") == seed)
        paths.append(
            write_plan(one, Path(out_dir) / f"seed_{seed}", config=config.model_copy(update={"seed": seed}))
        )
    return paths
