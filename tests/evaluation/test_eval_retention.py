"""Gains vs retention: deltas against the base checkpoint and the forgetting flag."""

from __future__ import annotations

import polars as pl
import pytest

from evaluation.retention import gains_retention, summarize
from evaluation.schema import EVAL_COLUMNS


def _losses(values: dict[str, dict[str, float]]) -> pl.DataFrame:
    rows = [
        {"checkpoint": c, "task": f"loss/{d}", "metric": "loss", "value": v, "n": 100}
        for c, per in values.items()
        for d, v in per.items()
    ]
    return pl.DataFrame(rows, schema=EVAL_COLUMNS)


def test_deltas_and_forgetting_flag():
    frame = _losses(
        {
            "base": {"math": 4.0, "code": 3.0, "general": 5.0, "other": 1.0},
            "anneal": {"math": 3.5, "code": 2.9, "general": 5.04, "other": 9.0},
            "no_replay": {"math": 3.2, "code": 2.5, "general": 5.30, "other": 1.0},
        }
    )
    table = gains_retention(
        frame,
        base="base",
        target_domains=["math", "code"],
        general_domains=["general"],
        forgetting_threshold=0.05,
    )
    got = {(r["checkpoint"], r["domain"]): r for r in table.iter_rows(named=True)}
    assert set(got) == {(c, d) for c in ("anneal", "no_replay") for d in ("math", "code", "general")}
    assert got[("anneal", "math")]["delta"] == pytest.approx(-0.5)
    assert got[("no_replay", "general")]["delta"] == pytest.approx(0.30)
    assert not got[("anneal", "general")]["forgetting"]  # +0.04 is under the threshold
    assert got[("no_replay", "general")]["forgetting"]
    assert not any(r["forgetting"] for r in table.iter_rows(named=True) if r["role"] == "target")
    summary = {
        r["checkpoint"]: r for r in summarize(table, ["base", "anneal", "no_replay"]).iter_rows(named=True)
    }
    assert "base" not in summary
    assert summary["anneal"]["target_gain"] == pytest.approx((0.5 + 0.1) / 2)
    assert summary["no_replay"]["general_change"] == pytest.approx(0.30)
    assert summary["no_replay"]["forgetting"] and not summary["anneal"]["forgetting"]


def test_unknown_base_is_a_clear_error():
    frame = _losses({"a": {"math": 1.0}})
    with pytest.raises(ValueError, match="base checkpoint 'zzz'"):
        gains_retention(
            frame, base="zzz", target_domains=["math"], general_domains=[], forgetting_threshold=0.1
        )
