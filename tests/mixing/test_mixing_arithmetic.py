"""Published reference arithmetic: UniMax, temperature, effective tokens, largest remainder."""

import math

import numpy as np
import polars as pl
import pytest

from mixing import effective_tokens, largest_remainder
from mixing.strategies import natural, temperature, unimax


def _units(sizes, capacity):
    return pl.DataFrame(
        {
            "num_tokens": sizes,
            "capacity_tokens": [float(c) for c in capacity],
            "mean_quality": [None] * len(sizes),
        },
        schema_overrides={"mean_quality": pl.Float64},
    )


def test_unimax_arithmetic():
    # Chung et al. 2023: sizes ascending, each gets min(remaining / remaining units, N x size).
    # sizes 1, 2, 100 with N=4 and budget 30: 1 -> min(10, 4) = 4; 2 -> min(13, 8) = 8; 100 -> 18.
    shares = unimax(_units([100, 1, 2], [400, 4, 8]), budget_tokens=30, temperature=1.0)
    assert np.allclose(shares * 30, [18, 4, 8])


def test_unimax_is_uniform_when_nothing_binds():
    shares = unimax(_units([50, 60, 70], [200, 240, 280]), budget_tokens=30, temperature=1.0)
    assert np.allclose(shares, 1 / 3)


def test_temperature_sampling():
    sizes = [100, 400]
    assert np.allclose(temperature(_units(sizes, sizes), budget_tokens=1, temperature=1.0), [0.2, 0.8])
    # T=2: weights ~ sqrt(n): 10 : 20
    assert np.allclose(temperature(_units(sizes, sizes), budget_tokens=1, temperature=2.0), [1 / 3, 2 / 3])
    assert np.allclose(natural(_units(sizes, sizes), budget_tokens=1, temperature=9.0), [0.2, 0.8])


def test_effective_tokens_muennighoff():
    unique = 1_000_000.0
    # D' = U + U * R* * (1 - exp(-R / R*)), R = epochs - 1, R* = 15.4
    expected_4_epochs = unique * (1 + 15.4 * (1 - math.exp(-3 / 15.4)))
    got = effective_tokens(np.array([0.5e6, 1e6, 4e6, 1e9]), np.full(4, unique))
    assert got[0] == 0.5e6 and got[1] == 1e6
    assert got[2] == pytest.approx(expected_4_epochs, rel=1e-12)
    assert got[2] == pytest.approx(3.7256e6, rel=1e-4)  # 4 epochs are worth ~3.73 fresh ones
    assert got[3] == pytest.approx(unique * (1 + 15.4), rel=1e-3)  # saturates at U (1 + R*)


def test_largest_remainder_hamilton():
    # quotas 3.6, 2.3, 1.1 of 7: floors 3, 2, 1, the leftover unit goes to the largest remainder.
    assert largest_remainder(np.array([3.6, 2.3, 1.1]), 7).tolist() == [4, 2, 1]
    # caps: the largest remainder is at its cap, so the unit goes to the next.
    assert largest_remainder(np.array([3.6, 2.3, 1.1]), 7, caps=np.array([3, 9, 9])).tolist() == [3, 3, 1]
    # reserve: rows 1 and 2 get at least 4 units in all
    got = largest_remainder(
        np.array([3.6, 2.3, 1.1]), 7, reserve_mask=np.array([False, True, True]), reserve_total=4
    )
    assert got.tolist() == [3, 3, 1]
