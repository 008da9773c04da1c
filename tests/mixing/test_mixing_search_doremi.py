"""DoReMi: the excess-loss update against a hand-computed step, the round driver, projection."""

import numpy as np
import pytest

from mixing.search import doremi_search, doremi_update, feasible_mask, space_from_constraints

NAMES = ["general", "math", "code"]


def test_update_matches_a_hand_computed_step():
    # weights (0.5, 0.3, 0.2), excess (0.2, -0.1, 0.5), step 2, smoothing 0.1, u uniform:
    #   clipped excess        (0.2, 0, 0.5)
    #   w * exp(2 * excess) = (0.5 e^0.4, 0.3, 0.2 e^1) = (0.745912, 0.3, 0.543656), sum 1.589569
    #   normalised          = (0.469255, 0.188730, 0.342015)
    #   0.9 * that + 0.1/3  = (0.455662, 0.203191, 0.341147)
    new = doremi_update(
        {"a": 0.5, "b": 0.3, "c": 0.2}, {"a": 0.2, "b": -0.1, "c": 0.5}, step_size=2.0, smoothing=0.1
    )
    assert list(new) == ["a", "b", "c"]
    np.testing.assert_allclose(list(new.values()), [0.455662, 0.203191, 0.341147], atol=2e-6)
    # arrays in, array out; smoothing toward a prior instead of uniform:
    #   0.9 * (0.469255, 0.188730, 0.342015) + 0.1 * (0.6, 0.2, 0.2) = (0.482329, 0.189857, 0.327813)
    arr = doremi_update(
        np.array([0.5, 0.3, 0.2]),
        np.array([0.2, -0.1, 0.5]),
        step_size=2.0,
        smoothing=0.1,
        prior=np.array([3, 1, 1.0]),
    )
    np.testing.assert_allclose(arr, [0.482329, 0.189857, 0.327813], atol=2e-6)
    # no positive excess: the weights only move toward u by the smoothing
    same = doremi_update(np.array([0.7, 0.3]), np.array([-1.0, 0.0]), step_size=5.0, smoothing=0.0)
    np.testing.assert_allclose(same, [0.7, 0.3])


def _synthetic_round(gaps):
    """A proxy whose excess loss on a domain shrinks as the domain gets more weight."""
    calls = []

    def train_round(weights, round_index):
        calls.append((round_index, dict(weights)))
        return {n: 2.0 + gaps[n] * np.exp(-4.0 * weights[n]) for n in NAMES}

    return train_round, calls


def test_driver_moves_weight_toward_the_largest_excess_loss():
    space = space_from_constraints(NAMES, prior={"general": 0.5, "math": 0.25, "code": 0.25})
    gaps = {"general": 0.05, "math": 0.2, "code": 1.0}
    train_round, calls = _synthetic_round(gaps)
    result = doremi_search(train_round, dict.fromkeys(NAMES, 2.0), space, rounds=6, step_size=1.0)
    assert [r for r, _ in calls] == list(range(6))
    assert calls[0][1] == pytest.approx(space.prior)  # round 0 trains on the (projected) prior
    gains = {n: result.weights[n] - space.prior[n] for n in NAMES}
    assert max(gains, key=gains.get) == "code" and gains["code"] > 0.1
    code = result.history.filter(result.history["unit"] == "code")["next_weight"].to_list()
    assert code == sorted(code)  # code's weight grows every round
    assert result.history.height == 18 and set(result.history.columns) >= {"excess", "weight", "loss"}
    # the final weights are the average of the per-round weights, as in the paper
    np.testing.assert_allclose([result.weights[n] for n in NAMES], result.round_weights.mean(axis=0))


def test_driver_projects_every_round_into_the_space():
    space = space_from_constraints(
        NAMES,
        prior={"general": 0.5, "math": 0.25, "code": 0.25},
        max_share=0.35,
        pinned={"general": 0.35},
        general=["general", "math"],
        min_general_share=0.6,
    )
    train_round, _ = _synthetic_round({"general": 0.0, "math": 0.1, "code": 3.0})
    result = doremi_search(train_round, dict.fromkeys(NAMES, 2.0), space, rounds=5, step_size=2.0)
    assert feasible_mask(space, result.round_weights).all()
    assert (result.round_weights[:, 0] == 0.35).all() and result.weights["general"] == 0.35
    # code wants everything but its cap (0.35) and the floor (math >= 0.25) hold it back
    assert result.round_weights[-1, 2] <= 0.35 + 1e-12 and result.round_weights[-1, 1] >= 0.25 - 1e-12
    assert feasible_mask(space, np.array([result.weights[n] for n in NAMES]))[0]


def test_driver_names_a_diverged_round_and_a_missing_key():
    space = space_from_constraints(NAMES)
    with pytest.raises(ValueError, match=r"round 1 returned a non-finite loss for \['math'\]"):
        doremi_search(
            lambda w, r: {"general": 2.0, "math": float("nan") if r == 1 else 2.0, "code": 2.0},
            dict.fromkeys(NAMES, 2.0),
            space,
            rounds=3,
        )
    with pytest.raises(ValueError, match=r"round 0 returned no loss for unit\(s\) \['code'\]"):
        doremi_search(lambda w, r: {"general": 2.0, "math": 2.0}, dict.fromkeys(NAMES, 2.0), space, rounds=2)
    with pytest.raises(ValueError, match=r"reference_losses has no loss for unit\(s\) \['math'\]"):
        doremi_search(lambda w, r: {}, {"general": 1.0, "code": 1.0}, space, rounds=1)
