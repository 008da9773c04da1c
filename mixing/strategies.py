"""Mixing strategies: small functions with one signature that turn units into shares.

A *unit* is a source or a domain. Every strategy is called as::

    strategy(units, *, budget_tokens, temperature) -> np.ndarray   # shares, one per row, sum 1

with ``units`` a Polars frame with columns ``num_tokens`` (unique tokens of the unit, > 0),
``capacity_tokens`` (tokens it can still give before its epoch cap, >= 0) and ``mean_quality``
(may be null). ``budget_tokens`` is what the phase (or the domain) draws in total. Strategies only
express a preference; caps, floors and rounding are applied afterwards by ``mixing.solve``.
Register a new one in ``STRATEGIES``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

Strategy = Callable[..., np.ndarray]


def _normalise(weights: np.ndarray) -> np.ndarray:
    total = weights.sum()
    assert total > 0 and np.isfinite(total), "strategy produced no positive weight"
    return weights / total


def natural(units: pl.DataFrame, *, budget_tokens: int, temperature: float) -> np.ndarray:
    """Proportional to size: w_k ~ n_k."""
    return _normalise(units["num_tokens"].to_numpy().astype(np.float64))


def temperature(units: pl.DataFrame, *, budget_tokens: int, temperature: float) -> np.ndarray:
    """Temperature sampling: w_k ~ n_k^(1/T); T=1 is natural, large T tends to uniform."""
    sizes = units["num_tokens"].to_numpy().astype(np.float64)
    # Work in log space so 1e12-token sources with T < 1 do not overflow.
    logits = np.log(sizes) / temperature
    return _normalise(np.exp(logits - logits.max()))


def unimax(units: pl.DataFrame, *, budget_tokens: int, temperature: float) -> np.ndarray:
    """UniMax (Chung et al. 2023): visit units by size ascending; each takes
    min(remaining budget / remaining units, its capacity). Capacity is the epoch cap in tokens.

    When every unit is at capacity before the budget is spent the shares still sum to 1 (scaled
    up); the solver then reports the epoch cap that cannot be met.
    """
    sizes = units["num_tokens"].to_numpy()
    capacity = units["capacity_tokens"].to_numpy().astype(np.float64)
    order = np.lexsort((np.arange(len(sizes)), sizes))  # ascending size, stable
    tokens = np.zeros(len(sizes), dtype=np.float64)
    remaining = float(budget_tokens)
    for position, index in enumerate(order):
        fair = remaining / (len(order) - position)
        tokens[index] = min(fair, capacity[index])
        remaining -= tokens[index]
    if tokens.sum() <= 0:
        return natural(units, budget_tokens=budget_tokens, temperature=temperature)
    return _normalise(tokens)


def quality(units: pl.DataFrame, *, budget_tokens: int, temperature: float) -> np.ndarray:
    """Quality-weighted size: w_k ~ n_k * mean_quality_k (needs the inventory's mean_quality)."""
    scores = units["mean_quality"]
    if scores.null_count():
        names = units["name"].filter(scores.is_null()).to_list() if "name" in units.columns else []
        raise ValueError(
            f"strategy 'quality' needs inventory column mean_quality; it is null for {names[:5]}"
        )
    weights = units["num_tokens"].to_numpy() * scores.to_numpy()
    if weights.sum() <= 0:
        return natural(units, budget_tokens=budget_tokens, temperature=temperature)
    return _normalise(weights.astype(np.float64))


STRATEGIES: dict[str, Strategy] = {
    "natural": natural,
    "temperature": temperature,
    "unimax": unimax,
    "quality": quality,
}
