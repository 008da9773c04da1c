"""Constraint solving for one phase: desired shares -> whole sequences per source.

Constraints (all in whole sequences of the phase): each source's draw is at most its cap (the
smaller of the epoch cap left and ``max_source_share``), the general domains together draw at least
``min_general_share`` of the phase, a source drawn at all draws at least ``min_source_tokens``, and
the synthetic sources together draw at most ``max_synthetic_share`` of the phase.

``resolve='error'`` raises on the first violated constraint, naming it and the shortfall in tokens
(a miss of under one sequence is rounding, not a violation). ``resolve='auto'`` re-solves:
raise the general domains to the floor (scaling the others down), then water-fill ("fill to the
cap, pour the excess over the rest in proportion") first over the general / other groups,
then over domains, then over sources inside each domain, so domain targets survive whenever the
domain can carry them. Capacity that cannot be met at all is an error in both modes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_EPS = 1e-9


@dataclass
class PhaseProblem:
    """Everything the solver needs about one phase; arrays have one entry per source."""

    name: str
    sources: list[str]
    domain_codes: np.ndarray  # int, index into domains
    domains: list[str]
    general: np.ndarray  # bool
    desired: np.ndarray  # float shares, sum 1
    epoch_cap_seq: np.ndarray  # int, sequences left before the epoch cap
    share_cap_seq: int  # max_source_share of the phase, in sequences
    budget_seq: int
    seq_len: int
    min_general_share: float
    min_seq: int  # min_source_tokens in sequences (ceil)
    mode: str  # 'error' | 'auto'
    changes: list[str] = field(default_factory=list)
    dropped: np.ndarray | None = None  # bool, sources dropped by min_source_tokens
    synthetic: np.ndarray | None = None  # bool, sources capped by max_synthetic_share
    max_synthetic_share: float = 1.0

    @property
    def caps(self) -> np.ndarray:
        return np.minimum(self.epoch_cap_seq, self.share_cap_seq)


def water_fill(weights: np.ndarray, caps: np.ndarray, budget: float) -> tuple[np.ndarray, float]:
    """Allocate ``budget`` in proportion to ``weights`` with ``alloc <= caps``; returns the
    allocation and the part of the budget that could not be placed (positive weights only)."""
    alloc = np.zeros(len(weights), dtype=np.float64)
    free = (weights > 0) & (caps > 0)
    remaining = float(budget)
    while remaining > _EPS and free.any():
        proposal = weights[free] * (remaining / weights[free].sum())
        free_idx = np.flatnonzero(free)
        over = proposal >= caps[free_idx] - _EPS
        if not over.any():
            alloc[free_idx] = proposal
            return alloc, 0.0
        saturated = free_idx[over]
        alloc[saturated] = caps[saturated]
        remaining -= float(caps[saturated].sum())
        free[saturated] = False
    return alloc, max(remaining, 0.0)


def _fill_with_spill(weights: np.ndarray, caps: np.ndarray, budget: float) -> np.ndarray:
    """Water-fill; what the weighted units cannot take spills onto the rest by free capacity."""
    alloc, unmet = water_fill(weights, caps, budget)
    if unmet > _EPS:
        room = np.clip(caps - alloc, 0.0, None)
        extra, unmet = water_fill(room, room, unmet)
        alloc += extra
    assert unmet <= 1e-6 * max(budget, 1.0), "caller must check capacity first"
    return alloc


def _fmt_tokens(num_tokens: float) -> str:
    return f"{num_tokens:,.0f} tokens"


def _check_capacity(p: PhaseProblem) -> None:
    """Errors that no re-solve can fix: the floor or the budget exceeds what sources can give."""
    caps = p.caps
    floor_seq = p.min_general_share * p.budget_seq
    general_cap = float(caps[p.general].sum())
    if p.min_general_share > 0 and general_cap + _EPS < floor_seq:
        raise ValueError(
            f"phase {p.name!r}: min_general_share {p.min_general_share} needs "
            f"{_fmt_tokens(floor_seq * p.seq_len)} from the general domains but they can give only "
            f"{_fmt_tokens(general_cap * p.seq_len)} under max_epochs/max_source_share "
            f"(shortfall {_fmt_tokens((floor_seq - general_cap) * p.seq_len)})"
        )
    if p.synthetic is not None and p.synthetic.any() and p.max_synthetic_share < 1.0:
        need = (1.0 - p.max_synthetic_share) * p.budget_seq
        real_cap = float(caps[~p.synthetic].sum())
        if real_cap + 1.0 < need:  # under one sequence is rounding
            raise ValueError(
                f"phase {p.name!r}: max_synthetic_share {p.max_synthetic_share} leaves "
                f"{_fmt_tokens(need * p.seq_len)} for the non-synthetic sources but they can give only "
                f"{_fmt_tokens(real_cap * p.seq_len)} under max_epochs/max_source_share (shortfall "
                f"{_fmt_tokens((need - real_cap) * p.seq_len)}); raise max_synthetic_share or the budget"
            )
    total_cap = float(caps.sum())
    if total_cap < p.budget_seq:
        raise ValueError(
            f"phase {p.name!r}: no feasible mixture: all sources together can give only "
            f"{_fmt_tokens(total_cap * p.seq_len)} under max_epochs/max_source_share, the phase needs "
            f"{_fmt_tokens(p.budget_seq * p.seq_len)} (shortfall "
            f"{_fmt_tokens((p.budget_seq - total_cap) * p.seq_len)})"
        )


def _apply_floor(p: PhaseProblem, desired: np.ndarray) -> np.ndarray:
    general_share = float(desired[p.general].sum())
    floor = p.min_general_share
    if general_share >= floor - _EPS:
        return desired
    shortfall = (floor - general_share) * p.budget_seq * p.seq_len
    if p.mode == "error":
        raise ValueError(
            f"phase {p.name!r}: min_general_share {floor}: the general domains get "
            f"{general_share:.4f} of the phase (shortfall {_fmt_tokens(shortfall)}); raise their "
            "targets or set resolve: auto"
        )
    desired = desired.copy()
    if general_share > 0:
        desired[p.general] *= floor / general_share
    else:  # no general preference at all: spread the floor by capacity
        caps = p.caps[p.general].astype(np.float64)
        desired[p.general] = floor * caps / caps.sum()
    others = ~p.general
    if desired[others].sum() > 0:
        desired[others] *= (1.0 - floor) / desired[others].sum()
    p.changes.append(
        f"phase {p.name!r}: general share {general_share:.4f} -> {floor:.4f} (min_general_share); "
        "other domains scaled down"
    )
    return desired


def _check_caps(p: PhaseProblem, desired: np.ndarray) -> None:
    want = desired * p.budget_seq
    over = np.flatnonzero(want > p.caps + 1.0)
    if not len(over):
        return
    lines = []
    for i in over[:5]:
        epoch_bound = p.epoch_cap_seq[i] <= p.share_cap_seq
        what = "max_epochs" if epoch_bound else "max_source_share"
        lines.append(
            f"source {p.sources[i]!r} wants {_fmt_tokens(want[i] * p.seq_len)} but {what} allows "
            f"{_fmt_tokens(p.caps[i] * p.seq_len)} (shortfall {_fmt_tokens((want[i] - p.caps[i]) * p.seq_len)})"
        )
    more = f" (and {len(over) - 5} more)" if len(over) > 5 else ""
    raise ValueError(f"phase {p.name!r}: " + "; ".join(lines) + more + "; or set resolve: auto")


def _fill_group(
    p: PhaseProblem, members: np.ndarray, desired: np.ndarray, budget: float, alloc: np.ndarray
) -> None:
    """Two-level water-fill of ``budget`` over the sources in ``members`` (domains, then sources)."""
    if budget <= _EPS:
        return
    idx = np.flatnonzero(members)
    codes = p.domain_codes[idx]
    caps = p.caps[idx].astype(np.float64)
    num_domains = len(p.domains)
    domain_weight = np.bincount(codes, weights=desired[idx], minlength=num_domains)
    domain_cap = np.bincount(codes, weights=caps, minlength=num_domains)
    domain_alloc = _fill_with_spill(domain_weight, domain_cap, budget)
    for d in np.flatnonzero(domain_alloc > _EPS):
        in_domain = codes == d
        alloc[idx[in_domain]] = _fill_with_spill(desired[idx[in_domain]], caps[in_domain], domain_alloc[d])


def _allocate(p: PhaseProblem, desired: np.ndarray) -> np.ndarray:
    caps = p.caps.astype(np.float64)
    general, others = p.general, ~p.general
    floor = p.min_general_share * p.budget_seq
    budget_general = float(desired[general].sum()) * p.budget_seq
    budget_general = max(budget_general, floor)
    budget_others = p.budget_seq - budget_general
    cap_general, cap_others = float(caps[general].sum()), float(caps[others].sum())
    if budget_others > cap_others:  # others cannot take their share: the general domains take more
        budget_general += budget_others - cap_others
        budget_others = cap_others
    if budget_general > cap_general:  # general beyond its floor cannot be met: others take it
        budget_others += budget_general - cap_general
        budget_general = cap_general
    alloc = np.zeros(len(desired), dtype=np.float64)
    _fill_group(p, general, desired, budget_general, alloc)
    _fill_group(p, others, desired, budget_others, alloc)
    assert abs(alloc.sum() - p.budget_seq) <= 1e-6 * max(p.budget_seq, 1), "allocation lost tokens"
    return alloc


def _apply_synthetic_cap(p: PhaseProblem, desired: np.ndarray) -> np.ndarray:
    """Error mode: a desired synthetic share above the cap is an error; auto: scale it down."""
    if p.synthetic is None or not p.synthetic.any() or p.max_synthetic_share >= 1.0:
        return desired
    share, cap = float(desired[p.synthetic].sum()), p.max_synthetic_share
    excess = (share - cap) * p.budget_seq
    if excess <= 1.0:  # under one sequence is rounding
        return desired
    if p.mode == "error":
        raise ValueError(
            f"phase {p.name!r}: max_synthetic_share {cap}: the synthetic sources get {share:.4f} of the "
            f"phase (excess {_fmt_tokens(excess * p.seq_len)}); lower their targets or set resolve: auto"
        )
    desired = desired.copy()
    desired[p.synthetic] *= cap / share
    real = ~p.synthetic
    if desired[real].sum() > 0:
        desired[real] *= (1.0 - cap) / desired[real].sum()
    else:  # only synthetic sources were wanted: spread the rest by capacity
        caps = p.caps[real].astype(np.float64)
        desired[real] = (1.0 - cap) * caps / caps.sum()
    p.changes.append(
        f"phase {p.name!r}: synthetic share {share:.4f} -> {cap:.4f} (max_synthetic_share); other sources scaled up"
    )
    return desired


def _cap_synthetic_alloc(p: PhaseProblem, alloc: np.ndarray) -> np.ndarray:
    """Move what the spill put on synthetic sources above the cap back onto the others' free room."""
    if p.synthetic is None or not p.synthetic.any() or p.max_synthetic_share >= 1.0:
        return alloc
    cap = p.max_synthetic_share * p.budget_seq
    total = float(alloc[p.synthetic].sum())
    if total <= cap + 1.0:
        return alloc
    alloc = alloc.copy()
    alloc[p.synthetic] *= cap / total
    unmet = total - cap
    # general sources first, as far as the general floor needs them, then everyone with room
    deficit = p.min_general_share * p.budget_seq - float(alloc[p.general].sum())
    for mask, amount in ((p.general, min(max(deficit, 0.0), unmet)), (np.ones_like(p.general), None)):
        room = np.where(p.synthetic | ~mask, 0.0, np.clip(p.caps - alloc, 0.0, None))
        amount = unmet if amount is None else amount
        if amount > _EPS and room.sum() > 0:
            extra, left = water_fill(room, room, amount)
            alloc += extra
            unmet -= amount - left
    if unmet > 1.0 + _EPS * max(p.budget_seq, 1):  # one sequence is rounding (float noise aside)
        raise ValueError(
            f"phase {p.name!r}: max_synthetic_share {p.max_synthetic_share}: the other constraints put "
            f"{_fmt_tokens(total * p.seq_len)} on synthetic sources and the rest cannot take "
            f"{_fmt_tokens(unmet * p.seq_len)} of it"
        )
    return alloc


