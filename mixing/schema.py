"""The plan file: what the planner writes and the trainer follows.

``DIR/plan.parquet``: one row per (phase, source), sorted by ``phase`` then ``order``.
Required columns are in ``PLAN_COLUMNS``. Units are in the names: ``num_tokens`` is the tokens of
the source *drawn in this phase*, ``num_sequences`` the same in whole ``seq_len`` sequences (after
largest-remainder rounding), ``epochs`` the cumulative passes over the source up to the end of the
phase, ``effective_tokens`` Muennighoff et al.'s repetition-discounted value of everything drawn
from the source so far. ``order`` is the curriculum position of the source inside its phase
(0 first); a loader that follows the curriculum streams sources in this order within each phase,
otherwise it interleaves them by the greedy blending order over ``share``.

Every (phase, source) pair has a row, also those drawing 0 tokens in the phase (so cumulative
``epochs`` can be audited); a loader skips rows with ``num_sequences == 0``. A ramp between two
phases is expanded into sub-phases named ``<phase>:ramp<r>/<R>``; ``phase`` counts the expanded
phases. Token and step ranges are half-open: ``[phase_start_token, phase_end_token)``. Step columns
are null when the config has no ``tokens_per_step``.

Extra columns (after ``PLAN_COLUMNS``; readers must not require them):
``target_share`` (the share the phase asked for before constraints and rounding), ``constraint``
(null, or why ``share`` moved from ``target_share`` by a sequence or more: ``max_epochs``,
``max_source_share``, ``min_general_share``, ``min_source_tokens``, ``max_synthetic_share``,
``rebalanced``),
``unique_tokens`` (the inventory's ``num_tokens`` of the source), ``tier`` (the curriculum key
value: mean difficulty or quality; null when none) and ``seed`` (the data-order seed; soup plans
differ only in it).

Greedy blending order (for a loader that interleaves sources within a phase instead of streaming
them in ``order``). With the phase's rows in ``order`` and ``w = share`` (float64, as stored),
sample ``i = 0, 1, ...`` of the phase is drawn from row::

    k(i) = argmax_k ( w[k] * float(max(i, 1)) - count[k] )   then count[k(i)] += 1

computed in float64 exactly as written (one multiply then one subtract, no fused multiply-add),
``count`` starting at 0, ties going to the LOWEST k (the first maximum, as ``numpy.argmax``).
W=[0.5, 0.3, 0.2] over 10 samples gives [0, 1, 2, 0, 1, 0, 2, 0, 1, 0]. The realised count of
each row stays within one sample of ``w[k] * i``. Drop rows with ``num_sequences == 0`` first (a
zero weight can win a tie at error 0). Over the phase's ``N = sum(num_sequences)`` samples the
greedy counts may differ from ``num_sequences`` by one; ``num_sequences`` is the planned total.
``mixing.greedy_blend_order(weights, n)`` is
the vectorised implementation; ``greedy_blend_order_loop`` the plain loop it matches exactly.

The plan's metadata (the inputs that made it: resolved mix config, inventory digest, versions,
git commit, every change a ``resolve: auto`` re-solve made, warnings) is stored in
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
    """Return ``frame`` with the required columns cast to their dtypes, or raise naming the missing ones."""
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
