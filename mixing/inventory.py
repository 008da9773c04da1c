"""The inventory as the planner reads it: the columns it needs, checked row by row.

Curation writes ``inventory.parquet`` (documented in ``curation/schema.py``; mixing does not import
curation, so the columns it needs are re-checked here). Required: ``source`` (unique string),
``domain`` (string), ``num_tokens`` (integer > 0). Optional: ``mean_quality`` (in [0, 1]) and
``mean_difficulty`` (>= 0); ``quality`` and ``difficulty`` are accepted as aliases. Other columns
are ignored.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

REQUIRED_COLUMNS = ("source", "domain", "num_tokens")
_ALIASES = {"quality": "mean_quality", "difficulty": "mean_difficulty"}


def _row_error(frame: pl.DataFrame, mask: pl.Series, column: str, rule: str, where: str) -> ValueError:
    index = int(mask.arg_true()[0])
    row = frame.row(index, named=True)
    return ValueError(
        f"{where}: row {index} (source {row.get('source')!r}): {column} {rule}, got {row.get(column)!r}"
    )


def check_mix_inventory(inventory: pl.DataFrame, *, where: str | Path = "inventory") -> pl.DataFrame:
    """Return the planner's view of ``inventory`` (source, domain, num_tokens, mean_quality,
    mean_difficulty; sorted by source), or raise ValueError naming the column or row."""
    where = str(where)
    if not isinstance(inventory, pl.DataFrame):
        raise ValueError(f"{where}: expected a polars DataFrame, got {type(inventory).__name__}")
    frame = inventory.rename(
        {a: c for a, c in _ALIASES.items() if a in inventory.columns and c not in inventory.columns}
    )
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; the planner needs {list(REQUIRED_COLUMNS)} "
            "(optional: mean_quality, mean_difficulty)"
        )
    if frame.height == 0:
        raise ValueError(f"{where}: no rows; the planner needs at least one source")
    for column in ("mean_quality", "mean_difficulty"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    if not frame["num_tokens"].dtype.is_numeric():
        raise ValueError(f"{where}: column num_tokens must be numeric, got {frame['num_tokens'].dtype}")
    for column in ("source", "domain"):
        nulls = frame[column].is_null()
        if nulls.any():
            raise _row_error(frame, nulls, column, "must not be null", where)
    tokens = frame["num_tokens"]
    bad = tokens.is_null() | tokens.is_nan() if tokens.dtype.is_float() else tokens.is_null()
    bad = bad | (tokens.fill_null(0) <= 0)
    if bad.any():
        raise _row_error(frame, bad, "num_tokens", "must be > 0", where)
    if tokens.dtype.is_float() and (tokens != tokens.round()).any():
        raise _row_error(frame, tokens != tokens.round(), "num_tokens", "must be a whole number", where)
    view = frame.select(
        pl.col("source").cast(pl.String),
        pl.col("domain").cast(pl.String),
        pl.col("num_tokens").cast(pl.Int64),
        pl.col("mean_quality").cast(pl.Float64),
        pl.col("mean_difficulty").cast(pl.Float64),
    )
    duplicated = ~view["source"].is_first_distinct()
    if duplicated.any():
        raise _row_error(view, duplicated, "source", "must be unique (one row per source)", where)
    quality = view["mean_quality"]
    bad_quality = quality.is_not_null() & ((quality < 0) | (quality > 1) | quality.is_nan())
    if bad_quality.any():
        raise _row_error(view, bad_quality, "mean_quality", "must be in [0, 1]", where)
    return view.sort("source")
