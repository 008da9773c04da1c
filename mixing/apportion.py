"""Integer arithmetic of a plan: largest-remainder rounding and Muennighoff effective tokens."""

from __future__ import annotations

import numpy as np

# Muennighoff et al. 2023 ("Scaling Data-Constrained Language Models"), fitted R*_D.
REPETITION_HALF_LIFE = 15.4


def largest_remainder(
    quotas: np.ndarray,
    total: int,
    *,
    caps: np.ndarray | None = None,
    reserve_mask: np.ndarray | None = None,
    reserve_total: int = 0,
) -> np.ndarray:
    """Round non-negative real ``quotas`` (summing to ``total``) to integers summing to ``total``.

    Hamilton's method: floor every quota, then give the leftover units one each to the largest
    remainders (ties: lower index first). With ``caps`` (integers, ``quotas <= caps``), a unit whose
    floor already reaches its cap is skipped, so the result never exceeds ``caps``. With
    ``reserve_mask``, the rows in the mask get at least ``reserve_total`` units in all (leftover units
    go to them first; this is how the general floor survives rounding; it needs
    ``reserve_total <= ceil(quotas[reserve_mask].sum())``). Every result is within one unit of its quota.
    """
    quotas = np.asarray(quotas, dtype=np.float64)
    assert (quotas >= -1e-9).all(), "negative quota"
    quotas = np.clip(quotas, 0.0, None)
    # Re-scale away floating drift so the quotas sum to the integer total exactly.
    if quotas.sum() > 0:
        quotas = quotas * (total / quotas.sum())
    floors = np.floor(quotas + 1e-9).astype(np.int64)
    if caps is not None:
        floors = np.minimum(floors, caps)
    remainders = quotas - floors
    leftover = int(total - floors.sum())
    assert leftover >= 0, "floors exceed the total"
    eligible = remainders > 1e-12
    if caps is not None:
        eligible &= floors < caps

    def give(mask: np.ndarray, num_units: int) -> None:
        candidates = np.flatnonzero(mask)
        assert len(candidates) >= num_units, "not enough room under the caps to round"
        # Stable sort on -remainder: the largest remainders first, ties by index.
        chosen = candidates[np.argsort(-remainders[candidates], kind="stable")[:num_units]]
        floors[chosen] += 1
        eligible[chosen] = False

    if reserve_mask is not None:
        need = min(max(int(reserve_total - floors[reserve_mask].sum()), 0), leftover)
        if need:
            give(eligible & reserve_mask, need)
            leftover -= need
    if leftover:
        give(eligible, leftover)
    return floors


def effective_tokens(drawn_tokens: np.ndarray, unique_tokens: np.ndarray) -> np.ndarray:
    """Repetition-discounted value of ``drawn_tokens`` taken from ``unique_tokens`` of data.

    Muennighoff et al. 2023: D' = U + U * R* * (1 - exp(-R / R*)) with R = D/U - 1 repeated epochs
    and R* = 15.4 (so 4 epochs, R = 3, are worth 3.73 U, nearly the 4 U of fresh data). A first
    partial pass (D <= U) is worth D.
    """
    drawn = np.asarray(drawn_tokens, dtype=np.float64)
    unique = np.asarray(unique_tokens, dtype=np.float64)
    repeats = np.clip(drawn / unique - 1.0, 0.0, None)
    repeated_value = unique + unique * REPETITION_HALF_LIFE * (1.0 - np.exp(-repeats / REPETITION_HALF_LIFE))
    return np.where(drawn <= unique, drawn, repeated_value)
