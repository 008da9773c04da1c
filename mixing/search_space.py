"""The set of mixtures a search may propose: caps, a general floor and pinned shares.

Every mixture a search samples, proposes or (DoReMi) updates lies in one ``SearchSpace``:

* shares are >= 0 and sum to 1 over ``names`` (the plan's domain_targets units);
* share <= ``caps[name]`` (the smaller of ``max_share`` and the epoch cap
  ``max_epochs * tokens / budget``: a proxy repeats data at the rate the target run would, the
  point of "Repetition Mismatch" (arXiv 2606.07597), so a unit's cap is its target-run cap);
* the ``general`` units together hold >= ``min_general_share`` (midtrain's general floor);
* ``pinned`` units hold exactly their share (olmix's fixed weights).

All constraints are linear, so the set is a convex polytope: an average of feasible mixtures is
feasible (RegMix's top-k average relies on it). ``project_mixture`` maps any positive vector into
the space by the KL (I-)projection, the projection that matches DoReMi's multiplicative update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TOL = 1e-9  # feasibility tolerance on shares (float sums of 20+ shares drift by ~1e-15)


@dataclass(frozen=True)
class SearchSpace:
    """What every mixture must satisfy; a cap missing from ``caps`` is 1.0.

    Build it with ``space_from_constraints`` (which derives the epoch caps) or directly;
    ``check()`` says whether any mixture satisfies it.
    """

    names: list[str]
    prior: dict[str, float]  # the natural mixture (sum 1); the Dirichlet centre and the KL anchor
    caps: dict[str, float] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    min_general_share: float = 0.0
    pinned: dict[str, float] = field(default_factory=dict)

    # Vectors in ``names`` order (recomputed on demand: the space is small).
    def prior_vector(self) -> np.ndarray:
        return np.array([float(self.prior.get(n, 0.0)) for n in self.names])

    def cap_vector(self) -> np.ndarray:
        return np.array([float(self.caps.get(n, 1.0)) for n in self.names])

    def general_mask(self) -> np.ndarray:
        return np.isin(np.array(self.names), list(self.general))

    def pinned_mask(self) -> np.ndarray:
        return np.isin(np.array(self.names), list(self.pinned))

    def pinned_vector(self) -> np.ndarray:
        return np.array([float(self.pinned.get(n, 0.0)) for n in self.names])

    def free_mask(self) -> np.ndarray:
        """Units a search may move: not pinned and with a cap above 0 (a cap of 0 fixes 0)."""
        return ~self.pinned_mask() & (self.cap_vector() > 0)

    def rest(self) -> float:
        """The share left to the free units once the pins are set."""
        return 1.0 - float(self.pinned_vector().sum())

    def floor_left(self) -> float:
        """The part of the general floor the free general units must still hold."""
        pinned_general = float(self.pinned_vector()[self.general_mask()].sum())
        return max(0.0, self.min_general_share - pinned_general)

    def general_share_bounds(self) -> tuple[float, float]:
        """The range the free general units' total may take in a feasible mixture."""
        free, caps, general = self.free_mask(), self.cap_vector(), self.general_mask()
        cap_general = float(caps[free & general].sum())
        cap_other = float(caps[free & ~general].sum())
        rest = self.rest()
        return max(self.floor_left(), rest - cap_other), min(cap_general, rest)

    def check(self) -> None:
        """Raise one ValueError naming the constraint no mixture satisfies."""
        names = list(self.names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"search space: need at least two distinct units, got {names}")
        for key, given in (("prior", self.prior), ("caps", self.caps), ("pinned", self.pinned)):
            unknown = sorted(set(given) - set(names))
            if unknown:
                raise ValueError(f"search space: {key} names unknown unit(s) {unknown}; units are {names}")
        unknown = sorted(set(self.general) - set(names))
        if unknown:
            raise ValueError(f"search space: general names unknown unit(s) {unknown}; units are {names}")
        if not 0.0 <= self.min_general_share <= 1.0:
            raise ValueError(
                f"search space: min_general_share must be in [0, 1], got {self.min_general_share}"
            )
        if self.min_general_share > 0 and not self.general:
            raise ValueError("search space: min_general_share > 0 but no unit is marked general")
        caps, prior, pins = self.cap_vector(), self.prior_vector(), self.pinned_vector()
        if (caps < 0).any() or not np.isfinite(caps).all():
            raise ValueError(
                f"search space: caps must be >= 0, got {dict(zip(names, caps.tolist(), strict=True))}"
            )
        if (prior < 0).any() or abs(prior.sum() - 1.0) > 1e-6:
            raise ValueError(f"search space: prior must be >= 0 and sum to 1, sums to {prior.sum():.6g}")
        free = self.free_mask()
        if (prior[free] <= 0).any():
            zero = [n for n, f, p in zip(names, free, prior, strict=True) if f and p <= 0]
            raise ValueError(
                f"search space: prior share of {zero} is 0; every unit a search may move needs a prior > 0 "
                "(the Dirichlet centre), or pin it"
            )
        for name, share in self.pinned.items():
            cap = caps[names.index(name)]
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"search space: pinned share of {name!r} must be in [0, 1], got {share}")
            if share > cap + TOL:
                raise ValueError(f"search space: pinned share of {name!r} {share:.4g} > its cap {cap:.4g}")
        total_pinned = float(pins.sum())
        if total_pinned > 1.0 + TOL:
            raise ValueError(f"search space: pinned shares sum to {total_pinned:.4g} > 1")
        rest = 1.0 - total_pinned
        free_caps = float(caps[free].sum())
        if free_caps < rest - TOL:
            raise ValueError(
                f"search space: caps of the unpinned units sum to {free_caps:.4g} < the {rest:.4g} left "
                "after the pins (raise max_share/max_epochs, add data, or pin more)"
            )
        low, high = self.general_share_bounds()
        if low > high + TOL:  # the caps check above leaves only the floor to fail here
            most = high + float(pins[self.general_mask()].sum())
            raise ValueError(
                f"search space: min_general_share {self.min_general_share:.4g} cannot be met: the general "
                f"units {list(self.general)} can hold at most {most:.4g} (caps and pins)"
            )


