"""Curriculum order of the sources inside a phase (the plan's ``order`` column).

Key, in priority: the tier (inventory ``mean_difficulty`` or ``mean_quality``, ascending by
default: easiest / lowest quality first, so the end of a phase is the hardest / cleanest data),
then the domain's rank in ``curriculum.domain_order`` (unlisted domains after, alphabetically),
then the source name, so the order is total and deterministic. Missing tiers sort last.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mixing.config import CurriculumConfig

_TIER_COLUMN = {"difficulty": "mean_difficulty", "quality": "mean_quality"}


def curriculum_order(inv: pl.DataFrame, curriculum: CurriculumConfig) -> tuple[np.ndarray, str]:
    """Return (``order`` per inventory row, the key actually used: difficulty|quality|none)."""
    used = curriculum.within_phase
    column = _TIER_COLUMN.get(used)
    if column is not None and inv[column].null_count() == inv.height:
        used, column = "none", None
    rank = {d: i for i, d in enumerate(curriculum.domain_order)}
    unlisted = sorted(set(inv["domain"].to_list()) - set(rank))
    rank.update({d: len(rank) + i for i, d in enumerate(unlisted)})
    keys = inv.select(
        (pl.col(column) if column else pl.lit(0.0)).alias("tier"),
        pl.col("domain").replace_strict(rank, return_dtype=pl.Int64).alias("rank"),
        pl.col("source"),
        pl.int_range(pl.len()).alias("row"),
    )
    ranked = keys.sort(
        ["tier", "rank", "source"], descending=[curriculum.descending, False, False], nulls_last=True
    )
    order = np.empty(inv.height, dtype=np.int64)
    order[ranked["row"].to_numpy()] = np.arange(inv.height)
    return order, used
