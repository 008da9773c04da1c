"""Greedy blending order: the published example, exact equality with the plain loop, counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixing import greedy_blend_order, greedy_blend_order_loop


def test_published_example():
    # REFERENCE.md section 4 (Megatron / nanotron): W=[0.5,0.3,0.2] over 10 samples.
    expected = [0, 1, 2, 0, 1, 0, 2, 0, 1, 0]
    assert greedy_blend_order_loop([0.5, 0.3, 0.2], 10).tolist() == expected
    assert greedy_blend_order([0.5, 0.3, 0.2], 10).tolist() == expected


@pytest.mark.parametrize("num_sources", [2, 3, 7, 60])
def test_vectorised_matches_loop_over_many_blocks(num_sources):
    weights = np.random.default_rng(num_sources).dirichlet(np.full(num_sources, 0.7))
    num_samples = 120_000  # several speculative blocks, including re-run ones
    assert np.array_equal(
        greedy_blend_order(weights, num_samples), greedy_blend_order_loop(weights, num_samples)
    )


def test_ties_go_to_the_lowest_index():
    # Equal weights tie at every other step; the rule sends a tie to the lowest index.
    order = greedy_blend_order([0.25, 0.25, 0.25, 0.25], 1000)
    assert np.array_equal(order, greedy_blend_order_loop([0.25] * 4, 1000))
    assert order[:8].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]


@settings(max_examples=40, deadline=None)
@given(
    raw=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=9).filter(lambda v: sum(v) > 0),
    num_samples=st.integers(min_value=0, max_value=3000),
)
def test_matches_loop_and_counts_stay_within_one(raw, num_samples):
    weights = np.array(raw, dtype=np.float64) / sum(raw)
    order = greedy_blend_order(weights, num_samples)
    assert np.array_equal(order, greedy_blend_order_loop(weights, num_samples))
    counts = np.bincount(order.astype(np.int64), minlength=len(weights))
    # The last pick was made against the target w * max(n - 1, 1) (the rule's max(i, 1)), so each
    # realised count is within one sample of that target, hence within 1 + w_k of w_k * n. (Not
    # within one of w_k * n: hypothesis found W = [1, 3, 30] / 34, n = 210, off by 1.29.)
    if num_samples:
        assert np.all(np.abs(counts - weights * max(num_samples - 1, 1)) <= 1.0 + 1e-9)
        assert np.all(np.abs(counts - weights * num_samples) <= 1.0 + weights + 1e-9)
    assert counts[weights == 0].sum() == 0


def test_a_source_of_weight_zero_never_gets_a_sample():
    # found by hypothesis: source 0's error (0 - 0) tied sources exactly on target at sample 5 of 7
    weights = np.array([0, 1, 3], dtype=np.float64) / 4
    for order in (greedy_blend_order(weights, 7), greedy_blend_order_loop(weights, 7)):
        assert 0 not in order.tolist() and np.bincount(order, minlength=3).tolist() == [0, 2, 5]
    assert greedy_blend_order([0.0, 0.5, 0.0, 0.5], 5000).max() <= 3
    assert set(greedy_blend_order([0.0, 0.5, 0.0, 0.5], 5000).tolist()) == {1, 3}


@pytest.mark.parametrize("weights", [[], [0.5, -0.1], [0.0, 0.0], [np.nan, 1.0]])
def test_bad_weights_are_rejected(weights):
    with pytest.raises(ValueError, match="weights"):
        greedy_blend_order(weights, 10)
