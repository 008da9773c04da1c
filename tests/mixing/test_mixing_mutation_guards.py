"""Guards that mutation testing (scripts/mutation.sh mixing) showed missing: the per-phase solver's
error messages and tolerances, water-filling, rounding and the greedy blend's counts.

Each test states a behaviour a user of the planner relies on; each kills at least one mutant that
the rest of tests/mixing let survive.
"""

import numpy as np
import pytest
from phase_problems import phase_problem

from mixing import greedy_blend_order
from mixing.solve import solve_phase


def test_cap_error_names_the_cap_that_binds():
    # s0 wants 80 sequences; its epoch cap is 1000 but max_source_share allows 50
    with pytest.raises(
        ValueError, match=r"source 's0' wants 800 tokens but max_source_share allows 500 tokens"
    ):
        solve_phase(phase_problem([0.8, 0.2], [1000, 1000], share_cap=50))
    # the epoch cap (40) is below the share cap (60): max_epochs is named
    with pytest.raises(ValueError, match=r"source 's0' wants 800 tokens but max_epochs allows 400 tokens"):
        solve_phase(phase_problem([0.8, 0.2], [40, 1000], share_cap=60))


def test_a_miss_under_one_sequence_is_rounding_not_an_error():
    # 100 * 0.305 = 30.5 sequences wanted from a source capped at 30: half a sequence, allowed
    alloc = solve_phase(phase_problem([0.305, 0.695], [30, 1000]))
    assert alloc.sum() == pytest.approx(100) and alloc[0] <= 30 + 1e-9
    # exactly at the cap: allowed
    solve_phase(phase_problem([0.3, 0.7], [30, 1000]))
    # 31.5 wanted, cap 30: 1.5 sequences over is an error, with the shortfall in tokens
    with pytest.raises(
        ValueError, match=r"'s0' wants 315 tokens but max_epochs allows 300 tokens \(shortfall 15 tokens\)"
    ):
        solve_phase(phase_problem([0.315, 0.685], [30, 1000]))


def test_cap_error_lists_five_sources_and_counts_the_rest():
    # eight sources want 12.5 sequences each under a cap of 10; s8 (not wanted) has room for all
    desired = np.append(np.full(8, 1 / 8), 0.0)
    with pytest.raises(ValueError) as err:
        solve_phase(phase_problem(desired, [10] * 8 + [1000], budget=100))
    message = str(err.value)
    assert [f"'s{i}'" in message for i in range(9)] == [True] * 5 + [False] * 4
    assert "(and 3 more)" in message and message.endswith("; or set resolve: auto")


# was a bug (fixed in mixing/greedy.py): exact ties sent samples to a zero-weight source at index 0
def test_a_zero_weight_source_gets_no_samples():
    weights = np.array([0.0, 1.0, 6.0]) / 7
    counts = np.bincount(greedy_blend_order(weights, 61).astype(np.int64), minlength=3)
    assert counts[0] == 0, counts


def test_greedy_order_uses_the_smallest_unsigned_dtype():
    # 100M samples take 100 MB: uint8 up to 256 sources, uint16 beyond (docstring promise)
    order = greedy_blend_order([0.5, 0.3, 0.2], 5000)
    assert order.dtype == np.uint8 and order.tolist()[:10] == [0, 1, 2, 0, 1, 0, 2, 0, 1, 0]
    wide = greedy_blend_order(np.full(300, 1 / 300), 1000)
    assert wide.dtype == np.uint16 and int(wide.max()) == 299


def _synthetic_spill(real_cap):
    # s0 synthetic (max_synthetic_share 0.3) wants 10%; s1 wants 90% but is capped; s2 (another
    # domain, not wanted) has room: the spill from s1 first lands on s0, the only other wanted source
    return solve_phase(
        phase_problem(
            [0.1, 0.9, 0.0],
            [1000, real_cap, 1000],
            mode="auto",
            synthetic=np.array([True, False, False]),
            max_synthetic_share=0.3,
        )
    )


def test_spill_onto_synthetic_sources_above_their_cap_moves_to_real_sources_with_room():
    alloc = _synthetic_spill(50)  # s0 would get 50 > 30: 20 move to s2
    np.testing.assert_allclose(alloc, [30, 50, 20])


def test_synthetic_spill_within_one_sequence_of_the_cap_is_left_alone():
    alloc = _synthetic_spill(69)  # s0 gets 31 = cap + 1: rounding, not moved
    np.testing.assert_allclose(alloc, [31, 69, 0])


def test_max_synthetic_share_without_synthetic_sources_is_no_constraint():
    alloc = solve_phase(phase_problem([0.5, 0.5], [1000, 1000], max_synthetic_share=0.2))
    np.testing.assert_allclose(alloc, [50, 50])


