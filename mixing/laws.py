"""Mixture laws: fit mixture -> loss on proxy runs, measure the fit out of fold, propose a mixture.

Three kinds (``fit_law(kind, ...)``):

* ``"gbm"``: RegMix's regressor (Liu et al. 2024), scikit-learn gradient boosting (small trees,
  subsampled); flexible, needs many proxies (>= ~32), piecewise constant.
* ``"linear"``: ridge regression on the shares (RegMix's linear variant); robust at 8-16 proxies,
  but its minimum sits on a vertex of the feasible set, so the proposal is RegMix's top-k
  average of sampled candidates, which stays where proxies were.
* ``"loglinear"``: the data mixing law of Ye et al. 2024, ``L(r) = c + k * exp(sum_j t_j r_j)``,
  fitted by bounded least squares (scipy) on standardised losses with variable projection
  (``c`` and ``k`` are solved linearly for each ``t``, so only ``t`` is searched and ``k``'s sign
  is free), started from the best of ``t = 0`` and regressions of ``log(L - c0)`` on ``r`` at a
  few offsets ``c0``, with a light ridge on ``t`` (``LOGLINEAR_RIDGE``) so that a law with about
  as many parameters as proxies (8 proxies, 5 units) does not bend wildly between them. Because shares sum to 1, ``t`` is defined up to a constant shift absorbed by ``k``
  (the fit uses a full-rank basis: one reference unit and pinned units get t = 0 there);
  ``params`` reports ``t`` centred (mean 0) and ``k`` rescaled to match. A near-zero exponent
  (an almost linear law) only drives ``k`` up and ``t`` down together; the bounds keep that
  finite and the predictions stay right.

One law is fitted to one objective: pass the loss the caller cares about (one domain's held-out
loss, or the weighted objective). Ye et al. fit one law per target domain; ``combine_laws`` sums
such per-domain laws with the caller's weights into one law on the weighted objective.

Fit quality is out of fold: ``K = min(num_folds, n // 2)`` shuffled folds (so 8 proxies give 4
folds of 2, 16 give 5), each proxy predicted by a law fitted without it; ``r2_heldout`` and
``spearman_heldout`` compare those predictions with the measured losses. The law returned is then
refitted on every proxy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mixing.search_space import (
    SearchSpace,
    feasible_mask,
    kl_to_prior,
    project_mixture,
    sample_mixtures,
)

KINDS = ("gbm", "linear", "loglinear")
LOGLINEAR_RIDGE = 0.05  # sqrt of the ridge weight on t, in standardised-loss units


@dataclass
class FittedLaw:
    kind: str
    names: list[str]  # column order of the mixtures it predicts
    r2_heldout: float  # out-of-fold R^2 (nan when every loss is equal)
    spearman_heldout: float  # out-of-fold Spearman rank correlation
    num_folds: int = 0  # folds used for the two figures above
    params: dict = field(default_factory=dict)  # loglinear: c, k, t (per name); linear: intercept, coef
    heldout_predictions: np.ndarray = field(default_factory=lambda: np.empty(0))  # per proxy
    losses: np.ndarray = field(default_factory=lambda: np.empty(0))  # the measured objective
    mixtures: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # the proxies fitted on
    _predict: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """A JSON-ready record of the fit (for reports and run files; the law itself is not saved)."""
        return {
            "kind": self.kind,
            "names": list(self.names),
            "r2_heldout": self.r2_heldout,
            "spearman_heldout": self.spearman_heldout,
            "num_folds": self.num_folds,
            "params": self.params,
            "heldout_predictions": self.heldout_predictions.tolist(),
            "losses": self.losses.tolist(),
        }

    def predict(self, mixtures: np.ndarray) -> np.ndarray:
        """Predicted objective per row of ``mixtures`` (n, units) in ``names`` order (1-D ok)."""
        x = np.atleast_2d(np.asarray(mixtures, dtype=np.float64))
        if x.shape[1] != len(self.names):
            raise ValueError(f"predict: rows have {x.shape[1]} shares, the law has {len(self.names)} units")
        return np.asarray(self._predict(x), dtype=np.float64).reshape(-1)


def _fit_gbm(x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(
        n_estimators=300, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=seed
    ).fit(x, y)
    return model.predict, {}


def _fit_linear(x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=np.logspace(-6, 1, 15)).fit(x, y)
    return model.predict, {"intercept": float(model.intercept_), "coef": model.coef_.tolist()}


def _fit_loglinear(x: np.ndarray, y: np.ndarray, seed: int):
    from scipy.optimize import least_squares

    mu, sd = float(y.mean()), float(y.std())
    sd = sd if sd > 1e-12 else 1.0
    z = (y - mu) / sd  # standardised: the bounds then mean the same at any loss scale
    # Shares sum to 1, so a shift of every t_j equals a change of log k, and a constant column
    # (a pinned unit) is another such shift: fit on the varying columns less one, which has full
    # rank; the dropped columns get t_j = 0 and the shift lives in k.
    varying = np.flatnonzero(np.ptp(x, axis=0) > 1e-12)
    cols = varying[1:] if len(varying) > 1 else varying[:0]
    xv = x[:, cols]
    n, d = xv.shape

    def basis_of(tv: np.ndarray) -> tuple[np.ndarray, float]:
        # exp(x.t) spans the same fit as expm1(x.t) / |t| with the constant column, and the latter
        # tends to x.t/|t| as t -> 0: an almost linear law stays well conditioned.
        scale = max(float(np.linalg.norm(tv)), 1e-12)
        return np.column_stack([np.ones(n), np.expm1(np.clip(xv @ tv, -50, 50)) / scale]), scale

    def linear_part(tv: np.ndarray) -> np.ndarray:
        # Variable projection: for a given t, c and k are a linear least-squares fit, so only t
        # is searched and k's sign is free.
        basis, _ = basis_of(tv)
        return np.linalg.lstsq(basis, z, rcond=None)[0]

    def residuals(tv: np.ndarray) -> np.ndarray:
        # A light ridge on t keeps a law fitted on as many proxies as parameters from bending
        # wildly between them (8 proxies, 5 units); it barely moves a well-determined fit.
        return np.concatenate([basis_of(tv)[0] @ linear_part(tv) - z, LOGLINEAR_RIDGE * tv])

    if d == 0:
        t_fit = np.zeros(0)
    else:
        design = np.hstack([np.ones((n, 1)), xv])
        lhs = design.T @ design + 1e-8 * np.eye(d + 1)
        slope = np.linalg.solve(lhs, design.T @ z)[1:]
        starts = [1e-3 * slope / max(float(np.linalg.norm(slope)), 1e-12)]  # the linear limit
        for sign in (1.0, -1.0):  # log-linear starts: log(sign * z - c0) on [1, xv]
            for offset in (0.1, 0.5, 2.0):
                c0 = float((sign * z).min()) - offset
                starts.append(np.clip(np.linalg.solve(lhs, design.T @ np.log(sign * z - c0))[1:], -40, 40))
        t_fit = min(starts, key=lambda t0: float((residuals(t0) ** 2).sum()))
        # Exponential laws converge in ~5-20 evaluations from the best start; an almost linear one
        # creeps toward t -> 0 without end (its fit is already exact), hence the small budget.
        t_fit = least_squares(residuals, t_fit, bounds=(-60.0, 60.0), method="trf", max_nfev=30 + 10 * d).x
    coef = linear_part(t_fit)
    basis_scale = basis_of(t_fit)[1]
    # z = a + b * (exp(x.t) - 1) / s  =>  c = a - b / s, k = b / s
    c, k = float(coef[0] - coef[1] / basis_scale), float(coef[1] / basis_scale)
    t = np.zeros(x.shape[1])
    t[cols] = t_fit
    c_loss, k_loss = mu + sd * float(c), sd * float(k)  # back to loss units

    def predict(rows: np.ndarray) -> np.ndarray:
        return c_loss + k_loss * np.exp(np.clip(rows @ t, -50, 50))

    shift = float(t.mean())  # exp(t . r) = exp(shift) * exp((t - shift) . r) when sum(r) = 1
    return predict, {"c": c_loss, "k": k_loss * float(np.exp(shift)), "t": (t - shift).tolist()}


_FITTERS = {"gbm": _fit_gbm, "linear": _fit_linear, "loglinear": _fit_loglinear}


def _quality(losses: np.ndarray, heldout: np.ndarray) -> tuple[float, float]:
    from scipy.stats import spearmanr

    ss_tot = float(((losses - losses.mean()) ** 2).sum())
    r2 = 1.0 - float(((losses - heldout) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    if np.ptp(losses) == 0 or np.ptp(heldout) == 0:
        return r2, float("nan")
    return r2, float(spearmanr(losses, heldout).statistic)


def fit_law(
    kind: str,
    mixtures: np.ndarray,
    losses: np.ndarray,
    *,
    names: list[str],
    num_folds: int = 5,
    seed: int = 0,
) -> FittedLaw:
    """Fit a ``kind`` law (``"gbm"``, ``"linear"``, ``"loglinear"``) from proxies' mixtures to losses.

    ``mixtures`` is (n, len(names)), rows summing to 1; ``losses`` (n,) the objective (lower is
    better; negate a benchmark score). Needs n >= 4; see the module docstring for the folds.
    """
    from sklearn.model_selection import KFold

    if kind not in _FITTERS:
        raise ValueError(f"law: kind must be one of {list(KINDS)}, got {kind!r}")
    x = np.atleast_2d(np.asarray(mixtures, dtype=np.float64))
    y = np.asarray(losses, dtype=np.float64).reshape(-1)
    if x.shape != (len(y), len(names)):
        raise ValueError(
            f"law: mixtures are {x.shape}, expected ({len(y)} proxies, {len(names)} units {list(names)})"
        )
    if not np.isfinite(x).all() or not np.isfinite(y).all():
        bad = sorted(
            set(np.flatnonzero(~np.isfinite(y)).tolist()) | set(np.flatnonzero(~np.isfinite(x).all(1)))
        )
        raise ValueError(
            f"law: proxy row(s) {bad} have a non-finite loss or share; drop failed proxies first"
        )
    if len(y) < 4:
        raise ValueError(f"law: need at least 4 proxies for an out-of-fold fit quality, got {len(y)}")
    fitter = _FITTERS[kind]
    folds = max(2, min(num_folds, len(y) // 2))
    heldout = np.empty_like(y)
    for train, test in KFold(n_splits=folds, shuffle=True, random_state=seed).split(x):
        predict, _ = fitter(x[train], y[train], seed)
        heldout[test] = predict(x[test])
    r2, rho = _quality(y, heldout)
    predict, params = fitter(x, y, seed)
    if kind == "loglinear":
        params = {"c": params["c"], "k": params["k"], "t": dict(zip(names, params["t"], strict=True))}
    return FittedLaw(
        kind=kind,
        names=list(names),
        r2_heldout=r2,
        spearman_heldout=rho,
        num_folds=folds,
        params=params,
        heldout_predictions=heldout,
        losses=y,
        mixtures=x,
        _predict=predict,
    )


def combine_laws(laws: dict[str, FittedLaw], weights: dict[str, float]) -> FittedLaw:
    """One law on ``sum_i weights[i] * loss_i`` from per-target laws fitted on the same proxies.

    Its out-of-fold figures compare the weighted out-of-fold predictions with the weighted
    measured losses (each law's folds are the same when fitted with the same seed and count).
    """
    missing = sorted(set(weights) - set(laws))
    if missing or not weights:
        raise ValueError(f"combine_laws: weights name target(s) without a law: {missing or 'none given'}")
    first = laws[next(iter(weights))]
    for name in weights:
        if laws[name].names != first.names or len(laws[name].losses) != len(first.losses):
            raise ValueError(f"combine_laws: law {name!r} was fitted on other units or proxies")
    losses = sum(w * laws[n].losses for n, w in weights.items())
    heldout = sum(w * laws[n].heldout_predictions for n, w in weights.items())
    r2, rho = _quality(losses, heldout)
    parts = [(laws[n], w) for n, w in weights.items()]
    return FittedLaw(
        kind=first.kind,
        names=list(first.names),
        r2_heldout=r2,
        spearman_heldout=rho,
        num_folds=first.num_folds,
        params={"weights": dict(weights), "laws": {n: laws[n].params for n in weights}},
        heldout_predictions=heldout,
        losses=losses,
        mixtures=first.mixtures,
        _predict=lambda rows: sum(w * law.predict(rows) for law, w in parts),
    )


def _refine(
    law: FittedLaw, space: SearchSpace, start: np.ndarray, objective, max_kl: float
) -> np.ndarray | None:
    """Local minimum of ``objective`` over the space (and KL to the prior <= ``max_kl``) from
    ``start``, by SLSQP on the free units."""
    from scipy.optimize import minimize

    free = space.free_mask()
    idx = np.flatnonzero(free)
    caps, general = space.cap_vector(), space.general_mask()
    base = start.copy()

    def full(v: np.ndarray) -> np.ndarray:
        row = base.copy()
        row[idx] = v
        return row

    constraints = [{"type": "eq", "fun": lambda v: v.sum() - space.rest()}]
    g_local = general[idx]
    if g_local.any() and space.floor_left() > 0:
        constraints.append({"type": "ineq", "fun": lambda v: v[g_local].sum() - space.floor_left()})
    if np.isfinite(max_kl):
        constraints.append({"type": "ineq", "fun": lambda v: max_kl - float(kl_to_prior(space, full(v))[0])})
    done = minimize(
        lambda v: float(objective(full(v)[None, :])[0]),
        start[idx],
        method="SLSQP",
        bounds=[(0.0, float(caps[i])) for i in idx],
        constraints=constraints,
        options={"maxiter": 200, "ftol": 1e-12},
    )
    if not np.isfinite(done.x).all():
        return None
    # SLSQP ends within ~1e-10 of the constraints: clip and renormalise the free units, and fall
    # back to the KL projection when that is not enough.
    row = full(np.clip(done.x, 0.0, caps[idx]))
    row[idx] *= space.rest() / max(row[idx].sum(), 1e-300)
    if not feasible_mask(space, row)[0]:
        row = project_mixture(space, np.maximum(row, 0.0))[0]
    inside = float(kl_to_prior(space, row)[0]) <= max_kl + 1e-6
    return row if feasible_mask(space, row)[0] and inside else None


def propose(
    law: FittedLaw,
    space: SearchSpace,
    *,
    kl_weight: float = 0.0,
    num_candidates: int = 20_000,
    top_k: int = 32,
    concentration: float = 10.0,
    refine: bool | None = None,
    trust_region: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """``propose_mixture`` with the top candidates: (mixture, predicted, top rows, their objective)."""
    space.check()
    if list(law.names) != list(space.names):
        raise ValueError(f"propose: the law's units {law.names} differ from the space's {space.names}")
    if kl_weight < 0:
        raise ValueError(f"propose: kl_weight must be >= 0, got {kl_weight}")

    def objective(rows: np.ndarray) -> np.ndarray:
        score = law.predict(rows)
        return score + kl_weight * kl_to_prior(space, rows) if kl_weight > 0 else score

    candidates = sample_mixtures(
        space, num_candidates, concentration=concentration, seed=seed, on_shortfall="project"
    )
    max_kl = np.inf
    if trust_region and law.mixtures.size:
        # No farther from the prior (in KL) than the farthest proxy: the law was never checked
        # beyond, and a smooth law extrapolates to a corner of the space with confidence.
        max_kl = float(kl_to_prior(space, law.mixtures).max())
        inside = kl_to_prior(space, candidates) <= max_kl
        if inside.sum() >= max(1, top_k):
            candidates = candidates[inside]
    scores = objective(candidates)
    best = np.argsort(scores, kind="stable")[: max(1, top_k)]
    mixture = candidates[best].mean(axis=0)  # feasible: the constraints are linear
    if refine is None:
        refine = law.kind == "loglinear" or kl_weight > 0 and law.kind == "linear"
    if refine:
        polished = _refine(law, space, mixture, objective, max_kl)
        if polished is not None and objective(polished[None, :])[0] <= objective(mixture[None, :])[0]:
            mixture = polished
    mixture = np.where(space.pinned_mask(), space.pinned_vector(), mixture)
    return mixture, float(law.predict(mixture[None, :])[0]), candidates[best], scores[best]


def propose_mixture(
    law: FittedLaw,
    space: SearchSpace,
    *,
    kl_weight: float = 0.0,
    num_candidates: int = 20_000,
    top_k: int = 32,
    seed: int = 0,
    concentration: float = 10.0,
    refine: bool | None = None,
    trust_region: bool = True,
) -> tuple[dict[str, float], float]:
    """The feasible mixture minimising ``law`` (+ ``kl_weight * KL(mixture || prior)``), and its
    predicted loss (the law's prediction, without the KL term).

    Scores ``num_candidates`` feasible samples around the prior and averages the ``top_k`` best
    (RegMix). ``refine`` (default: on for ``loglinear``, and for ``linear`` with a KL weight, where
    the objective is smooth and convex) then polishes that average to the objective's minimum over
    the whole space with SLSQP; the gbm is piecewise constant, so it keeps the top-k average.
    ``trust_region`` (default on) keeps candidates and the refined mixture no farther from the
    prior, in KL, than the farthest proxy the law was fitted on.
    """
    mixture, predicted, _, _ = propose(
        law,
        space,
        kl_weight=kl_weight,
        num_candidates=num_candidates,
        top_k=top_k,
        concentration=concentration,
        refine=refine,
        trust_region=trust_region,
        seed=seed,
    )
    return dict(zip(space.names, mixture.tolist(), strict=True)), predicted
