"""Branch-by-branch guards of the per-phase solver (mixing/solve.py), written from a systematic read
of every comparison, tolerance and message rather than from one mutation sample at a time.

Each comparison is pinned on both sides of its boundary (values chosen exact in binary so "exactly
one sequence" really is 1.0), and each user-visible error or change note is pinned in full, since
users read them to fix their configs.
"""

import numpy as np
import pytest
from phase_problems import phase_problem

from mixing.apportion import effective_tokens, largest_remainder
from mixing.solve import solve_phase, water_fill


def _error(p) -> str:
    with pytest.raises(ValueError) as err:
        solve_phase(p)
    return str(err.value)


# --- water_fill ------------------------------------------------------------------------------------


def test_water_fill_fills_to_the_cap_and_pours_the_excess_over_the_rest_in_proportion():
    # 25 / 25 / 50 wanted; s0 capped at 10, its 15 go to s1 and s2 in proportion 1 : 2
    alloc, unmet = water_fill(np.array([1.0, 1.0, 2.0]), np.array([10.0, 100.0, 100.0]), 100)
    np.testing.assert_allclose(alloc, [10, 30, 60])
    assert unmet == 0.0
    # exactly at the caps: everything placed, nothing unmet
    alloc, unmet = water_fill(np.array([1.0, 1.0]), np.array([5.0, 5.0]), 10)
    np.testing.assert_allclose(alloc, [5, 5])
    assert unmet == pytest.approx(0.0, abs=1e-9)


def test_water_fill_skips_zero_weights_and_zero_caps_and_reports_what_it_cannot_place():
    alloc, unmet = water_fill(np.array([1.0, 0.0, 1.0]), np.array([10.0, 100.0, 20.0]), 50)
    np.testing.assert_allclose(alloc, [10, 0, 20])  # s1 has room but no weight
    assert unmet == pytest.approx(20)
    alloc, unmet = water_fill(np.array([1.0, 1.0]), np.array([0.0, 100.0]), 10)
    np.testing.assert_allclose(alloc, [0, 10])
    assert unmet == 0.0


# --- _check_capacity -------------------------------------------------------------------------------


def test_general_floor_beyond_the_general_capacity_error_text():
    p = phase_problem([0.5, 0.5], [20, 1000], general=[True, False])
    p.min_general_share = 0.3  # 30 sequences needed, the general source gives 20
    assert _error(p) == (
        "phase 'p': min_general_share 0.3 needs 300 tokens from the general domains but they can give "
        "only 200 tokens under max_epochs/max_source_share (shortfall 100 tokens)"
    )
    # the general capacity exactly at the floor is enough
    p = phase_problem([0.3, 0.7], [30, 1000], general=[True, False])
    p.min_general_share = 0.3
    np.testing.assert_allclose(solve_phase(p), [30, 70])


def test_a_floor_within_the_tolerance_above_the_general_capacity_is_float_noise():
    # floor 0.30000000001 of 100 sequences is 30 + 1e-9 (exact in binary: the tolerance itself) over a
    # general capacity of 30: accepted, the general source gives its 30; 2e-9 over is an error
    p = phase_problem([0.3, 0.7], [30, 1000], general=[True, False])
    p.min_general_share = 0.30000000001
    assert p.min_general_share * p.budget_seq == 30 + 1e-9
    np.testing.assert_allclose(solve_phase(p), [30, 70])
    p = phase_problem([0.3, 0.7], [30, 1000], general=[True, False])
    p.min_general_share = 0.30000000002
    assert _error(p).startswith("phase 'p': min_general_share 0.30000000002 needs")


def test_total_capacity_error_text_and_capacity_exactly_the_budget_is_feasible():
    assert _error(phase_problem([0.5, 0.5], [40, 50], mode="auto")) == (
        "phase 'p': no feasible mixture: all sources together can give only 900 tokens under "
        "max_epochs/max_source_share, the phase needs 1,000 tokens (shortfall 100 tokens)"
    )
    np.testing.assert_allclose(solve_phase(phase_problem([0.5, 0.5], [50, 50])), [50, 50])


def test_non_synthetic_capacity_one_sequence_short_is_rounding_two_is_an_error():
    # max_synthetic_share 0.25 of 8 sequences leaves 6 to the real source
    def p(real_cap):
        return phase_problem(
            [0.25, 0.75],
            [1000, real_cap],
            budget=8,
            synthetic=np.array([True, False]),
            max_synthetic_share=0.25,
        )

    np.testing.assert_allclose(solve_phase(p(5)), [3, 5])  # one short: the synthetic source takes it
    assert (
        "max_synthetic_share 0.25 leaves 60 tokens for the non-synthetic sources but they can give only "
        in _error(p(4))
    )


