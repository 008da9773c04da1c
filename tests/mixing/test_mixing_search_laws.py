"""Search spaces, mixture laws and proposals on synthetic data-mixing laws (Ye et al. 2024)."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixing.search import (
    SearchSpace,
    combine_laws,
    feasible_mask,
    fit_law,
    kl_to_prior,
    project_mixture,
    propose_mixture,
    sample_mixtures,
    space_from_constraints,
)

NAMES = ["general", "math", "code", "wiki"]
PRIOR = {"general": 0.5, "math": 0.2, "code": 0.2, "wiki": 0.1}
# Per-target laws L_i(r) = 2 + exp(T_i . r): each domain's loss falls with its own share.
T = np.array([[-1.0, 0.3, 0.2, -0.4], [0.2, -2.0, 0.1, 0.2], [0.1, 0.4, -1.5, 0.2], [-0.3, 0.2, 0.2, -1.2]])


def _losses(mixtures):
    return 2.0 + np.exp(np.atleast_2d(mixtures) @ T.T)  # (n, targets)


def _space(**overrides):
    kwargs = dict(prior=PRIOR, general=["general", "wiki"], min_general_share=0.4)
    return space_from_constraints(NAMES, **{**kwargs, **overrides})


def test_loglinear_recovers_known_parameters():
    space = _space(min_general_share=0.0)
    mixtures = sample_mixtures(space, 16, concentration=4.0, seed=3)
    t_true, c_true, k_true = np.array([-1.2, 0.4, 0.3, 0.5]), 2.0, 0.8
    losses = c_true + k_true * np.exp(mixtures @ t_true)
    losses += np.random.default_rng(0).normal(0, 1e-3, len(losses))
    law = fit_law("loglinear", mixtures, losses, names=NAMES)
    assert law.num_folds == 5 and law.r2_heldout > 0.9 and law.spearman_heldout > 0.9
    # t is defined up to a shift (shares sum to 1); the law reports it centred, k rescaled.
    shift = t_true.mean()
    assert law.params["c"] == pytest.approx(c_true, abs=0.05)
    assert law.params["k"] == pytest.approx(k_true * np.exp(shift), rel=0.05)
    t_fit = np.array([law.params["t"][n] for n in NAMES])
    np.testing.assert_allclose(t_fit, t_true - shift, atol=0.1)
    np.testing.assert_allclose(law.predict(mixtures), losses, atol=5e-3)
    record = json.loads(json.dumps(law.to_dict()))
    assert record["kind"] == "loglinear" and len(record["heldout_predictions"]) == 16


def test_loglinear_is_robust_when_the_exponent_is_near_zero():
    """An almost linear law (t ~ 0) must still fit and predict, not blow up."""
    space = _space(min_general_share=0.0)
    mixtures = sample_mixtures(space, 12, seed=1)
    losses = 3.0 + 0.02 * mixtures @ np.array([-1.0, 0.5, 0.2, 0.3])
    losses += np.random.default_rng(2).normal(0, 1e-4, len(losses))  # proxies are never noise-free
    law = fit_law("loglinear", mixtures, losses, names=NAMES)
    assert law.r2_heldout > 0.95
    assert np.isfinite(law.params["c"]) and np.isfinite(law.params["k"])


def test_eight_proxies_fit_every_kind_with_four_folds():
    space = _space()
    mixtures = sample_mixtures(space, 8, seed=2)
    losses = _losses(mixtures).mean(axis=1)
    for kind in ("linear", "loglinear", "gbm"):
        law = fit_law(kind, mixtures, losses, names=NAMES)
        assert law.num_folds == 4 and len(law.heldout_predictions) == 8
        assert np.isfinite(law.r2_heldout) and np.isfinite(law.predict(mixtures)).all()
    assert law.kind == "gbm"


def test_fit_rejects_bad_input_in_one_line():
    mixtures = sample_mixtures(_space(), 6, seed=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        fit_law("spline", mixtures, np.ones(6), names=NAMES)
    with pytest.raises(ValueError, match=r"proxy row\(s\) \[2\]"):
        fit_law("linear", mixtures, np.array([1, 1, np.nan, 1, 1, 1.0]), names=NAMES)
    with pytest.raises(ValueError, match="at least 4 proxies"):
        fit_law("linear", mixtures[:3], np.ones(3), names=NAMES)


def _true_optimum(space, objective):
    """The feasible minimum of ``objective``, from many SLSQP starts (the reference answer)."""
    from scipy.optimize import minimize

    general = space.general_mask()
    caps = space.cap_vector()
    best = None
    for start in sample_mixtures(space, 8, seed=11):
        done = minimize(
            lambda r: float(objective(r[None, :])[0]),
            start,
            method="SLSQP",
            bounds=[(0, c) for c in caps],
            constraints=[
                {"type": "eq", "fun": lambda r: r.sum() - 1},
                {"type": "ineq", "fun": lambda r: r[general].sum() - space.min_general_share},
            ],
            options={"ftol": 1e-12, "maxiter": 300},
        )
        if best is None or done.fun < best.fun:
            best = done
    return best.x, best.fun


def test_propose_finds_the_optimum_of_a_per_domain_loglinear_law():
    space = _space(max_share=0.6)
    weights = {"general": 0.4, "math": 0.3, "code": 0.2, "wiki": 0.1}
    w = np.array(list(weights.values()))
    mixtures = sample_mixtures(space, 16, seed=5)
    per_domain = _losses(mixtures) + np.random.default_rng(1).normal(0, 1e-3, (16, 4))
    laws = {n: fit_law("loglinear", mixtures, per_domain[:, i], names=NAMES) for i, n in enumerate(NAMES)}
    law = combine_laws(laws, weights)
    assert law.r2_heldout > 0.9 and law.spearman_heldout > 0.9
    mixture, predicted = propose_mixture(law, space, num_candidates=2000, seed=0)
    row = np.array([mixture[n] for n in NAMES])
    assert feasible_mask(space, row)[0]
    best_row, best_loss = _true_optimum(space, lambda r: _losses(r) @ w)
    regret = float((_losses(row) @ w)[0]) - best_loss
    assert regret < 2e-3, (mixture, best_row)
    np.testing.assert_allclose(row, best_row, atol=0.05)
    assert predicted == pytest.approx(float((_losses(row) @ w)[0]), abs=5e-3)
    prior_loss = float((_losses(space.prior_vector()) @ w)[0])
    assert float((_losses(row) @ w)[0]) < prior_loss - 0.01


def test_kl_weight_pulls_the_proposal_toward_the_prior_monotonically():
    space = _space()
    mixtures = sample_mixtures(space, 16, seed=4)
    law = fit_law("loglinear", mixtures, _losses(mixtures).mean(axis=1), names=NAMES)
    kls, predicted = [], []
    for kl_weight in (0.0, 0.01, 0.05, 0.2, 1.0, 10.0):
        mixture, loss = propose_mixture(law, space, kl_weight=kl_weight, num_candidates=1000, seed=0)
        row = np.array([mixture[n] for n in NAMES])
        assert feasible_mask(space, row)[0]
        kls.append(float(kl_to_prior(space, row)[0]))
        predicted.append(loss)
    assert all(a >= b - 1e-6 for a, b in zip(kls, kls[1:], strict=False)), kls
    assert all(a <= b + 1e-6 for a, b in zip(predicted, predicted[1:], strict=False)), predicted
    assert kls[0] > 0.05 and kls[-1] < 0.01 * kls[0]  # the prior is feasible: a heavy weight returns it


def test_pins_hold_exactly_in_samples_projections_and_proposals():
    space = _space(pinned={"general": 0.5}, max_share=0.7)
    rows = sample_mixtures(space, 200, seed=0)
    assert (rows[:, 0] == 0.5).all() and feasible_mask(space, rows).all()
    projected = project_mixture(space, np.random.default_rng(0).dirichlet(np.ones(4), 50))
    assert (projected[:, 0] == 0.5).all() and feasible_mask(space, projected).all()
    law = fit_law("loglinear", rows[:16], _losses(rows[:16]).mean(axis=1), names=NAMES)
    for kl_weight in (0.0, 0.5):
        mixture, _ = propose_mixture(law, space, kl_weight=kl_weight, num_candidates=500)
        assert mixture["general"] == 0.5
        assert sum(mixture.values()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pinned": {"general": 0.7, "math": 0.5}}, "pinned shares sum to 1.2 > 1"),
        ({"max_share": 0.2}, r"caps of the unpinned units sum to 0.8 < the 1 left"),
        ({"pinned": {"math": 0.5}, "max_share": 0.4}, "pinned share of 'math' 0.5 > its cap 0.4"),
        ({"min_general_share": 0.9, "max_share": 0.4}, "min_general_share 0.9 cannot be met"),
        (
            {"sizes_tokens": dict.fromkeys(NAMES, 200_000), "budget_tokens": 10**7},
            r"caps of the unpinned units sum to 0.32 < the 1 left",  # 4 epochs x 2% of the budget each
        ),
        ({"pinned": {"cooking": 0.1}}, r"pinned names unknown unit\(s\) \['cooking'\]"),
    ],
)
def test_infeasible_constraints_name_the_constraint(overrides, message):
    with pytest.raises(ValueError, match=message) as info:
        _space(**overrides)
    assert "\n" not in str(info.value)


def test_sampling_names_the_constraint_that_rejects_the_draws():
    # Feasible but far from the prior: Dirichlet draws around the prior as given almost never hit it.
    space = _space(min_general_share=0.97, general=["wiki", "general"])
    with pytest.raises(ValueError, match="the most violated: min_general_share 0.97"):
        sample_mixtures(space, 10, concentration=50.0, center="prior", max_draws_per_row=20)
    rows = sample_mixtures(space, 10, concentration=50.0)  # centred on the projected prior instead
    assert feasible_mask(space, rows).all()
    rows = sample_mixtures(
        space, 10, concentration=50.0, center="prior", max_draws_per_row=20, on_shortfall="project"
    )
    assert feasible_mask(space, rows).all() and len(rows) == 10


@st.composite
def spaces(draw):
    n = draw(st.integers(min_value=2, max_value=6))
    names = [f"u{i}" for i in range(n)]
    raw = np.array([draw(st.integers(1, 20)) for _ in names], dtype=float)
    caps = {u: draw(st.sampled_from([1.0, 0.8, 0.5, 0.3, 0.1, 0.02])) for u in names}
    pinned = {}
    if draw(st.booleans()):
        pin = draw(st.sampled_from(names))
        pinned[pin] = min(caps[pin], draw(st.sampled_from([0.1, 0.25, 0.5])))
    general = draw(st.lists(st.sampled_from(names), min_size=1, max_size=n, unique=True))
    floor = draw(st.sampled_from([0.0, 0.2, 0.5, 0.8]))
    space = SearchSpace(
        names=names,
        prior=dict(zip(names, (raw / raw.sum()).tolist(), strict=True)),
        caps=caps,
        general=general,
        min_general_share=floor,
        pinned=pinned,
    )
    try:
        space.check()
    except ValueError:
        return None
    return space


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=spaces(), seed=st.integers(0, 1000))
def test_every_sample_projection_and_proposal_is_feasible(space, seed):
    if space is None:
        return
    rng = np.random.default_rng(seed)
    projected = project_mixture(space, rng.dirichlet(np.full(len(space.names), 0.5), 64))
    assert feasible_mask(space, projected).all()
    try:
        rows = sample_mixtures(space, 64, seed=seed, max_draws_per_row=50)
    except ValueError as error:  # a corner the Dirichlet rarely reaches: allowed, but named
        assert "the most violated" in str(error)
        rows = sample_mixtures(space, 64, seed=seed, max_draws_per_row=50, on_shortfall="project")
    assert rows.shape == (64, len(space.names)) and feasible_mask(space, rows).all()
    pinned = space.pinned_mask()
    assert (rows[:, pinned] == space.pinned_vector()[pinned]).all()
    losses = rows @ rng.normal(size=len(space.names))
    law = fit_law("linear", rows[:16], losses[:16], names=space.names)
    mixture, _ = propose_mixture(law, space, kl_weight=0.1, num_candidates=256, top_k=8, seed=seed)
    assert feasible_mask(space, np.array([mixture[n] for n in space.names]))[0]


def test_projection_is_the_kl_minimiser_over_the_space():
    """project_mixture's closed form (scale, clip at caps, split at the floor) = a numerical argmin."""
    from scipy.optimize import minimize

    space = SearchSpace(
        names=NAMES,
        prior=PRIOR,
        caps={"general": 0.5, "math": 0.3, "code": 0.25, "wiki": 0.3},
        general=["general", "wiki"],
        min_general_share=0.6,
    )
    rng = np.random.default_rng(7)
    general = space.general_mask()
    for y in rng.dirichlet(np.ones(4), 5):
        closed = project_mixture(space, y)[0]
        done = minimize(
            lambda x, y=y: float(np.sum(x * np.log(np.maximum(x, 1e-12) / y))),
            np.full(4, 0.25),
            method="SLSQP",
            bounds=[(1e-9, c) for c in space.cap_vector()],
            constraints=[
                {"type": "eq", "fun": lambda x: x.sum() - 1},
                {"type": "ineq", "fun": lambda x: x[general].sum() - 0.6},
            ],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        np.testing.assert_allclose(closed, done.x, atol=1e-4)
