"""The demo's claims are computed from eval.parquet and the training curves, and can come out either way."""

import numpy as np
import polars as pl

from recipes.claims import check_claims


def _frame(losses: dict[str, dict[str, float]]) -> pl.DataFrame:
    rows = [
        {"checkpoint": c, "task": f"loss/{d}", "metric": "loss", "value": v, "n": 100}
        for c, by_domain in losses.items()
        for d, v in by_domain.items()
    ]
    return pl.DataFrame(rows)


def _curves(final_gap: float, steps: int = 100, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two runs on the same noisy batches; the decay run pulls ahead linearly to ``final_gap``."""
    rng = np.random.default_rng(seed)
    step = np.arange(1, steps + 1)
    batch_difficulty = rng.normal(0, 0.3, steps)  # shared: both runs see the same batches
    constant = 5.0 - 0.002 * step + batch_difficulty + rng.normal(0, 0.01, steps)
    decay = constant - final_gap * step / steps + rng.normal(0, 0.01, steps)
    lr_decay = 3e-3 * (1 - step / steps)
    return (
        pl.DataFrame({"step": step, "loss": decay, "lr": lr_decay}),
        pl.DataFrame({"step": step, "loss": constant, "lr": np.full(steps, 3e-3)}),
    )


def _check(losses, curves=(None, None)):
    return check_claims(
        _frame(losses),
        base="base",
        anneal="anneal",
        ablation="no-replay",
        decay="decay-general",
        constant="constant-general",
        target_domains=["math", "code"],
        general_domains=["general"],
        decay_metrics=curves[0],
        constant_metrics=curves[1],
    )


def test_claims_hold_when_the_numbers_say_so():
    claims = _check(
        {
            "base": {"math": 8.0, "code": 7.0, "general": 5.0},
            "anneal": {"math": 2.0, "code": 5.0, "general": 5.02},
            "no-replay": {"math": 1.5, "code": 4.8, "general": 5.6},
            "decay-general": {"general": 4.7},
            "constant-general": {"general": 4.9},
        },
        _curves(final_gap=0.15),
    )
    assert [c.holds for c in claims] == [True, True, True, True]
    assert "+0.600" in claims[1].detail  # the ablation's forgetting is reported
    assert "0.14" in claims[2].detail or "0.15" in claims[2].detail  # the measured end gap is reported


def test_claims_fail_honestly():
    claims = _check(
        {
            "base": {"math": 3.0, "code": 3.0, "general": 5.0},
            "anneal": {"math": 3.1, "code": 3.1, "general": 5.3},  # no gain, and forgets
            "no-replay": {"math": 2.8, "code": 2.8, "general": 5.35},
            "decay-general": {"general": 4.88},
            "constant-general": {"general": 4.9},  # decay within noise
        },
        _curves(final_gap=0.02),  # the decay hardly moves the training loss either
    )
    assert [c.holds for c in claims] == [False, False, False, False]


def test_a_training_drop_that_was_there_from_the_start_is_not_the_decay():
    decay, constant = _curves(final_gap=0.0)
    decay = decay.with_columns(pl.col("loss") - 0.1)  # ahead by 0.1 at every step, LR or not
    claims = _check({"base": {"general": 5.0}}, (decay, constant))
    assert claims[2].holds is False


def test_training_and_heldout_verdicts_are_separate():
    claims = _check(
        {"base": {"general": 5.0}, "decay-general": {"general": 4.88}, "constant-general": {"general": 4.9}},
        _curves(final_gap=0.15),
    )
    assert claims[2].holds is True and claims[3].holds is False


def test_missing_runs_are_not_checked_rather_than_guessed():
    claims = _check({"base": {"math": 3.0, "general": 5.0}, "anneal": {"math": 2.0, "general": 5.0}})
    assert claims[0].holds is True
    assert claims[1].holds is None and claims[2].holds is None and claims[3].holds is None