def space_from_constraints(
    names: list[str],
    *,
    prior: dict[str, float] | None = None,
    sizes_tokens: dict[str, int] | None = None,
    budget_tokens: int | None = None,
    max_epochs: float = 4.0,
    max_share: float = 1.0,
    general: list[str] | None = None,
    min_general_share: float = 0.0,
    pinned: dict[str, float] | None = None,
) -> SearchSpace:
    """A checked ``SearchSpace``: prior normalised (uniform when None), caps from share and epochs.

    With ``sizes_tokens`` and ``budget_tokens`` (the target run's tokens for this phase) a unit's
    cap is ``min(max_share, max_epochs * size / budget)``: the proxies then repeat each unit at
    most as often as the target run may.
    """
    names = list(names)
    if prior is None:
        prior_vec = np.full(len(names), 1.0 / max(len(names), 1))
    else:
        unknown = sorted(set(prior) - set(names))
        if unknown:
            raise ValueError(f"prior: unknown unit(s) {unknown}; units are {names}")
        prior_vec = np.array([float(prior.get(n, 0.0)) for n in names])
        if (prior_vec < 0).any() or prior_vec.sum() <= 0:
            raise ValueError(f"prior: shares must be >= 0 with a positive sum, got {prior}")
        prior_vec = prior_vec / prior_vec.sum()
    caps = np.full(len(names), float(max_share))
    if sizes_tokens is not None:
        if budget_tokens is None or budget_tokens <= 0:
            raise ValueError("budget_tokens: needed (> 0) with sizes_tokens, for the epoch caps")
        missing = sorted(set(names) - set(sizes_tokens))
        if missing:
            raise ValueError(f"sizes_tokens: no size for unit(s) {missing}")
        sizes = np.array([float(sizes_tokens[n]) for n in names])
        caps = np.minimum(caps, max_epochs * sizes / budget_tokens)
    space = SearchSpace(
        names=names,
        prior=dict(zip(names, prior_vec.tolist(), strict=True)),
        caps=dict(zip(names, caps.tolist(), strict=True)),
        general=list(general or []),
        min_general_share=float(min_general_share),
        pinned=dict(pinned or {}),
    )
    space.check()
    return space