def solve_phase(p: PhaseProblem) -> np.ndarray:
    """Return real-valued sequences per source (sum = budget) satisfying every constraint."""
    _check_capacity(p)
    desired = _apply_synthetic_cap(p, p.desired)
    desired = _apply_floor(p, desired)
    if p.mode == "error":
        _check_caps(p, desired)
    alloc = _cap_synthetic_alloc(p, _allocate(p, desired))
    if p.min_seq > 1:
        for _ in range(len(desired)):
            small = (alloc > _EPS) & (alloc < p.min_seq - _EPS)
            if not small.any():
                break
            i = int(np.flatnonzero(small)[0])
            if p.mode == "error":
                raise ValueError(
                    f"phase {p.name!r}: source {p.sources[i]!r} would draw "
                    f"{_fmt_tokens(alloc[i] * p.seq_len)}, below min_source_tokens "
                    f"{_fmt_tokens(p.min_seq * p.seq_len)} (shortfall "
                    f"{_fmt_tokens((p.min_seq - alloc[i]) * p.seq_len)}); drop it or set resolve: auto"
                )
            for j in np.flatnonzero(small):
                p.changes.append(
                    f"phase {p.name!r}: source {p.sources[j]!r} dropped: "
                    f"{_fmt_tokens(alloc[j] * p.seq_len)} < min_source_tokens"
                )
            p.dropped = small if p.dropped is None else (p.dropped | small)
            desired = desired.copy()
            desired[small] = 0.0
            if desired.sum() <= 0:
                raise ValueError(f"phase {p.name!r}: no feasible source left above min_source_tokens")
            desired /= desired.sum()
            p.epoch_cap_seq = np.where(small, 0, p.epoch_cap_seq)  # keep spills off dropped sources
            _check_capacity(p)
            desired = _apply_floor(p, _apply_synthetic_cap(p, desired))
            alloc = _cap_synthetic_alloc(p, _allocate(p, desired))
    _record_changes(p, desired, alloc)
    return alloc


def _record_changes(p: PhaseProblem, desired: np.ndarray, alloc: np.ndarray) -> None:
    moved = np.flatnonzero(np.abs(alloc - p.desired * p.budget_seq) >= 1.0)
    for i in moved:
        before, after = p.desired[i], alloc[i] / p.budget_seq
        if p.dropped is not None and p.dropped[i]:
            why = "min_source_tokens"
        elif alloc[i] >= p.caps[i] - _EPS and p.caps[i] < p.desired[i] * p.budget_seq:
            why = "max_epochs" if p.epoch_cap_seq[i] <= p.share_cap_seq else "max_source_share"
        else:
            why = "re-balanced after other constraints"
        p.changes.append(
            f"phase {p.name!r}: source {p.sources[i]!r} share {before:.4f} -> {after:.4f} ({why})"
        )
