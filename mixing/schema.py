"""The plan file: what the planner writes and the trainer follows.

``DIR/plan.parquet``: one row per (phase, source), sorted by ``phase`` then ``order``.
Required columns are in ``PLAN_COLUMNS``. Units are in the names: ``num_tokens`` is the tokens of
the source *drawn in this phase*, ``num_sequences`` the same in whole ``seq_len`` sequences (after
largest-remainder rounding), ``epochs`` the cumulative passes over the source up to the end of the
phase, ``effective_tokens`` Muennighoff et al.'s repetition-discounted value of everything drawn
from the source so far. ``order`` is the curriculum position of the source inside its phase
(0 first); a loader that follows the curriculum streams sources in this order within each phase,
otherwise it interleaves them by the greedy blending order over ``share``.

The plan's metadata (the inputs that made it: resolved mix config, inventory hash) is stored in
``DIR/plan.json`` beside it. ``DIR/plan.png`` draws the shares per domain over training.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

PLAN_COLUMNS: dict[str, pl.DataType] = {
    "phase": pl.Int64(),  # 0-based phase index
    "phase_name": pl.String(),
    "source": pl.String(),
    "domain": pl.String(),
    "num_tokens": pl.Int64(),  # tokens drawn from the source in this phase
    "num_sequences": pl.Int64(),  # the same, in whole seq_len sequences
    "share": pl.Float64(),  # fraction of the phase (sums to 1 over a phase)
    "epochs": pl.Float64(),  # cumulative epochs over the source at the end of the phase
    "effective_tokens": pl.Float64(),  # cumulative repetition-discounted tokens
    "order": pl.Int64(),  # curriculum position within the phase
    "phase_start_token": pl.Int64(),  # first token of the phase in the whole run
    "phase_end_token": pl.Int64(),  # one past its last token
    "phase_start_step": pl.Int64(),  # first optimizer step of the phase (needs tokens_per_step)
    "phase_end_step": pl.Int64(),
    "seq_len": pl.Int64(),
}


def check_plan(frame: pl.DataFrame, *, where: str | Path = "plan") -> pl.DataFrame:
    missing = [c for c in PLAN_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; a plan needs {list(PLAN_COLUMNS)} "
            "(written by `midtrain plan`)"
        )
    return frame.with_columns([pl.col(c).cast(t, strict=False) for c, t in PLAN_COLUMNS.items()])


def read_plan(path: str | Path) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no plan here; run `midtrain plan` first")
    return check_plan(pl.read_parquet(path), where=path)
