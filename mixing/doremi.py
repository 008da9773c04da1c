"""DoReMi (Xie et al. 2023): domain weights from a proxy's excess loss over a reference model.

The paper trains a small proxy with group DRO against a reference model trained on the prior
mixture. Each step it computes the per-domain excess loss ``lambda_i = max(loss_i - ref_i, 0)``
and updates the weights in log space (exponentiated gradient):

    alpha'_i = alpha_i * exp(step_size * lambda_i) / Z        (Z normalises to 1)
    alpha_i  = (1 - smoothing) * alpha'_i + smoothing * u_i   (u uniform, or the prior)

and returns the average of the per-step weights. Defaults follow the paper: ``step_size`` (eta)
1.0, ``smoothing`` (c) 1e-3.

Here the loop runs in *rounds* (chunks of proxy training) through ``train_round(weights, round)``,
which trains the proxy one chunk with those domain weights (sampling data by them, the
"resampling" variant of the paper's appendix, or using them as loss weights) and returns its
per-domain held-out losses. After each update the weights are projected into the
``SearchSpace`` by the KL projection (``project_mixture``: pins set exactly, the free units
scaled multiplicatively and clipped at their caps, general and other units rescaled separately
when the floor binds), the Bregman projection that belongs to an exponentiated-gradient step.
The result is the average of the projected weights of rounds 1..R (an average of feasible
mixtures is feasible); the round-0 start (the prior, projected) is not in the average.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from mixing.search_space import SearchSpace, project_mixture


@dataclass
class DoReMiResult:
    weights: dict[str, float]  # the average of the per-round (projected) weights
    history: pl.DataFrame  # round, unit, weight (trained with), loss, reference_loss, excess, next_weight
    round_weights: np.ndarray  # (rounds, units): the projected weights after each round


def doremi_update(
    weights,
    excess_losses,
    *,
    step_size: float = 1.0,
    smoothing: float = 1e-3,
    prior=None,
):
    """One DoReMi step: ``(1 - smoothing) * softmax(log w + step_size * max(excess, 0)) + smoothing * u``.

    ``weights`` and ``excess_losses`` are dicts keyed by unit (the result is a dict in the same
    order) or arrays of equal length (the result is an array). ``u`` is ``prior`` (normalised)
    when given, else uniform. Negative excess (the proxy already beats the reference) counts 0.
    """
    as_dict = isinstance(weights, dict)
    names = list(weights) if as_dict else None
    if as_dict:
        missing = [n for n in names if n not in excess_losses]
        if missing:
            raise ValueError(f"doremi_update: no excess loss for unit(s) {missing}")
        w = np.array([float(weights[n]) for n in names])
        excess = np.array([float(excess_losses[n]) for n in names])
        u = None if prior is None else np.array([float(prior.get(n, 0.0)) for n in names])
    else:
        w = np.asarray(weights, dtype=np.float64)
        excess = np.asarray(excess_losses, dtype=np.float64)
        u = None if prior is None else np.asarray(prior, dtype=np.float64)
    if w.shape != excess.shape or w.ndim != 1:
        raise ValueError(
            f"doremi_update: weights {w.shape} and excess losses {excess.shape} must be 1-D, equal"
        )
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("doremi_update: weights must be >= 0 with a positive sum")
    if not np.isfinite(excess).all():
        raise ValueError("doremi_update: excess losses must be finite (a diverged proxy?)")
    if not 0.0 <= smoothing <= 1.0 or step_size < 0:
        raise ValueError(
            f"doremi_update: need step_size >= 0 and smoothing in [0, 1], got {step_size}, {smoothing}"
        )
    u = np.full(len(w), 1.0 / len(w)) if u is None else u / u.sum()
    with np.errstate(divide="ignore"):
        logits = np.log(w / w.sum()) + step_size * np.maximum(excess, 0.0)
    updated = np.exp(logits - logits.max())  # softmax, stable; a weight of 0 stays 0 before smoothing
    updated /= updated.sum()
    new = (1.0 - smoothing) * updated + smoothing * u
    return dict(zip(names, new.tolist(), strict=True)) if as_dict else new


def doremi_search(
    train_round: Callable[[dict[str, float], int], dict[str, float]],
    reference_losses: dict[str, float],
    space: SearchSpace,
    *,
    rounds: int,
    step_size: float = 1.0,
    smoothing: float = 1e-3,
    smoothing_toward: str = "uniform",
    initial: dict[str, float] | None = None,
) -> DoReMiResult:
    """Run ``rounds`` DoReMi rounds from ``initial`` (default: the space's prior, projected).

    ``reference_losses`` are the reference model's per-domain held-out losses (one value per unit
    of ``space``); ``smoothing_toward`` is ``"uniform"`` (the paper) or ``"prior"``.
    """
    space.check()
    names = list(space.names)
    if rounds < 1:
        raise ValueError(f"doremi: rounds must be >= 1, got {rounds}")
    if smoothing_toward not in ("uniform", "prior"):
        raise ValueError(f"doremi: smoothing_toward must be 'uniform' or 'prior', got {smoothing_toward!r}")
    missing = [n for n in names if n not in reference_losses]
    if missing:
        raise ValueError(f"doremi: reference_losses has no loss for unit(s) {missing}")
    reference = np.array([float(reference_losses[n]) for n in names])
    if not np.isfinite(reference).all():
        raise ValueError("doremi: reference_losses must be finite")
    start = space.prior_vector() if initial is None else np.array([float(initial.get(n, 0.0)) for n in names])
    weights = project_mixture(space, start)[0]
    u = space.prior_vector() if smoothing_toward == "prior" else None
    rows, per_round = [], []
    for r in range(rounds):
        losses = train_round(dict(zip(names, weights.tolist(), strict=True)), r)
        absent = [n for n in names if n not in losses]
        if absent:
            raise ValueError(
                f"doremi: round {r} returned no loss for unit(s) {absent} (got {sorted(losses)})"
            )
        loss = np.array([float(losses[n]) for n in names])
        if not np.isfinite(loss).all():
            bad = [n for n, v in zip(names, loss, strict=True) if not np.isfinite(v)]
            raise ValueError(f"doremi: round {r} returned a non-finite loss for {bad} (the proxy diverged?)")
        excess = loss - reference
        updated = doremi_update(weights, excess, step_size=step_size, smoothing=smoothing, prior=u)
        nxt = project_mixture(space, updated)[0]
        per_round.append(nxt)
        rows.extend(
            {
                "round": r,
                "unit": n,
                "weight": float(weights[i]),
                "loss": float(loss[i]),
                "reference_loss": float(reference[i]),
                "excess": float(excess[i]),
                "next_weight": float(nxt[i]),
            }
            for i, n in enumerate(names)
        )
        weights = nxt
    history = np.stack(per_round)
    final = history.mean(axis=0)
    final = np.where(space.pinned_mask(), space.pinned_vector(), final)
    return DoReMiResult(
        weights=dict(zip(names, final.tolist(), strict=True)),
        history=pl.DataFrame(rows),
        round_weights=history,
    )
