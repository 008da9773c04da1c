"""``plan_mixture``: inventory + MixConfig -> the plan table (one row per phase and source).

Pure and deterministic: the same inventory (in any row order) and config give the same plan.
Phase by phase: desired shares (``mixing.targets``), ramp blending with the previous phase,
constraints (``mixing.solve``), largest-remainder rounding to whole sequences, then cumulative
epochs and effective tokens. Every check that can fail runs before any row is built.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from mixing.apportion import effective_tokens, largest_remainder
from mixing.config import RECOMMENDED_MAX_EPOCHS, MixConfig
from mixing.curriculum import curriculum_order
from mixing.inventory import check_mix_inventory
from mixing.phases import phase_specs
from mixing.schema import PLAN_COLUMNS
from mixing.solve import PhaseProblem, solve_phase
from mixing.targets import check_phase_keys, desired_shares


@dataclass
class PlanReport:
    """A plan with what the planner decided on the way (for plan.json and the CLI)."""

    plan: pl.DataFrame
    changes: list[str] = field(default_factory=list)  # every re-solve change (resolve='auto')
    warnings: list[str] = field(default_factory=list)
    curriculum_key: str = "none"


def _check_config_against(inv: pl.DataFrame, config: MixConfig) -> None:
    sources, domains = set(inv["source"].to_list()), set(inv["domain"].to_list())
    for i, phase in enumerate(config.phases):
        check_phase_keys(phase, i, sources=sources, domains=domains)
    if config.min_general_share > 0 and not domains & set(config.general_domains):
        raise ValueError(
            f"general_domains: none of {config.general_domains} is in the inventory (domains: "
            f"{sorted(domains)}), so min_general_share {config.min_general_share} cannot be met"
        )
    for key in sorted(config.source_max_epochs):
        if key not in sources:
            raise ValueError(f"source_max_epochs.{key}: unknown source")


def plan_mixture_report(
    inventory: pl.DataFrame, config: MixConfig, *, where: str = "inventory"
) -> PlanReport:
    """Plan a mixture and report the changes and warnings made on the way."""
    inv = check_mix_inventory(inventory, where=where)
    _check_config_against(inv, config)
    specs = phase_specs(config)
    report = PlanReport(plan=pl.DataFrame())
    if config.max_epochs > RECOMMENDED_MAX_EPOCHS or any(
        v > RECOMMENDED_MAX_EPOCHS for v in config.source_max_epochs.values()
    ):
        message = (
            f"max_epochs above {RECOMMENDED_MAX_EPOCHS:g}: repeated data is worth much less than "
            "fresh data past ~4 epochs (Muennighoff et al. 2023)"
        )
        warnings.warn(message, stacklevel=2)
        report.warnings.append(message)

    sources = inv["source"].to_list()
    domains = inv["domain"].to_numpy()
    domain_names = sorted(set(domains.tolist()))
    domain_codes = np.searchsorted(np.array(domain_names), domains)
    sizes = inv["num_tokens"].to_numpy()
    max_epochs = np.array([config.source_max_epochs.get(s, config.max_epochs) for s in sources])
    general = np.isin(domains, config.general_domains)
    synthetic = inv["synthetic"].to_numpy().astype(bool)
    order, report.curriculum_key = curriculum_order(inv, config.curriculum)
    tier_column = {"difficulty": "mean_difficulty", "quality": "mean_quality"}.get(report.curriculum_key)
    tier = inv[tier_column] if tier_column else pl.Series([None] * inv.height, dtype=pl.Float64)

    drawn = np.zeros(inv.height, dtype=np.int64)
    previous: np.ndarray | None = None  # realised shares of the last (sub-)phase
    ramp_from: np.ndarray | None = None  # shares of the phase before the current ramp
    frames = []
    for position, spec in enumerate(specs):
        if position == 0 or spec.config is not specs[position - 1].config:
            ramp_from = previous
        capacity = np.clip(max_epochs * sizes - drawn, 0.0, None)
        desired = desired_shares(spec.config, inv, capacity_tokens=capacity, budget_tokens=spec.num_tokens)
        if spec.ramp_alpha is not None:
            assert ramp_from is not None, "a ramp needs a previous phase (checked in phase_specs)"
            desired = (1.0 - spec.ramp_alpha) * ramp_from + spec.ramp_alpha * desired
        problem = PhaseProblem(
            name=spec.name,
            sources=sources,
            domain_codes=domain_codes,
            domains=domain_names,
            general=general,
            desired=desired,
            epoch_cap_seq=np.floor(capacity / spec.seq_len + 1e-9).astype(np.int64),
            share_cap_seq=int(np.floor(config.max_source_share * spec.num_sequences + 1e-9)),
            budget_seq=spec.num_sequences,
            seq_len=spec.seq_len,
            min_general_share=config.min_general_share,
            min_seq=-(-config.min_source_tokens // spec.seq_len),
            mode=config.resolve,
            synthetic=synthetic,
            max_synthetic_share=(
                spec.config.max_synthetic_share
                if spec.config.max_synthetic_share is not None
                else config.max_synthetic_share
            ),
        )
        alloc = solve_phase(problem)
        report.changes.extend(problem.changes)
        num_sequences = largest_remainder(
            alloc,
            spec.num_sequences,
            caps=problem.caps,
            reserve_mask=general,
            reserve_total=int(np.ceil(config.min_general_share * spec.num_sequences - 1e-9)),
        )
        num_tokens = num_sequences * spec.seq_len
        drawn += num_tokens
        previous = num_sequences / spec.num_sequences
        frames.append(
            _phase_frame(spec, config, inv, tier, order, num_sequences, desired, drawn, sizes, problem)
        )
    plan = pl.concat(frames).sort(["phase", "order"])
    report.plan = plan.select(list(PLAN_COLUMNS) + [c for c in plan.columns if c not in PLAN_COLUMNS])
    return report


def _phase_frame(
    spec, config, inv, tier, order, num_sequences, desired, drawn, sizes, problem
) -> pl.DataFrame:
    num_tokens = num_sequences * spec.seq_len
    end_token = spec.start_token + spec.num_tokens
    step = config.tokens_per_step
    moved = np.abs(num_sequences - desired * spec.num_sequences) >= 1.0
    constraint = np.where(
        problem.dropped if problem.dropped is not None else False,
        "min_source_tokens",
        np.where(
            num_sequences >= problem.caps,
            np.where(problem.epoch_cap_seq <= problem.share_cap_seq, "max_epochs", "max_source_share"),
            "rebalanced",
        ),
    )
    floor_moved = any("min_general_share" in c for c in problem.changes)
    if floor_moved:
        constraint = np.where(constraint == "rebalanced", "min_general_share", constraint)
    if any("max_synthetic_share" in c for c in problem.changes):
        constraint = np.where(
            problem.synthetic & (constraint == "rebalanced"), "max_synthetic_share", constraint
        )
    n = inv.height
    return pl.DataFrame(
        {
            "phase": np.full(n, spec.index, dtype=np.int64),
            "phase_name": [spec.name] * n,
            "source": inv["source"],
            "domain": inv["domain"],
            "num_tokens": num_tokens.astype(np.int64),
            "num_sequences": num_sequences.astype(np.int64),
            "share": num_sequences / spec.num_sequences,
            "epochs": drawn / sizes,
            "effective_tokens": effective_tokens(drawn, sizes),
            "order": order,
            "phase_start_token": np.full(n, spec.start_token, dtype=np.int64),
            "phase_end_token": np.full(n, end_token, dtype=np.int64),
            "phase_start_step": pl.Series([spec.start_token // step if step else None] * n, dtype=pl.Int64),
            "phase_end_step": pl.Series([end_token // step if step else None] * n, dtype=pl.Int64),
            "seq_len": np.full(n, spec.seq_len, dtype=np.int64),
            # Extra audit columns (see mixing/schema.py).
            "target_share": desired,
            "constraint": pl.Series(constraint.astype(str)).zip_with(
                pl.Series(moved), pl.Series([None] * n, dtype=pl.String)
            ),
            "unique_tokens": sizes.astype(np.int64),
            "tier": tier,
            "seed": np.full(n, config.seed, dtype=np.int64),
        }
    )


def plan_mixture(inventory: pl.DataFrame, config: MixConfig) -> pl.DataFrame:
    """Plan a mixture: one row per (phase, source) with the columns of ``mixing.schema``.

    Raises ValueError naming the row, column, key or constraint when the inventory or config is
    bad or the plan is infeasible (``resolve='error'``). See ``plan_mixture_report`` for the list
    of changes an ``resolve='auto'`` re-solve made.
    """
    return plan_mixture_report(inventory, config).plan
