"""Guards of mixing/greedy.py's input errors and index dtypes, read branch by branch: the exact
error text (users read it to fix their weights) and both sides of each dtype boundary."""

import numpy as np
import pytest

from mixing import greedy_blend_order, greedy_blend_order_loop
from mixing.greedy import _index_dtype


@pytest.mark.parametrize(
    ("weights", "num_samples", "message"),
    [
        ([], 10, "weights: expected a non-empty 1-D sequence, got shape (0,)"),
        ([[0.5, 0.5]], 10, "weights: expected a non-empty 1-D sequence, got shape (1, 2)"),
        ([0.5, -0.1], 10, "weights: must be finite and >= 0, got [0.5, -0.1]"),
        ([np.inf, 1.0], 10, "weights: must be finite and >= 0, got [inf, 1.0]"),
        ([0.0, 0.0], 10, "weights: at least one weight must be > 0"),
        ([0.5, 0.5], -1, "num_samples: must be >= 0, got -1"),
    ],
)
def test_bad_input_errors_in_full(weights, num_samples, message):
    for order in (greedy_blend_order, greedy_blend_order_loop):
        with pytest.raises(ValueError) as err:
            order(weights, num_samples)
        assert str(err.value) == message


def test_the_weight_error_shows_the_first_ten_weights_only():
    with pytest.raises(ValueError) as err:
        greedy_blend_order([-1.0] + [0.1] * 19, 5)
    assert str(err.value) == f"weights: must be finite and >= 0, got {[-1.0] + [0.1] * 9}"


def test_zero_samples_and_a_single_source_and_a_tiny_positive_weight_sum():
    assert greedy_blend_order([0.5, 0.5], 0).tolist() == []
    assert greedy_blend_order([1.0], 5).tolist() == [0] * 5
    assert greedy_blend_order([1e-300, 0.0], 3).tolist() == [0, 0, 0]  # a sum > 0 is enough


@pytest.mark.parametrize(
    ("num_sources", "dtype"),
    [(1, np.uint8), (256, np.uint8), (257, np.uint16), (65_536, np.uint16), (65_537, np.uint32)],
)
def test_index_dtype_is_the_smallest_unsigned_type_that_holds_every_index(num_sources, dtype):
    assert _index_dtype(num_sources) == np.dtype(dtype)


def test_index_dtype_beyond_uint32_is_int64():
    assert _index_dtype(2**32 + 1) == np.dtype(np.int64)
    assert _index_dtype(2**32) == np.dtype(np.uint32)


def test_the_reference_loop_returns_an_empty_index_array_for_zero_samples():
    # with a zero-weight source the loop indexes the active sources with its own (empty) result,
    # which must be an integer array, not numpy's default float for an empty list
    assert greedy_blend_order_loop([0.0, 1.0], 0).dtype == np.int64
    assert greedy_blend_order_loop([1.0, 1.0], 0).dtype == np.int64
    assert greedy_blend_order_loop([0.0, 1.0], 0).tolist() == []


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_weights_one_ulp_apart_follow_the_reference_rounding(order):
    # The rule is computed in float64 exactly as written (w * max(i, 1) - count): a weight one ulp
    # larger wins the first sample, though both errors round to the same value once a count of 1 is
    # taken off. The vectorised order must reproduce that, including block 0 starting at counts 0.
    weights = np.array([0.1, np.nextafter(0.1, 1.0)])[order]
    fast, loop = greedy_blend_order(weights, 50), greedy_blend_order_loop(weights, 50)
    assert fast.tolist() == loop.tolist()
    assert loop[0] == int(np.argmax(weights))
