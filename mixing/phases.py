"""Phase budgets in whole steps (or sequences), ramps expanded into sub-phases, emphasis order.

Budgets: each phase asks for ``tokens`` or ``fraction * total_tokens``. Phase *ends* are rounded
on the cumulative token axis to whole steps (``tokens_per_step``) or, without it, whole sequences,
so rounding never drifts over many phases. A phase whose budget rounds to nothing is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixing.apportion import largest_remainder
from mixing.config import MixConfig, PhaseConfig


@dataclass(frozen=True)
class PhaseSpec:
    """One planned (sub-)phase: where it sits on the token axis and which mixture it follows."""

    index: int
    name: str
    config: PhaseConfig
    seq_len: int
    start_token: int
    num_tokens: int
    ramp_alpha: float | None  # None: no ramp; else weight of this phase's mixture vs the previous

    @property
    def num_sequences(self) -> int:
        return self.num_tokens // self.seq_len


def emphasis_domain(phase: PhaseConfig, general_domains: list[str]) -> str | None:
    """The phase's emphasis: its largest non-general domain target (None without targets)."""
    targets = {d: s for d, s in (phase.domain_targets or {}).items() if d not in general_domains and s > 0}
    return max(sorted(targets), key=lambda d: targets[d]) if targets else None


def ordered_phases(config: MixConfig) -> list[PhaseConfig]:
    """Phases in training order; with ``curriculum.order_phases_by_emphasis`` sorted (stably) by
    the rank of their emphasis domain in ``curriculum.domain_order`` (general-only phases first)."""
    if not config.curriculum.order_phases_by_emphasis:
        return list(config.phases)
    rank = {d: i for i, d in enumerate(config.curriculum.domain_order)}

    def key(phase: PhaseConfig) -> tuple[int, str]:
        domain = emphasis_domain(phase, config.general_domains)
        if domain is None:
            return (-1, "")
        return (rank.get(domain, len(rank)), domain if domain not in rank else "")

    return sorted(config.phases, key=key)


def phase_specs(config: MixConfig) -> list[PhaseSpec]:
    """Expand the config's phases into sub-phases with exact token ranges."""
    phases = ordered_phases(config)
    raw = [p.tokens if p.tokens is not None else p.fraction * config.total_tokens for p in phases]
    if config.total_tokens is not None and abs(sum(raw) - config.total_tokens) > 1e-6 * config.total_tokens:
        raise ValueError(
            f"phases: budgets sum to {sum(raw):,.0f} tokens but total_tokens is {config.total_tokens:,}; "
            "fractions plus absolute tokens must add up to total_tokens"
        )
    specs: list[PhaseSpec] = []
    start, target_end = 0, 0.0
    for position, (phase, want) in enumerate(zip(phases, raw, strict=True)):
        seq_len = phase.seq_len or config.seq_len
        unit = config.tokens_per_step or seq_len
        target_end += want
        num_units = round((target_end - start) / unit)
        if num_units < 1:
            raise ValueError(
                f"phases[{position}] ({phase.name!r}): budget of {want:,.0f} tokens is less than one "
                f"{'step' if config.tokens_per_step else 'sequence'} ({unit:,} tokens)"
            )
        if phase.ramp_subphases and not specs:
            raise ValueError(f"phases[{position}] ({phase.name!r}): ramp_subphases needs a previous phase")
        parts = max(phase.ramp_subphases, 1)
        if parts > num_units:
            raise ValueError(
                f"phases[{position}] ({phase.name!r}): ramp_subphases {parts} exceeds the phase's "
                f"{num_units} {'steps' if config.tokens_per_step else 'sequences'}"
            )
        split = largest_remainder(np.full(parts, num_units / parts), num_units)
        for r, units in enumerate(split, start=1):
            ramp = phase.ramp_subphases > 0
            specs.append(
                PhaseSpec(
                    index=len(specs),
                    name=f"{phase.name}:ramp{r}/{parts}" if ramp else phase.name,
                    config=phase,
                    seq_len=seq_len,
                    start_token=start,
                    num_tokens=int(units) * unit,
                    ramp_alpha=r / parts if ramp else None,
                )
            )
            start += int(units) * unit
    return specs
