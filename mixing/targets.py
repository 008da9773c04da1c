"""Desired shares of one phase, before constraints: targets and strategies, domain then source.

- ``source_targets`` alone: those shares (sum 1), every other source 0.
- ``domain_targets``: each domain's share is spread over its sources by ``within_domain``
  (default: the phase strategy); sources named in ``source_targets`` take their share out of their
  domain's first.
- neither: the phase strategy over domains (``hierarchical``, default) then ``within_domain``
  over each domain's sources; or the strategy over all sources at once (``hierarchical: false``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mixing.config import PhaseConfig
from mixing.strategies import STRATEGIES

_TOLERANCE = 1e-6


def check_phase_keys(phase: PhaseConfig, index: int, *, sources: set[str], domains: set[str]) -> None:
    """Unknown domains or sources in a phase's targets: ValueError naming the key."""
    where = f"phases[{index}] ({phase.name!r})"
    for key in sorted(phase.domain_targets or {}):
        if key not in domains:
            raise ValueError(
                f"{where}.domain_targets.{key}: unknown domain; the inventory has {sorted(domains)}"
            )
    for key in sorted(phase.source_targets or {}):
        if key not in sources:
            shown = sorted(sources)[:10]
            raise ValueError(f"{where}.source_targets.{key}: unknown source; the inventory has {shown}...")


def _units(inv: pl.DataFrame, capacity_tokens: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "name": inv["source"],
            "num_tokens": inv["num_tokens"],
            "capacity_tokens": pl.Series(capacity_tokens, dtype=pl.Float64),
            "mean_quality": inv["mean_quality"],
        }
    )


def _domain_units(units: pl.DataFrame, domain: np.ndarray, domain_names: list[str]) -> pl.DataFrame:
    frame = (
        units.with_columns(pl.Series("domain", domain))
        .group_by("domain", maintain_order=True)
        .agg(
            pl.col("num_tokens").sum(),
            pl.col("capacity_tokens").sum(),
            # token-weighted mean quality; null when any source lacks it
            ((pl.col("mean_quality") * pl.col("num_tokens")).sum() / pl.col("num_tokens").sum())
            .alias("mean_quality")
            .cast(pl.Float64),
            pl.col("mean_quality").null_count().alias("_nulls"),
        )
    )
    frame = frame.with_columns(
        pl.when(pl.col("_nulls") > 0).then(None).otherwise(pl.col("mean_quality")).alias("mean_quality")
    ).drop("_nulls")
    order = {name: i for i, name in enumerate(domain_names)}
    return frame.sort(pl.col("domain").replace_strict(order, return_dtype=pl.Int64)).rename(
        {"domain": "name"}
    )


def desired_shares(
    phase: PhaseConfig, inv: pl.DataFrame, *, capacity_tokens: np.ndarray, budget_tokens: int
) -> np.ndarray:
    """Shares (sum 1, one per inventory row) the phase asks for, before caps and the floor."""
    strategy = STRATEGIES[phase.strategy]
    within = STRATEGIES[phase.within_domain or phase.strategy]
    kwargs = {"temperature": phase.temperature}
    units = _units(inv, capacity_tokens)
    domain = inv["domain"].to_numpy()
    shares = np.zeros(inv.height, dtype=np.float64)
    index = {name: i for i, name in enumerate(inv["source"].to_list())}
    explicit = np.zeros(inv.height, dtype=bool)
    for name, share in (phase.source_targets or {}).items():
        shares[index[name]] = share
        explicit[index[name]] = True
    where = f"phase {phase.name!r}"

    def spread(mask: np.ndarray, total: float) -> None:
        weights = within(units.filter(pl.Series(mask)), budget_tokens=round(total * budget_tokens), **kwargs)
        shares[mask] = total * weights

    if phase.domain_targets is None and phase.source_targets is not None:
        return shares
    if phase.domain_targets is not None:
        for name in np.unique(domain[explicit]):
            if phase.domain_targets.get(name, 0.0) <= 0:
                raise ValueError(
                    f"{where}: source_targets name source(s) of domain {name!r}, which has no domain_targets share"
                )
        for name, target in phase.domain_targets.items():
            if target <= 0:
                continue
            members = domain == name
            taken = float(shares[members & explicit].sum())
            if taken > target + _TOLERANCE:
                raise ValueError(
                    f"{where}: source_targets of domain {name!r} sum to {taken:.6g}, above its "
                    f"domain_targets share {target:.6g}"
                )
            rest = members & ~explicit
            if target - taken > _TOLERANCE:
                if not rest.any():
                    raise ValueError(
                        f"{where}: domain_targets.{name} is {target:.6g} but its only sources are in "
                        f"source_targets, summing to {taken:.6g}"
                    )
                spread(rest, target - taken)
        return shares / shares.sum()
    if not phase.hierarchical:
        return strategy(units, budget_tokens=budget_tokens, **kwargs)
    names = list(dict.fromkeys(domain.tolist()))
    per_domain = strategy(_domain_units(units, domain, names), budget_tokens=budget_tokens, **kwargs)
    for name, share in zip(names, per_domain, strict=True):
        if share > 0:
            spread(domain == name, float(share))
    return shares / shares.sum()
