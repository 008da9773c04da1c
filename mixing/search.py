"""RegMix mixture search (Liu et al. 2024): proxies -> regressor -> best predicted mixture.

1. Sample ``num_proxies`` mixtures from Dirichlet(prior * concentration), keeping only those that
   satisfy the constraints (general floor, max share, epoch caps given sizes and a token budget).
2. Run a proxy training for each through ``train_fn(mixture: dict[str, float]) -> float`` (the
   target loss; the recipes wire in the trainer, tests a synthetic law).
3. Fit a scikit-learn regressor mixture -> loss; its fit quality is measured out of fold (K-fold
   held-out R^2 and Spearman rank correlation), then it is refit on every proxy.
4. Score ``num_candidates`` feasible samples and return the average of the ``top_k`` best (an
   average of feasible mixtures is feasible: every constraint is linear), with its predicted loss.

The pieces live in ``mixing.search_space`` (the constraints, sampling, projection),
``mixing.laws`` (gbm / linear / log-linear laws, out-of-fold quality, proposals with optional KL
toward the prior) and ``mixing.doremi`` (DoReMi's excess-loss rounds); all are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from mixing.doremi import DoReMiResult, doremi_search, doremi_update
from mixing.laws import FittedLaw, combine_laws, fit_law, propose, propose_mixture
from mixing.search_space import (
    SearchSpace,
    feasible_mask,
    kl_to_prior,
    project_mixture,
    sample_mixtures,
    space_from_constraints,
)

__all__ = [
    "DoReMiResult",
    "FittedLaw",
    "SearchResult",
    "SearchSpace",
    "combine_laws",
    "doremi_search",
    "doremi_update",
    "feasible_mask",
    "fit_law",
    "kl_to_prior",
    "project_mixture",
    "propose_mixture",
    "sample_mixtures",
    "search_mixture",
    "space_from_constraints",
]


@dataclass
class SearchResult:
    mixture: dict[str, float]  # the recommended shares (sum 1)
    predicted_loss: float  # the regressor's prediction for it
    r2_heldout: float  # out-of-fold R^2 of the regressor over the proxies
    spearman_heldout: float  # out-of-fold Spearman rank correlation
    proxies: pl.DataFrame  # one row per proxy: a column per unit + "loss"
    top_candidates: pl.DataFrame  # the top_k candidates + "predicted_loss"
    law: FittedLaw | None = None  # the fitted law (params, out-of-fold predictions per proxy)


def search_mixture(
    train_fn: Callable[[dict[str, float]], float],
    *,
    names: list[str],
    prior: dict[str, float] | None = None,
    num_proxies: int = 32,
    concentration: float = 10.0,
    num_candidates: int = 20_000,
    top_k: int = 32,
    sizes_tokens: dict[str, int] | None = None,
    budget_tokens: int | None = None,
    max_epochs: float = 4.0,
    max_share: float = 1.0,
    general: list[str] | None = None,
    min_general_share: float = 0.0,
    regressor: str = "gbm",
    num_folds: int = 5,
    seed: int = 0,
) -> SearchResult:
    """Search a mixture over ``names`` (domains or sources); see the module docstring.

    Built on ``space_from_constraints``, ``sample_mixtures`` (centred on the prior as given, as
    RegMix does), ``fit_law`` and ``propose``; recipes use those pieces directly.
    """
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"names: need at least two distinct units, got {names}")
    if prior is not None and set(prior) - set(names):
        raise ValueError(f"prior: unknown unit(s) {sorted(set(prior) - set(names))}")
    if prior is not None and any(prior.get(n, 1.0 / len(names)) <= 0 for n in names):
        raise ValueError("prior: every unit needs a share > 0 (Dirichlet parameters must be positive)")
    if regressor not in ("gbm", "linear", "loglinear"):
        raise ValueError(f"regressor: must be 'gbm', 'linear' or 'loglinear', got {regressor!r}")
    if num_proxies < 2 * num_folds:
        raise ValueError(f"num_proxies: need at least {2 * num_folds} for {num_folds}-fold fit quality")
    full_prior = {n: (prior or {}).get(n, 1.0 / len(names)) for n in names}
    space = space_from_constraints(
        names,
        prior=full_prior,
        sizes_tokens=sizes_tokens,
        budget_tokens=budget_tokens,
        max_epochs=max_epochs,
        max_share=max_share,
        general=general,
        min_general_share=min_general_share,
    )
    proxies = sample_mixtures(space, num_proxies, concentration=concentration, seed=seed, center="prior")
    losses = np.array([float(train_fn(dict(zip(names, row.tolist(), strict=True)))) for row in proxies])
    if not np.isfinite(losses).all():
        raise ValueError(
            f"train_fn: returned a non-finite loss for proxy row(s) {np.flatnonzero(~np.isfinite(losses)).tolist()}"
        )
    law = fit_law(regressor, proxies, losses, names=names, num_folds=num_folds, seed=seed)
    mixture, predicted, top, top_scores = propose(
        law, space, num_candidates=num_candidates, top_k=top_k, concentration=concentration, seed=seed + 1
    )
    return SearchResult(
        mixture=dict(zip(names, mixture.tolist(), strict=True)),
        predicted_loss=predicted,
        r2_heldout=law.r2_heldout,
        spearman_heldout=law.spearman_heldout,
        proxies=pl.DataFrame(proxies, schema=names).with_columns(pl.Series("loss", losses)),
        top_candidates=pl.DataFrame(top, schema=names).with_columns(pl.Series("predicted_loss", top_scores)),
        law=law,
    )