def feasible_mask(space: SearchSpace, mixtures: np.ndarray, *, tol: float = TOL) -> np.ndarray:
    """Which rows of ``mixtures`` (n, units) satisfy every constraint of ``space``."""
    x = np.atleast_2d(np.asarray(mixtures, dtype=np.float64))
    ok = (x >= -tol).all(axis=1) & (np.abs(x.sum(axis=1) - 1.0) <= tol * x.shape[1] + tol)
    ok &= (x <= space.cap_vector()[None, :] + tol).all(axis=1)
    general = space.general_mask()
    if general.any():
        ok &= x[:, general].sum(axis=1) >= space.min_general_share - tol
    pinned = space.pinned_mask()
    if pinned.any():
        ok &= (np.abs(x[:, pinned] - space.pinned_vector()[pinned][None, :]) <= tol).all(axis=1)
    return ok


def kl_to_prior(space: SearchSpace, mixtures: np.ndarray) -> np.ndarray:
    """KL(mixture || prior) per row, in nats (0 * log 0 = 0)."""
    x = np.atleast_2d(np.asarray(mixtures, dtype=np.float64))
    prior = np.maximum(space.prior_vector(), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(x > 0, x * np.log(np.maximum(x, 1e-300) / prior[None, :]), 0.0)
    return terms.sum(axis=1)


def _capped_scale(y: np.ndarray, caps: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Rows ``min(cap, a * y)`` with the per-row ``a`` that makes each row sum to its target.

    This is the KL projection of ``y`` onto {sum = target, 0 <= x <= cap}: clip the units whose
    scaled share passes the cap, rescale the rest, repeat (at most one pass per unit).
    """
    if y.shape[1] == 0:
        return y.copy()
    clipped = np.zeros(y.shape, dtype=bool)
    for _ in range(y.shape[1] + 1):
        free_y = np.where(clipped, 0.0, y).sum(axis=1)
        left = targets - np.where(clipped, caps[None, :], 0.0).sum(axis=1)
        scale = np.divide(left, free_y, out=np.zeros_like(left), where=free_y > 0)
        newly = ~clipped & (scale[:, None] * y > caps[None, :])
        if not newly.any():
            break
        clipped |= newly
    return np.where(clipped, caps[None, :], scale[:, None] * y)


def project_mixture(space: SearchSpace, mixtures: np.ndarray) -> np.ndarray:
    """The KL (I-)projection of positive rows onto ``space``: argmin KL(x || y) over feasible x.

    Pinned units are set exactly; the free units are scaled multiplicatively and clipped at their
    caps (``_capped_scale``). When the general floor (or the caps of the other units) binds, the
    free general units and the others are scaled separately to the nearest feasible split: the
    projection's KL is convex in that split, so clamping the unconstrained split is optimal. A
    feasible row is returned unchanged (up to float rounding).
    """
    space.check()
    y = np.atleast_2d(np.asarray(mixtures, dtype=np.float64)).copy()
    if y.shape[1] != len(space.names):
        raise ValueError(
            f"project_mixture: rows have {y.shape[1]} shares, the space has {len(space.names)} units"
        )
    free, caps, general = space.free_mask(), space.cap_vector(), space.general_mask()
    # A share of exactly 0 cannot be scaled up; a tiny positive floor keeps every unit reachable.
    y = np.maximum(np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=0.0), 1e-12)
    out = np.zeros_like(y)
    out[:, space.pinned_mask()] = space.pinned_vector()[space.pinned_mask()]
    rest = space.rest()
    idx = np.flatnonzero(free)
    x = _capped_scale(y[:, idx], caps[idx], np.full(len(y), rest))
    low, high = space.general_share_bounds()
    g_local = general[idx]
    if g_local.any() and (~g_local).any():
        split = x[:, g_local].sum(axis=1)
        target = np.clip(split, low, high)
        moved = np.abs(target - split) > TOL
        if moved.any():
            gi, oi = idx[g_local], idx[~g_local]
            xg = _capped_scale(y[moved][:, gi], caps[gi], target[moved])
            xo = _capped_scale(y[moved][:, oi], caps[oi], rest - target[moved])
            fixed = x[moved]
            fixed[:, g_local], fixed[:, ~g_local] = xg, xo
            x[moved] = fixed
    out[:, idx] = x
    return out


def sample_mixtures(
    space: SearchSpace,
    count: int,
    *,
    concentration: float = 10.0,
    seed: int = 0,
    center: str = "feasible",
    max_draws_per_row: int = 200,
    on_shortfall: str = "error",
) -> np.ndarray:
    """``count`` feasible mixtures (rows in ``space.names`` order) drawn around the prior.

    The free units are drawn from Dirichlet(center * concentration) scaled to the share the pins
    leave, and rows that break a cap or the floor are rejected (rejection keeps the Dirichlet's
    shape, so proxies spread as RegMix intends); pinned units are set exactly. ``center``:
    ``"feasible"`` centres the Dirichlet on the prior's KL projection into the space (the prior
    itself when feasible; an infeasible prior would otherwise reject most draws), ``"prior"``
    on the prior as given. Fewer than ``count`` accepted rows after ``max_draws_per_row * count``
    draws is a ValueError naming the constraint that rejected the most draws, or, with
    ``on_shortfall="project"``, the missing rows are further draws KL-projected into the space
    (feasible, but piled on the binding constraints: fine for candidates, not for proxies).
    """
    space.check()
    if count < 1:
        raise ValueError(f"sample_mixtures: count must be >= 1, got {count}")
    if concentration <= 0:
        raise ValueError(f"sample_mixtures: concentration must be > 0, got {concentration}")
    if on_shortfall not in ("error", "project"):
        raise ValueError(f"sample_mixtures: on_shortfall must be 'error' or 'project', got {on_shortfall!r}")
    if center not in ("feasible", "prior"):
        raise ValueError(f"sample_mixtures: center must be 'feasible' or 'prior', got {center!r}")
    names, free = space.names, space.free_mask()
    centre = space.prior_vector()
    if center == "feasible":
        centre = project_mixture(space, centre)[0]
    alpha = centre[free] / centre[free].sum() * concentration
    rng = np.random.default_rng(seed)
    base = np.zeros(len(names))
    base[space.pinned_mask()] = space.pinned_vector()[space.pinned_mask()]
    caps, general = space.cap_vector(), space.general_mask()
    kept, accepted, drawn = [], 0, 0
    fails = np.zeros(len(names) + 1)  # per-unit cap failures, then the floor
    batch = max(count, 1024)
    while accepted < count and drawn < max_draws_per_row * count:
        rows = np.tile(base, (batch, 1))
        rows[:, free] = rng.dirichlet(np.maximum(alpha, 1e-6), size=batch) * space.rest()
        drawn += batch
        over = rows > caps[None, :] + TOL
        low = np.zeros(batch, dtype=bool)
        if general.any() and space.min_general_share > 0:
            low = rows[:, general].sum(axis=1) < space.min_general_share - TOL
        fails[:-1] += over.sum(axis=0)
        fails[-1] += low.sum()
        good = ~over.any(axis=1) & ~low
        kept.append(rows[good])
        accepted += int(good.sum())
    if accepted < count and on_shortfall == "project":
        rows = np.tile(base, (count - accepted, 1))
        rows[:, free] = rng.dirichlet(np.maximum(alpha, 1e-6), size=count - accepted) * space.rest()
        kept.append(project_mixture(space, rows))
        accepted = count
    if accepted < count:
        worst = int(np.argmax(fails))
        what = (
            f"min_general_share {space.min_general_share:.4g}"
            if worst == len(names)
            else f"cap of {names[worst]!r} {caps[worst]:.4g} (max_share / max_epochs)"
        )
        raise ValueError(
            f"sample_mixtures: only {accepted} of {drawn} Dirichlet draws satisfy the constraints (need "
            f"{count}); the most violated: {what}, broken by {fails[worst] / drawn:.0%} of draws; raise "
            "concentration, move the prior inside the constraints (center='feasible'), or loosen it"
        )
    return np.concatenate(kept)[:count]
