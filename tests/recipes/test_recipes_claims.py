"""The demo's claims are computed from eval.parquet and can come out either way."""

import polars as pl

from recipes.claims import check_claims


def _frame(losses: dict[str, dict[str, float]]) -> pl.DataFrame:
    rows = [
        {"checkpoint": c, "task": f"loss/{d}", "metric": "loss", "value": v, "n": 100}
        for c, by_domain in losses.items()
        for d, v in by_domain.items()
    ]
    return pl.DataFrame(rows)


def _check(losses):
    return check_claims(
        _frame(losses),
        base="base",
        anneal="anneal",
        ablation="no-replay",
        decay="decay-general",
        constant="constant-general",
        target_domains=["math", "code"],
        general_domains=["general"],
    )


def test_claims_hold_when_the_numbers_say_so():
    claims = _check(
        {
            "base": {"math": 8.0, "code": 7.0, "general": 5.0},
            "anneal": {"math": 2.0, "code": 5.0, "general": 5.02},
            "no-replay": {"math": 1.5, "code": 4.8, "general": 5.6},
            "decay-general": {"general": 4.7},
            "constant-general": {"general": 4.9},
        }
    )
    assert [c.holds for c in claims] == [True, True, True]
    assert "+0.600" in claims[1].detail  # the ablation's forgetting is reported


def test_claims_fail_honestly():
    claims = _check(
        {
            "base": {"math": 3.0, "code": 3.0, "general": 5.0},
            "anneal": {"math": 3.1, "code": 3.1, "general": 5.3},  # no gain, and forgets
            "no-replay": {"math": 2.8, "code": 2.8, "general": 5.35},
            "decay-general": {"general": 4.88},
            "constant-general": {"general": 4.9},  # decay within noise
        }
    )
    assert [c.holds for c in claims] == [False, False, False]


def test_missing_runs_are_not_checked_rather_than_guessed():
    claims = _check({"base": {"math": 3.0, "general": 5.0}, "anneal": {"math": 2.0, "general": 5.0}})
    assert claims[0].holds is True and claims[1].holds is None and claims[2].holds is None