def test_min_source_tokens_error_and_auto_drop():
    p = phase_problem([0.9, 0.1], [1000, 1000])
    p.min_seq = 20  # s1 would draw 10 sequences = 100 tokens, under 200
    with pytest.raises(
        ValueError,
        match=r"source 's1' would draw 100 tokens, below min_source_tokens 200 tokens \(shortfall 100 tokens\)",
    ):
        solve_phase(p)
    p = phase_problem([0.9, 0.1], [1000, 1000], mode="auto")
    p.min_seq = 20
    np.testing.assert_allclose(solve_phase(p), [100, 0])  # s1 dropped, s0 takes the phase
    p = phase_problem([0.5, 0.5], [1000, 1000], mode="auto")
    p.min_seq = 60  # both would draw 50 < 60: nothing is left
    with pytest.raises(ValueError, match="no feasible source left above min_source_tokens"):
        solve_phase(p)


# --- fresh sample, seed 1202 ----------------------------------------------------------------------


def test_general_floor_without_any_general_target_is_spread_by_capacity():
    # s0, s1 are general but wanted 0; min_general_share 0.4 gives them 40 % split 3:1 by capacity
    p = phase_problem([0.0, 0.0, 1.0], [60, 20, 1000], mode="auto", general=[True, True, False])
    p.min_general_share = 0.4
    np.testing.assert_allclose(solve_phase(p), [30, 10, 60])
    assert "phase 'p': general share 0.0000 -> 0.4000 (min_general_share)" in p.changes[0]


def test_synthetic_share_above_the_cap_error_names_the_excess_in_tokens():
    p = phase_problem([0.6, 0.4], [1000, 1000], synthetic=np.array([True, False]), max_synthetic_share=0.3)
    # 60 sequences wanted, 30 allowed: 30 sequences of 10 tokens over
    with pytest.raises(
        ValueError,
        match=r"max_synthetic_share 0.3: the synthetic sources get 0.6000 of the phase \(excess 300 tokens\); "
        r"lower their targets or set resolve: auto",
    ):
        solve_phase(p)


def test_auto_scales_the_synthetic_share_down_to_the_cap_and_the_rest_up():
    # a synthetic and a real source of one domain: auto gives the synthetic one exactly its cap
    p = phase_problem(
        [0.6, 0.4], [1000, 1000], mode="auto", synthetic=np.array([True, False]), max_synthetic_share=0.3
    )
    p.domain_codes = np.array([0, 0])
    np.testing.assert_allclose(solve_phase(p), [30, 70])
    assert any("synthetic share 0.6000 -> 0.3000 (max_synthetic_share)" in c for c in p.changes)


def test_auto_drop_note_gives_the_tokens_the_source_would_have_drawn():
    p = phase_problem([0.9, 0.1], [1000, 1000], mode="auto")
    p.min_seq = 20  # s1 would draw 10 sequences of 10 tokens
    solve_phase(p)
    assert "phase 'p': source 's1' dropped: 100 tokens < min_source_tokens" in p.changes


# was a bug (fixed in mixing/solve.py): float noise (1 + 9e-16 sequences) turned the one-sequence
# allowance of the synthetic spill-back into an error that _check_capacity had already ruled out
def test_real_sources_one_sequence_short_of_the_synthetic_cap_is_rounding_not_an_error():
    # max_synthetic_share 0.2 leaves 8 of 10 sequences to s1 and s2, which can give 3 + 4 = 7
    p = phase_problem(
        [0.3, 0.7, 0.0],
        [1000, 3, 4],
        budget=10,
        mode="auto",
        synthetic=np.array([True, False, False]),
        max_synthetic_share=0.2,
    )
    alloc = solve_phase(p)
    np.testing.assert_allclose(alloc[1:], [3, 4])  # the real sources give all they have
    assert alloc[0] <= 2 + 1 + 1e-9  # the synthetic one stays within one sequence of its cap


# --- fresh sample, seed 1203 ----------------------------------------------------------------------


def test_cap_error_for_one_source_says_nothing_about_more_sources():
    with pytest.raises(ValueError) as err:
        solve_phase(phase_problem([0.8, 0.2], [40, 1000]))
    assert str(err.value) == (
        "phase 'p': source 's0' wants 800 tokens but max_epochs allows 400 tokens "
        "(shortfall 400 tokens); or set resolve: auto"
    )


def test_a_source_dropped_by_min_source_tokens_takes_no_spill():
    # s1 is capped at 10 sequences (< min 15) and dropped; s0 (cap 60) cannot take the phase, so 40
    # spill over the free room: all onto s2 (not wanted, room 1000), none back onto the dropped s1
    p = phase_problem([0.7, 0.3, 0.0], [60, 10, 1000], mode="auto")
    p.min_seq = 15
    np.testing.assert_allclose(solve_phase(p), [60, 0, 40])
    assert p.dropped.tolist() == [False, True, False]


