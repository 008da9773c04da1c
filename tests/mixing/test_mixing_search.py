"""RegMix search on a synthetic data-mixing law (Ye et al. 2024) with noise."""

import numpy as np
import pytest

from mixing.search import kl_to_prior, propose_mixture, search_mixture, space_from_constraints

NAMES = ["general", "math", "code"]
T = np.array([[-1.0, 0.3, 0.2], [0.2, -2.0, 0.1], [0.1, 0.4, -1.5]])


def _true_loss(mixture):
    r = np.array([mixture[n] for n in NAMES])
    return float(np.mean(2.0 + np.exp(T @ r)))  # L_i(r) = c_i + k_i exp(t_i . r), averaged


def test_search_finds_a_better_feasible_mixture():
    rng = np.random.default_rng(0)
    prior = {"general": 0.6, "math": 0.2, "code": 0.2}
    result = search_mixture(
        lambda m: _true_loss(m) + rng.normal(0, 0.002),
        names=NAMES,
        prior=prior,
        num_proxies=40,
        num_candidates=4000,
        top_k=16,
        general=["general"],
        min_general_share=0.4,
        regressor="linear",
        seed=0,
    )
    assert sum(result.mixture.values()) == pytest.approx(1.0)
    assert result.mixture["general"] >= 0.4 - 1e-9
    assert result.r2_heldout > 0.7 and result.spearman_heldout > 0.8
    assert _true_loss(result.mixture) < _true_loss(prior) - 0.01
    assert result.proxies.height == 40 and "loss" in result.proxies.columns
    assert result.predicted_loss == pytest.approx(_true_loss(result.mixture), abs=0.02)


def test_search_names_infeasible_constraints():
    with pytest.raises(ValueError, match="min_general_share"):
        search_mixture(
            lambda m: 0.0,
            names=NAMES,
            num_proxies=10,
            general=["general"],
            min_general_share=0.999,
            concentration=1.0,
        )


def test_search_with_the_loglinear_law_and_epoch_caps():
    prior = {"general": 0.6, "math": 0.2, "code": 0.2}
    result = search_mixture(
        _true_loss,
        names=NAMES,
        prior=prior,
        num_proxies=12,
        num_candidates=2000,
        sizes_tokens={"general": 10**9, "math": 5 * 10**6, "code": 10**8},
        budget_tokens=10**7,  # math may reach 4 epochs at a 0.5 share
        max_share=0.8,
        general=["general"],
        min_general_share=0.3,
        regressor="loglinear",
    )
    assert result.law.kind == "loglinear" and result.r2_heldout > 0.9
    assert result.mixture["math"] <= 0.5 + 1e-9 and result.mixture["general"] >= 0.3 - 1e-9
    # one exponential fitted to a mean of three extrapolates badly: its unconstrained minimum is a
    # corner no proxy came near and is worse than the prior; the trust region (no farther from
    # the prior than the farthest proxy) keeps the proposal where the law was measured
    true_loss = _true_loss(result.mixture)
    assert true_loss < _true_loss(prior) - 0.02 and true_loss < result.proxies["loss"].min()
    assert result.predicted_loss == pytest.approx(true_loss, abs=0.01)
    space = space_from_constraints(
        NAMES,
        prior=prior,
        max_share=0.8,
        general=["general"],
        min_general_share=0.3,
        sizes_tokens={"general": 10**9, "math": 5 * 10**6, "code": 10**8},
        budget_tokens=10**7,
    )
    corner, _ = propose_mixture(result.law, space, num_candidates=2000, trust_region=False)
    assert _true_loss(corner) > _true_loss(prior)
    farthest_proxy = kl_to_prior(space, result.law.mixtures).max()
    assert kl_to_prior(space, np.array([list(corner.values())]))[0] > farthest_proxy
    assert kl_to_prior(space, np.array([list(result.mixture.values())]))[0] <= farthest_proxy + 1e-6
