"""Benchmark: mixture laws (gbm / linear / loglinear) on a synthetic data-mixing law, 8-64 proxies.

The truth is Ye et al.'s per-domain law L_i(r) = c_i + k_i exp(t_i . r) over 5 domains, the
objective a weighted average of the L_i, each proxy's per-domain losses measured with Gaussian
noise (sd 0.005, about the spread of held-out loss between seeds of a small proxy), in a space with a general floor, a
share cap and an epoch cap on a small domain. For each law and proxy count: fit time (the
out-of-fold fit plus the final fit), out-of-fold R^2 and Spearman, and the regret (true
objective of the proposal minus the true feasible optimum). Baselines in the same run: the prior
and the best proxy (what a user gets by training N proxies and keeping the best one), with the
ratio regret(best proxy) / regret(proposal). ``loglinear/domain`` fits one log-linear law per
domain and combines them with the weights (``combine_laws``), as Ye et al. do; the other laws are
fitted on the weighted objective. Figures are the mean over --seeds repetitions.
Run: nice -n 10 python bench/bench_mixing_search.py [--seeds 3] [--counts 8 16 32 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize

from mixing.search import combine_laws, fit_law, propose_mixture, sample_mixtures, space_from_constraints

NAMES = ["web", "wiki", "math", "code", "qa"]
GENERAL = ["web", "wiki"]
WEIGHTS = np.array([0.3, 0.1, 0.3, 0.2, 0.1])  # the objective: weighted per-domain loss
C = np.array([2.2, 2.0, 1.6, 1.4, 1.8])
K = np.array([0.9, 0.8, 1.2, 1.0, 0.7])
T = np.array(  # row i: how each domain's share moves domain i's loss (own share helps most)
    [
        [-1.2, -0.4, 0.2, 0.3, 0.1],
        [-0.5, -1.5, 0.2, 0.2, 0.0],
        [0.3, 0.2, -2.5, -0.3, -0.2],
        [0.2, 0.2, -0.4, -2.0, 0.1],
        [-0.2, -0.1, -0.3, 0.0, -1.4],
    ]
)


def true_per_domain(rows: np.ndarray) -> np.ndarray:
    return C[None, :] + K[None, :] * np.exp(np.atleast_2d(rows) @ T.T)


def true_objective(rows: np.ndarray) -> np.ndarray:
    return true_per_domain(rows) @ WEIGHTS


def true_optimum(space) -> float:
    general = space.general_mask()
    best = np.inf
    for start in sample_mixtures(space, 12, seed=99):
        done = minimize(
            lambda r: float(true_objective(r)[0]),
            start,
            method="SLSQP",
            bounds=[(0.0, c) for c in space.cap_vector()],
            constraints=[
                {"type": "eq", "fun": lambda r: r.sum() - 1.0},
                {"type": "ineq", "fun": lambda r: r[general].sum() - space.min_general_share},
            ],
            options={"ftol": 1e-12, "maxiter": 500},
        )
        best = min(best, float(done.fun))
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--counts", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--noise", type=float, default=0.005, help="sd of each per-domain loss")
    parser.add_argument("--kinds", nargs="+", default=["gbm", "linear", "loglinear", "loglinear/domain"])
    args = parser.parse_args()
    space = space_from_constraints(
        NAMES,
        prior={"web": 0.5, "wiki": 0.1, "math": 0.15, "code": 0.15, "qa": 0.1},
        sizes_tokens={"web": 10**11, "wiki": 5 * 10**9, "math": 10**9, "code": 4 * 10**9, "qa": 10**9},
        budget_tokens=10**10,  # math and qa may reach 4 epochs at a 0.4 share
        max_share=0.6,
        general=GENERAL,
        min_general_share=0.35,
    )
    optimum = true_optimum(space)
    warm = sample_mixtures(space, 8, seed=0)  # imports (sklearn, scipy) are not fit time
    for kind in args.kinds:
        fit_law(kind.split("/")[0], warm, true_objective(warm), names=NAMES)
    prior_regret = float(true_objective(space.prior_vector())[0]) - optimum
    print(f"true optimum {optimum:.4f}; prior regret {prior_regret:.4f}; noise sd {args.noise}")
    header = (
        f"{'law':<18}{'proxies':>8}{'fit s':>8}{'R2 oof':>8}{'rho oof':>8}"
        f"{'regret':>9}{'best-proxy regret':>19}{'ratio':>10}"
    )
    print(header)
    print("-" * len(header))
    for count in args.counts:
        for kind in args.kinds:
            times, r2s, rhos, regrets, proxy_regrets = [], [], [], [], []
            for seed in range(args.seeds):
                rng = np.random.default_rng(1000 * seed + count)
                proxies = sample_mixtures(space, count, concentration=5.0, seed=seed)
                per_domain = true_per_domain(proxies) + rng.normal(0, args.noise, (count, len(NAMES)))
                losses = per_domain @ WEIGHTS
                start = time.perf_counter()
                if kind == "loglinear/domain":  # Ye et al.: one law per domain, combined by the weights
                    laws = {
                        n: fit_law("loglinear", proxies, per_domain[:, i], names=NAMES, seed=seed)
                        for i, n in enumerate(NAMES)
                    }
                    law = combine_laws(laws, dict(zip(NAMES, WEIGHTS.tolist(), strict=True)))
                else:
                    law = fit_law(kind, proxies, losses, names=NAMES, seed=seed)
                times.append(time.perf_counter() - start)
                mixture, _ = propose_mixture(law, space, num_candidates=5000, top_k=32, seed=seed)
                row = np.array([mixture[n] for n in NAMES])
                regrets.append(float(true_objective(row)[0]) - optimum)
                proxy_regrets.append(float(true_objective(proxies[np.argmin(losses)])[0]) - optimum)
                r2s.append(law.r2_heldout)
                rhos.append(law.spearman_heldout)
            regret, proxy_regret = float(np.mean(regrets)), float(np.mean(proxy_regrets))
            print(
                f"{kind:<18}{count:>8}{np.mean(times):>8.2f}{np.mean(r2s):>8.3f}{np.mean(rhos):>8.3f}"
                f"{regret:>9.4f}{proxy_regret:>19.4f}{proxy_regret / max(regret, 1e-6):>9.1f}x"
            )


if __name__ == "__main__":
    main()
