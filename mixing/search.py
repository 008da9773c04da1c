"""RegMix mixture search (Liu et al. 2024): proxies -> regressor -> best predicted mixture.

1. Sample ``num_proxies`` mixtures from Dirichlet(prior * concentration), keeping only those that
   satisfy the constraints (general floor, max share, epoch caps given sizes and a token budget).
2. Run a proxy training for each through ``train_fn(mixture: dict[str, float]) -> float`` (the
   target loss; the recipes wire in the trainer, tests a synthetic law).
3. Fit a scikit-learn regressor mixture -> loss; its fit quality is measured out of fold (K-fold
   held-out R^2 and Spearman rank correlation), then it is refit on every proxy.
4. Score ``num_candidates`` feasible samples and return the average of the ``top_k`` best (an
   average of feasible mixtures is feasible: every constraint is linear), with its predicted loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass
class SearchResult:
    mixture: dict[str, float]  # the recommended shares (sum 1)
    predicted_loss: float  # the regressor's prediction for it
    r2_heldout: float  # out-of-fold R^2 of the regressor over the proxies
    spearman_heldout: float  # out-of-fold Spearman rank correlation
    proxies: pl.DataFrame  # one row per proxy: a column per unit + "loss"
    top_candidates: pl.DataFrame  # the top_k candidates + "predicted_loss"


def _feasible(
    samples: np.ndarray, *, caps: np.ndarray, general: np.ndarray, min_general_share: float
) -> np.ndarray:
    ok = (samples <= caps[None, :] + 1e-12).all(axis=1)
    if general.any():
        ok &= samples[:, general].sum(axis=1) >= min_general_share - 1e-12
    return ok


def _regressor(kind: str, seed: int):
    if kind == "gbm":
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(
            n_estimators=300, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=seed
        )
    if kind == "linear":
        from sklearn.linear_model import RidgeCV

        return RidgeCV(alphas=np.logspace(-6, 1, 15))
    raise ValueError(f"regressor: must be 'gbm' or 'linear', got {kind!r}")


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
    """Search a mixture over ``names`` (domains or sources); see the module docstring."""
    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold, cross_val_predict

    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"names: need at least two distinct units, got {names}")
    prior_vec = np.array([(prior or {}).get(n, 1.0 / len(names)) for n in names], dtype=np.float64)
    if prior is not None and set(prior) - set(names):
        raise ValueError(f"prior: unknown unit(s) {sorted(set(prior) - set(names))}")
    if (prior_vec <= 0).any():
        raise ValueError("prior: every unit needs a share > 0 (Dirichlet parameters must be positive)")
    prior_vec /= prior_vec.sum()
    if num_proxies < 2 * num_folds:
        raise ValueError(f"num_proxies: need at least {2 * num_folds} for {num_folds}-fold fit quality")
    caps = np.full(len(names), max_share)
    if sizes_tokens is not None:
        if budget_tokens is None:
            raise ValueError("budget_tokens: needed with sizes_tokens (epoch caps)")
        sizes = np.array([sizes_tokens[n] for n in names], dtype=np.float64)
        caps = np.minimum(caps, max_epochs * sizes / budget_tokens)
    general_mask = np.isin(np.array(names), general or [])
    rng = np.random.default_rng(seed)

    def sample(count: int) -> np.ndarray:
        kept, drawn = [], 0
        while sum(len(k) for k in kept) < count and drawn < 200 * count:
            batch = rng.dirichlet(prior_vec * concentration, size=max(count, 1024))
            drawn += len(batch)
            kept.append(
                batch[_feasible(batch, caps=caps, general=general_mask, min_general_share=min_general_share)]
            )
        found = np.concatenate(kept) if kept else np.empty((0, len(names)))
        if len(found) < count:
            raise ValueError(
                f"search: only {len(found)} of {drawn} Dirichlet samples satisfy the constraints "
                f"(max_share {max_share}, max_epochs {max_epochs}, min_general_share {min_general_share}); "
                "move the prior inside them or loosen them"
            )
        return found[:count]

    proxies = sample(num_proxies)
    losses = np.array([float(train_fn(dict(zip(names, row.tolist(), strict=True)))) for row in proxies])
    if not np.isfinite(losses).all():
        raise ValueError("train_fn: returned a non-finite loss")
    model = _regressor(regressor, seed)
    folds = KFold(n_splits=num_folds, shuffle=True, random_state=seed)
    heldout = cross_val_predict(model, proxies, losses, cv=folds)
    ss_res = float(((losses - heldout) ** 2).sum())
    ss_tot = float(((losses - losses.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    rho = float(spearmanr(losses, heldout).statistic)
    model.fit(proxies, losses)
    candidates = sample(num_candidates)
    predicted = model.predict(candidates)
    best = np.argsort(predicted, kind="stable")[:top_k]
    mixture = candidates[best].mean(axis=0)
    mixture /= mixture.sum()
    return SearchResult(
        mixture=dict(zip(names, mixture.tolist(), strict=True)),
        predicted_loss=float(model.predict(mixture[None, :])[0]),
        r2_heldout=r2,
        spearman_heldout=rho,
        proxies=pl.DataFrame(proxies, schema=names).with_columns(pl.Series("loss", losses)),
        top_candidates=pl.DataFrame(candidates[best], schema=names).with_columns(
            pl.Series("predicted_loss", predicted[best])
        ),
    )
