"""RegMix search on a synthetic data-mixing law (Ye et al. 2024) with noise."""

import numpy as np
import pytest

from mixing.search import search_mixture

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