# --- _apply_synthetic_cap --------------------------------------------------------------------------


def test_a_synthetic_excess_of_exactly_one_sequence_is_rounding_and_two_is_an_error():
    def p(budget):  # 37.5 % wanted, 25 % allowed
        return phase_problem(
            [0.375, 0.625],
            [1000, 1000],
            budget=budget,
            synthetic=np.array([True, False]),
            max_synthetic_share=0.25,
        )

    np.testing.assert_allclose(solve_phase(p(8)), [3, 5])  # 1 sequence over: kept as asked
    assert _error(p(16)) == (
        "phase 'p': max_synthetic_share 0.25: the synthetic sources get 0.3750 of the phase (excess 20 tokens); "
        "lower their targets or set resolve: auto"
    )


def test_auto_synthetic_cap_change_note_in_full():
    p = phase_problem(
        [0.5, 0.5],
        [1000, 1000],
        budget=8,
        mode="auto",
        synthetic=np.array([True, False]),
        max_synthetic_share=0.25,
    )
    np.testing.assert_allclose(solve_phase(p), [2, 6])
    assert p.changes[0] == (
        "phase 'p': synthetic share 0.5000 -> 0.2500 (max_synthetic_share); other sources scaled up"
    )


def test_max_synthetic_share_of_one_caps_nothing():
    p = phase_problem([0.9, 0.1], [1000, 1000], synthetic=np.array([True, False]), max_synthetic_share=1.0)
    np.testing.assert_allclose(solve_phase(p), [90, 10])
    assert p.changes == []


# --- _apply_floor ----------------------------------------------------------------------------------


def test_general_share_exactly_at_the_floor_changes_nothing():
    p = phase_problem([0.375, 0.625], [1000, 1000], budget=8, mode="auto", general=[True, False])
    p.min_general_share = 0.375
    np.testing.assert_allclose(solve_phase(p), [3, 5])
    assert p.changes == []


def test_general_share_under_the_floor_error_text():
    p = phase_problem([0.25, 0.75], [1000, 1000], budget=8, general=[True, False])
    p.min_general_share = 0.375
    assert _error(p) == (
        "phase 'p': min_general_share 0.375: the general domains get 0.2500 of the phase "
        "(shortfall 10 tokens); raise their targets or set resolve: auto"
    )


def test_auto_floor_notes_and_a_move_of_exactly_one_sequence_is_noted():
    p = phase_problem([0.25, 0.75], [1000, 1000], budget=8, mode="auto", general=[True, False])
    p.min_general_share = 0.375  # s0: 2 -> 3 sequences, s1: 6 -> 5
    np.testing.assert_allclose(solve_phase(p), [3, 5])
    assert p.changes == [
        "phase 'p': general share 0.2500 -> 0.3750 (min_general_share); other domains scaled down",
        "phase 'p': source 's0' share 0.2500 -> 0.3750 (re-balanced after other constraints)",
        "phase 'p': source 's1' share 0.7500 -> 0.6250 (re-balanced after other constraints)",
    ]


def test_a_move_under_one_sequence_gets_no_source_note():
    p = phase_problem([0.25, 0.75], [1000, 1000], budget=8, mode="auto", general=[True, False])
    p.min_general_share = 0.3125  # s0: 2 -> 2.5 sequences
    np.testing.assert_allclose(solve_phase(p), [2.5, 5.5])
    assert p.changes == [
        "phase 'p': general share 0.2500 -> 0.3125 (min_general_share); other domains scaled down"
    ]


def test_auto_floor_scales_the_general_sources_in_their_own_proportion():
    p = phase_problem([0.1, 0.1, 0.8], [1000, 1000, 1000], mode="auto", general=[True, True, False])
    p.min_general_share = 0.5
    np.testing.assert_allclose(solve_phase(p), [25, 25, 50])


# --- _allocate / _fill_group -----------------------------------------------------------------------


def test_a_domain_keeps_its_target_when_one_of_its_sources_is_capped():
    # s0 and s1 are one domain (50 % together); s0 capped at 10: s1, not the other domain, takes 30
    p = phase_problem([0.4, 0.1, 0.5], [10, 1000, 1000], mode="auto")
    p.domain_codes = np.array([0, 0, 1])
    np.testing.assert_allclose(solve_phase(p), [10, 40, 50])


def test_general_takes_what_the_other_domains_cannot_and_the_reverse():
    # the other domains want 60 but can give 40: the general source takes 20 more
    p = phase_problem([0.4, 0.6], [1000, 40], mode="auto", general=[True, False])
    np.testing.assert_allclose(solve_phase(p), [60, 40])
    # the general domains want 60 but can give 40: the others take 20 more
    p = phase_problem([0.6, 0.4], [40, 1000], mode="auto", general=[True, False])
    np.testing.assert_allclose(solve_phase(p), [40, 60])


