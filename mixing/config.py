"""Configuration of a mixture plan: ``MixConfig`` (the run) holding ``PhaseConfig`` s (the phases).

Loadable from YAML (``MixConfig.from_yaml``). Unknown keys are errors, so a typo fails before any
planning with the path of the key. Checks that need the inventory (unknown domains or sources) run
in ``plan_mixture``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

StrategyName = Literal["natural", "temperature", "unimax", "quality"]
# Repeating data beyond ~4 epochs is worth much less than fresh data (Muennighoff et al. 2023).
RECOMMENDED_MAX_EPOCHS = 4.0
_SUM_TOLERANCE = 1e-6


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_targets(value: dict[str, float] | None, what: str) -> dict[str, float] | None:
    if value is None:
        return None
    if not value:
        raise ValueError(f"{what}: empty; give at least one entry or leave it out")
    bad = {k: v for k, v in value.items() if not (v >= 0.0 and math.isfinite(v))}
    if bad:
        raise ValueError(f"{what}: shares must be finite and >= 0, got {bad}")
    return value


class PhaseConfig(_Model):
    """One training phase: a token budget and the mixture to draw it from."""

    name: str = Field(description="phase name shown in the plan (phase_name column)")
    tokens: int | None = Field(None, gt=0, description="token budget of the phase (absolute)")
    fraction: float | None = Field(
        None, gt=0.0, le=1.0, description="token budget as a fraction of MixConfig.total_tokens"
    )
    domain_targets: dict[str, float] | None = Field(
        None, description="share of the phase per domain (must sum to 1; unlisted domains get 0)"
    )
    source_targets: dict[str, float] | None = Field(
        None,
        description="share of the phase per source; alone they must sum to 1, with domain_targets "
        "they are part of their domain's share and the rest of the domain is spread by within_domain",
    )
    strategy: StrategyName = Field(
        "natural", description="how shares are set where no target is given (over domains, then sources)"
    )
    within_domain: StrategyName | None = Field(
        None, description="how a domain's share is spread over its sources; default: strategy"
    )
    hierarchical: bool = Field(
        True, description="without targets: apply the strategy to domains, then to sources in each domain"
    )
    temperature: float = Field(2.0, gt=0.0, description="T of the temperature strategy (w ~ n^(1/T))")
    ramp_subphases: int = Field(
        0,
        ge=0,
        description="0: jump to this mixture; R > 0: split the phase into R equal sub-phases whose "
        "shares move linearly from the previous phase's mixture to this one (r/R for r = 1..R)",
    )
    seq_len: int | None = Field(
        None, gt=0, description="sequence length in this phase; default: MixConfig.seq_len"
    )
    max_synthetic_share: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="cap on the synthetic sources' share of this phase; default: MixConfig's",
    )

    @model_validator(mode="after")
    def _check(self) -> PhaseConfig:
        if (self.tokens is None) == (self.fraction is None):
            raise ValueError(f"phase {self.name!r}: give exactly one of tokens or fraction")
        _check_targets(self.domain_targets, f"phase {self.name!r} domain_targets")
        _check_targets(self.source_targets, f"phase {self.name!r} source_targets")
        for key, targets in (
            ("domain_targets", self.domain_targets),
            ("source_targets", self.source_targets),
        ):
            if targets is None or (key == "source_targets" and self.domain_targets is not None):
                continue
            total = sum(targets.values())
            if abs(total - 1.0) > _SUM_TOLERANCE:
                raise ValueError(f"phase {self.name!r} {key}: shares must sum to 1, got {total:.6g}")
        return self


class CurriculumConfig(_Model):
    """Order of sources inside a phase, and optionally of phases by domain emphasis."""

    within_phase: Literal["difficulty", "quality", "none"] = Field(
        "difficulty",
        description="order key inside a phase: inventory mean_difficulty or mean_quality "
        "(falls back to 'none' when the column is missing or null)",
    )
    descending: bool = Field(False, description="False: easiest / lowest quality first (ascending)")
    domain_order: list[str] = Field(
        default_factory=lambda: ["general", "math", "code", "reasoning"],
        description="domain emphasis order: breaks ties inside a phase and orders phases when "
        "order_phases_by_emphasis is set; domains not listed come after, alphabetically",
    )
    order_phases_by_emphasis: bool = Field(
        False,
        description="reorder phases (stable) by the domain_order rank of each phase's emphasis "
        "(its largest non-general domain target)",
    )


class MixConfig(_Model):
    """A whole mixture plan: phases, constraints, curriculum and rounding units."""

    total_tokens: int | None = Field(None, gt=0, description="training tokens over all phases")
    seq_len: int = Field(
        2048, gt=0, description="tokens per sequence (per-phase override: PhaseConfig.seq_len)"
    )
    tokens_per_step: int | None = Field(
        None,
        gt=0,
        description="global batch in tokens; phase budgets are rounded to whole steps and step "
        "ranges filled in (null step columns when unset). Must be a multiple of every seq_len",
    )
    phases: list[PhaseConfig] = Field(min_length=1, description="the phases, in training order")
    general_domains: list[str] = Field(
        default_factory=lambda: ["general"], description="domains that count toward min_general_share"
    )
    min_general_share: float = Field(
        0.0, ge=0.0, le=1.0, description="hard floor on the general domains' share in EVERY phase"
    )
    max_epochs: float = Field(
        RECOMMENDED_MAX_EPOCHS,
        gt=0.0,
        description="cap on cumulative epochs over any source (warning above 4)",
    )
    source_max_epochs: dict[str, float] = Field(
        default_factory=dict, description="per-source epoch caps overriding max_epochs"
    )
    max_source_share: float = Field(1.0, gt=0.0, le=1.0, description="cap on any source's share of a phase")
    max_synthetic_share: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="cap on the share of a phase drawn from synthetic sources (inventory column "
        "`synthetic`), every phase; PhaseConfig.max_synthetic_share overrides it per phase",
    )
    min_source_tokens: int = Field(
        0, ge=0, description="a source drawn in a phase draws at least this many tokens there"
    )
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    resolve: Literal["error", "auto"] = Field(
        "error",
        description="infeasible plan: 'error' names the constraint; 'auto' re-solves and lists changes",
    )
    seed: int = Field(0, description="data-order seed written to the plan's seed column")

    @field_validator("min_general_share", mode="before")
    @classmethod
    def _floor_in_range(cls, value: float) -> float:
        if isinstance(value, int | float) and not 0.0 <= value <= 1.0:
            raise ValueError(f"min_general_share must be in [0, 1], got {value}")
        return value

    @model_validator(mode="after")
    def _check(self) -> MixConfig:
        names = [p.name for p in self.phases]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"phases: duplicated phase name(s) {duplicated}")
        uses_fraction = [p.name for p in self.phases if p.fraction is not None]
        if uses_fraction and self.total_tokens is None:
            raise ValueError(f"phases {uses_fraction} give a fraction: set total_tokens")
        bad = {k: v for k, v in self.source_max_epochs.items() if not v > 0}
        if bad:
            raise ValueError(f"source_max_epochs: caps must be > 0, got {bad}")
        if self.tokens_per_step is not None:
            for phase in self.phases:
                seq_len = phase.seq_len or self.seq_len
                if self.tokens_per_step % seq_len:
                    raise ValueError(
                        f"tokens_per_step {self.tokens_per_step} is not a multiple of phase "
                        f"{phase.name!r} seq_len {seq_len}"
                    )
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> MixConfig:
        """Load a config from YAML; errors name the file and the key path."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no mix config here")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise ValueError(f"{path}: {key}: {first['msg']}") from error
