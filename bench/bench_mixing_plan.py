"""Benchmark: plan 10,000 sources over 10 phases (target < 2 s), with a plain-Python baseline.

The baseline is the same arithmetic for the simplest case (natural shares, epoch bookkeeping,
largest remainder) written as per-source Python loops, to show what vectorising buys.
Run: nice -n 10 python bench/bench_mixing_plan.py
"""

from __future__ import annotations

import math
import time

import numpy as np
import polars as pl

from mixing import MixConfig, PhaseConfig, plan_mixture

NUM_SOURCES, NUM_PHASES = 10_000, 10


def _inventory() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    domains = np.array(["general", "math", "code", "reasoning", "multilingual"])
    return pl.DataFrame(
        {
            "source": [f"src{i:05d}" for i in range(NUM_SOURCES)],
            "domain": domains[rng.integers(0, len(domains), NUM_SOURCES)],
            "num_tokens": rng.lognormal(18, 1.5, NUM_SOURCES).astype(np.int64) + 1_000,
            "mean_quality": rng.uniform(0, 1, NUM_SOURCES),
            "mean_difficulty": rng.integers(0, 4, NUM_SOURCES).astype(float),
        }
    )


def _config(total: int) -> MixConfig:
    strategies = ["natural", "temperature", "unimax", "quality"]
    phases = []
    for p in range(NUM_PHASES):
        targets = None
        if p % 2:
            general = 0.5 + 0.05 * (p % 3)
            rest = (1 - general) / 4
            targets = {
                "general": general,
                "math": rest,
                "code": rest,
                "reasoning": rest,
                "multilingual": rest,
            }
        phases.append(
            PhaseConfig(
                name=f"phase{p}",
                fraction=1 / NUM_PHASES,
                domain_targets=targets,
                strategy=strategies[p % 4],
                ramp_subphases=0,
            )
        )
    return MixConfig(
        total_tokens=total,
        seq_len=2048,
        tokens_per_step=2048 * 512,
        phases=phases,
        min_general_share=0.5,
        max_source_share=0.05,
        resolve="auto",
    )


def _baseline(inventory: pl.DataFrame, total: int) -> list[list[int]]:
    """Plain Python: natural shares, largest remainder, cumulative epochs, source by source."""
    sizes = inventory["num_tokens"].to_list()
    drawn = [0] * len(sizes)
    plans = []
    per_phase = total // NUM_PHASES // 2048
    for _ in range(NUM_PHASES):
        total_size = sum(sizes)
        quotas = [per_phase * s / total_size for s in sizes]
        floors = [math.floor(q) for q in quotas]
        order = sorted(range(len(sizes)), key=lambda i: -(quotas[i] - floors[i]))
        for i in order[: per_phase - sum(floors)]:
            floors[i] += 1
        for i, n in enumerate(floors):
            drawn[i] += n * 2048
        plans.append([d / s for d, s in zip(drawn, sizes, strict=True)])
    return plans


def main() -> None:
    inventory = _inventory()
    total = int(inventory["num_tokens"].sum() * 1.5)
    config = _config(total)
    timings = []
    for _ in range(3):  # the first run includes polars' one-off start-up
        start = time.perf_counter()
        plan = plan_mixture(inventory, config)
        timings.append(time.perf_counter() - start)
    elapsed = min(timings)
    start = time.perf_counter()
    _baseline(inventory, total)
    baseline = time.perf_counter() - start
    print(
        f"plan_mixture: {NUM_SOURCES:,} sources x {NUM_PHASES} phases -> {plan.height:,} rows "
        f"in {elapsed:.2f} s best of 3, first run {timings[0]:.2f} s "
        f"(target < 2 s: {'PASS' if max(timings) < 2 else 'FAIL'})"
    )
    print(
        f"floor baseline, plain Python natural shares only (no targets, strategies, constraints, "
        f"curriculum or audit columns): {baseline:.2f} s; midtrain / baseline = {elapsed / baseline:.1f}x"
    )


if __name__ == "__main__":
    main()