# --- _cap_synthetic_alloc --------------------------------------------------------------------------


def _general_synthetic(floor):
    # s0 general synthetic (cap 20 %), s1 general capped at 20, s2 general with room, s3 other.
    # The general group's 60 put 40 on s0 (s1 is full): 20 must move off s0, and scaling s0 down
    # takes the general domains under the floor
    p = phase_problem(
        [0.2, 0.4, 0.0, 0.4],
        [1000, 20, 1000, 1000],
        mode="auto",
        general=[True, True, True, False],
        synthetic=np.array([True, False, False, False]),
        max_synthetic_share=0.2,
    )
    p.min_general_share = floor
    return solve_phase(p)


def test_synthetic_spill_back_refills_the_general_floor_first():
    # floor 60 %: all 20 go to the general s2, none to s3
    np.testing.assert_allclose(_general_synthetic(0.6), [20, 20, 20, 40])


def test_synthetic_spill_back_beyond_the_floor_deficit_goes_to_everyone_by_room():
    # floor 50 %: 10 to s2 for the floor, the other 10 over s2 (room 990) and s3 (room 960)
    np.testing.assert_allclose(_general_synthetic(0.5), [20, 20, 10 + 10 * 990 / 1950, 40 + 10 * 960 / 1950])


def _synthetic_over_its_cap_by(real_cap):
    # s0 synthetic (max_synthetic_share 0.375: 37.5 sequences) wants 10 %; s1 wants 90 % but is
    # capped at real_cap, so the spill lands on s0; s2 (not wanted) has room to take it back
    p = phase_problem(
        [0.1, 0.9, 0.0],
        [1000, real_cap, 1000],
        mode="auto",
        synthetic=np.array([True, False, False]),
        max_synthetic_share=0.375,
    )
    return solve_phase(p)


def test_a_synthetic_spill_more_than_one_sequence_over_the_cap_is_moved_back():
    # s0 would get 39 = cap + 1.5: over the one-sequence allowance, 1.5 move to s2
    np.testing.assert_allclose(_synthetic_over_its_cap_by(61), [37.5, 61, 1.5])
    # s0 would get 38 = cap + 0.5: rounding, left on s0
    np.testing.assert_allclose(_synthetic_over_its_cap_by(62), [38, 62, 0])


# --- min_source_tokens -----------------------------------------------------------------------------


def test_a_source_at_exactly_min_source_tokens_is_kept():
    p = phase_problem([0.8, 0.2], [1000, 1000])
    p.min_seq = 20
    np.testing.assert_allclose(solve_phase(p), [80, 20])


def test_min_source_tokens_of_one_sequence_drops_nothing():
    p = phase_problem([0.995, 0.005], [1000, 1000])  # s1 draws half a sequence
    np.testing.assert_allclose(solve_phase(p), [99.5, 0.5])


def test_every_small_source_is_dropped_with_its_own_notes_and_the_error_names_the_first():
    p = phase_problem([0.8, 0.1, 0.1], [1000, 1000, 1000])
    p.min_seq = 15
    assert "source 's1' would draw 100 tokens" in _error(p)
    p = phase_problem([0.8, 0.1, 0.1], [1000, 1000, 1000], mode="auto")
    p.min_seq = 15
    np.testing.assert_allclose(solve_phase(p), [100, 0, 0])
    assert p.dropped.tolist() == [False, True, True]
    assert p.changes == [
        "phase 'p': source 's1' dropped: 100 tokens < min_source_tokens",
        "phase 'p': source 's2' dropped: 100 tokens < min_source_tokens",
        "phase 'p': source 's0' share 0.8000 -> 1.0000 (re-balanced after other constraints)",
        "phase 'p': source 's1' share 0.1000 -> 0.0000 (min_source_tokens)",
        "phase 'p': source 's2' share 0.1000 -> 0.0000 (min_source_tokens)",
    ]


def test_change_note_names_max_source_share_when_it_binds():
    p = phase_problem([0.8, 0.2], [1000, 1000], share_cap=50, mode="auto")
    np.testing.assert_allclose(solve_phase(p), [50, 50])
    assert "phase 'p': source 's0' share 0.8000 -> 0.5000 (max_source_share)" in p.changes


# --- largest_remainder -----------------------------------------------------------------------------