# --- second fresh sample, seed 1204 ---------------------------------------------------------------


def test_after_a_drop_the_floor_adjusted_targets_keep_their_proportions():
    # floor 0.5 lifts s0 (general) from 0.2 to 0.5; s1, s2 scale to 0.4375, 0.0625; s2 (6.25
    # sequences < 10) is dropped and its share goes to s0 and s1 in proportion: 0.5 : 0.4375
    p = phase_problem([0.2, 0.7, 0.1], [1000, 1000, 1000], mode="auto", general=[True, False, False])
    p.min_general_share = 0.5
    p.min_seq = 10
    np.testing.assert_allclose(solve_phase(p), [100 * 0.5 / 0.9375, 100 * 0.4375 / 0.9375, 0])


def test_auto_synthetic_cap_for_other_shares_and_with_only_synthetic_sources_wanted():
    # 80 % wanted, cap 30 %: the real sources take the other 70 % in their own proportion (3 : 1),
    # not by free room (which the spill-back of an over-cap synthetic allocation would use)
    p = phase_problem(
        [0.8, 0.15, 0.05],
        [1000, 1000, 1000],
        mode="auto",
        synthetic=np.array([True, False, False]),
        max_synthetic_share=0.3,
    )
    np.testing.assert_allclose(solve_phase(p), [30, 52.5, 17.5])
    # only the synthetic source wanted: the other 80 % go to the real ones by capacity (30 : 90)
    p = phase_problem(
        [1.0, 0.0, 0.0],
        [1000, 30, 90],
        mode="auto",
        synthetic=np.array([True, False, False]),
        max_synthetic_share=0.2,
    )
    np.testing.assert_allclose(solve_phase(p), [20, 20, 60])


def test_non_synthetic_capacity_error_gives_need_supply_and_shortfall_in_tokens():
    p = phase_problem([0.5, 0.5], [1000, 50], synthetic=np.array([True, False]), max_synthetic_share=0.3)
    with pytest.raises(ValueError) as err:
        solve_phase(p)
    assert str(err.value) == (
        "phase 'p': max_synthetic_share 0.3 leaves 700 tokens for the non-synthetic sources but they can "
        "give only 500 tokens under max_epochs/max_source_share (shortfall 200 tokens); raise "
        "max_synthetic_share or the budget"
    )


def test_error_and_auto_name_the_same_cap_when_both_caps_are_equal():
    # epoch cap 50 = share cap 50: the error (resolve: error) and the change note (auto) agree
    with pytest.raises(ValueError, match=r"'s0' wants 800 tokens but max_epochs allows 500 tokens"):
        solve_phase(phase_problem([0.8, 0.2], [50, 1000], share_cap=50))
    p = phase_problem([0.8, 0.2], [50, 1000], share_cap=50, mode="auto")
    solve_phase(p)
    assert "phase 'p': source 's0' share 0.8000 -> 0.5000 (max_epochs)" in p.changes


# --- third fresh sample, seed 1205 ----------------------------------------------------------------


def test_a_source_exactly_one_sequence_over_its_cap_is_rounding():
    alloc = solve_phase(phase_problem([0.25, 0.75], [24, 1000]))  # 25 wanted, cap 24: allowed
    assert alloc[0] <= 24 + 1e-9 and alloc.sum() == pytest.approx(100)


def test_synthetic_spill_back_goes_to_general_sources_only_as_far_as_the_floor_needs():
    # s0 synthetic (cap 20 %) ends with 30 after s2's cap spills onto it; the 10 moved back go to
    # everyone with room by room (s1 general: 950, s3: 1000), because s1 already meets the floor
    p = phase_problem(
        [0.1, 0.5, 0.4, 0.0],
        [1000, 1000, 20, 1000],
        mode="auto",
        general=[False, True, False, False],
        synthetic=np.array([True, False, False, False]),
        max_synthetic_share=0.2,
    )
    p.min_general_share = 0.1
    np.testing.assert_allclose(solve_phase(p), [20, 50 + 10 * 950 / 1950, 20, 10 * 1000 / 1950])


def test_change_notes_name_a_cap_only_when_it_held_the_source_below_its_target():
    # s0 (wants 90, cap 50) is held by max_epochs; s1 (wants 10) is filled up to its cap 30 by the
    # spill, which is a re-balance, not its cap binding; s2 takes the remaining 20
    p = phase_problem([0.9, 0.1, 0.0], [50, 30, 1000], mode="auto")
    np.testing.assert_allclose(solve_phase(p), [50, 30, 20])
    assert p.changes == [
        "phase 'p': source 's0' share 0.9000 -> 0.5000 (max_epochs)",
        "phase 'p': source 's1' share 0.1000 -> 0.3000 (re-balanced after other constraints)",
        "phase 'p': source 's2' share 0.0000 -> 0.2000 (re-balanced after other constraints)",
    ]