def test_largest_remainder_ties_go_to_the_lower_index_and_results_stay_under_the_caps():
    np.testing.assert_array_equal(largest_remainder(np.array([1.5, 1.5, 1.0]), 4), [2, 1, 1])
    # s0 sits at its cap: the leftover unit goes to the largest remainder with room
    np.testing.assert_array_equal(
        largest_remainder(np.array([2.0, 1.4, 0.6]), 4, caps=np.array([2, 5, 5])), [2, 1, 1]
    )


def test_largest_remainder_reserve_gives_the_masked_rows_their_units_first():
    quotas = np.array([1.4, 1.6, 1.0])
    np.testing.assert_array_equal(largest_remainder(quotas, 4), [1, 2, 1])
    np.testing.assert_array_equal(
        largest_remainder(quotas, 4, reserve_mask=np.array([True, False, False]), reserve_total=2), [2, 1, 1]
    )


# --- fresh sample, seed 1206 (survivors of the first run) -----------------------------------------


def test_a_general_share_within_the_tolerance_of_the_floor_meets_it():
    # floor 0.5: a share 1e-9 under it is float noise and accepted as is; 2e-9 under is a miss
    p = phase_problem([0.5 - 1e-9, 0.5 + 1e-9], [1000, 1000], general=[True, False])
    p.min_general_share = 0.5
    alloc = solve_phase(p)
    assert p.changes == []
    # and the allocation still gives the general source the whole floor, not 1e-9 of the phase less
    assert alloc[0] >= 50 - 1e-12
    p = phase_problem([0.5 - 2e-9, 0.5 + 2e-9], [1000, 1000], general=[True, False])
    p.min_general_share = 0.5
    assert "min_general_share 0.5: the general domains get 0.5000 of the phase" in _error(p)


def test_largest_remainder_ties_among_many_sources_go_to_the_lowest_indices():
    # 21 sources tie at remainder 0.5 for 13 units: the first 13 of them (a plain quicksort of
    # more than 16 keys would not keep that order)
    quotas = np.array([0.5] * 10 + [0.25] * 10 + [0.5] * 11)
    expected = np.zeros(31, dtype=np.int64)
    expected[:10] = 1
    expected[20:23] = 1
    np.testing.assert_array_equal(largest_remainder(quotas, 13), expected)


def test_largest_remainder_reserve_of_tiny_quotas_still_gets_its_unit():
    # two reserved rows of 6e-10 each (sum just over the 1e-9 tolerance, so the reserve is 1 unit)
    # take the leftover unit ahead of the third row's much larger remainder
    quotas = np.array([6e-10, 6e-10, 3 - 1.2e-9])
    got = largest_remainder(quotas, 3, reserve_mask=np.array([True, True, False]), reserve_total=1)
    np.testing.assert_array_equal(got, [1, 0, 2])


# --- largest_remainder / effective_tokens, read after a full run over apportion.py's mutants -------


def test_largest_remainder_rescales_drifted_quotas_to_the_total():
    # quotas summing to 0.5 for a total of 2 are read as shares: 0.4 and 1.6
    np.testing.assert_array_equal(largest_remainder(np.array([0.1, 0.4]), 2), [0, 2])
    np.testing.assert_array_equal(largest_remainder(np.zeros(3), 0), [0, 0, 0])


def test_largest_remainder_reserve_is_off_by_default_and_a_row_gets_at_most_one_extra_unit():
    np.testing.assert_array_equal(
        largest_remainder(np.array([0.4, 1.6, 2.0]), 4, reserve_mask=np.array([True, False, False])),
        [0, 2, 2],
    )
    # the reserved row takes its unit first; the next unit goes to another row, not to it again
    got = largest_remainder(
        np.array([0.8, 0.6, 0.6]), 2, reserve_mask=np.array([True, False, False]), reserve_total=1
    )
    np.testing.assert_array_equal(got, [1, 1, 0])


def test_largest_remainder_negative_quotas_beyond_float_noise_and_no_room_fail_loudly():
    np.testing.assert_array_equal(largest_remainder(np.array([-1e-9, 2.0 + 1e-9]), 2), [0, 2])
    with pytest.raises(AssertionError) as err:
        largest_remainder(np.array([-0.5, 2.5]), 2)
    assert str(err.value) == "negative quota"
    with pytest.raises(AssertionError) as err:
        largest_remainder(np.array([2.0, 2.0]), 4, caps=np.array([1, 1]))
    assert str(err.value) == "not enough room under the caps to round"


def test_effective_tokens_of_a_partial_second_epoch():
    # D = 1.5 U: R = 0.5 repeated epochs, D' = U + U R* (1 - exp(-R / R*))
    unique = 1e6
    got = effective_tokens(np.array([1.5e6]), np.array([unique]))
    np.testing.assert_allclose(got, unique + unique * 15.4 * (1 - np.exp(-0.5 / 15.4)))
