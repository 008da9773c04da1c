"""The mixtures a recipe's search may try: the space the target run's plan allows, and the proxies.

The space follows the target run's plan: its domain_targets are the prior (and the units searched),
its ``min_general_share`` over ``general_domains`` is the floor, ``max_epochs`` with the target
run's token budget caps each domain, ``search.max_share`` caps any one, ``search.pinned`` fixes some.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from recipes.search_config import SearchSpec


def plan_prior(plan: dict) -> dict[str, float]:
    """The (single) phase's domain_targets, normalised: the search's prior."""
    targets = {k: float(v) for k, v in plan["phases"][0]["domain_targets"].items()}
    total = sum(targets.values())
    return {k: v / total for k, v in targets.items()}


def target_tokens(plan: dict, scale: float) -> int | None:
    """The target run's training tokens (its plan's total_tokens times the recipe's scale)."""
    total = plan.get("total_tokens")
    phase = plan["phases"][0]
    if phase.get("tokens") is not None:
        return int(phase["tokens"] * scale)
    return int(total * scale * (phase.get("fraction") or 1.0)) if total is not None else None


def domain_sizes(inventory: pl.DataFrame) -> dict[str, int]:
    grouped = inventory.group_by("domain").agg(pl.col("num_tokens").sum())
    return dict(zip(grouped["domain"].to_list(), grouped["num_tokens"].to_list(), strict=True))


def search_space(
    search: SearchSpec,
    prior: dict[str, float],
    plan: dict,
    *,
    sizes_tokens: dict[str, int] | None = None,
    budget_tokens: int | None = None,
):
    """The checked space (``mixing`` SearchSpace); epoch caps only once token counts are known."""
    from mixing.config import MixConfig
    from mixing.search_space import space_from_constraints

    defaults = MixConfig.model_fields
    general = plan.get("general_domains", defaults["general_domains"].get_default(call_default_factory=True))
    names = list(prior)
    if sizes_tokens is not None:
        missing = [n for n in names if n not in sizes_tokens]
        if missing:
            raise ValueError(f"domain(s) {missing} of the prior have no tokens in the inventory")
    return space_from_constraints(
        names,
        prior=prior,
        sizes_tokens={n: sizes_tokens[n] for n in names} if sizes_tokens is not None else None,
        budget_tokens=budget_tokens if sizes_tokens is not None else None,
        max_epochs=float(plan.get("max_epochs", defaults["max_epochs"].default)),
        max_share=search.max_share,
        general=[g for g in general if g in names],
        min_general_share=float(plan.get("min_general_share", 0.0)),
        pinned=dict(search.pinned),
    )


def proxy_mixture(space, search: SearchSpec, index: int) -> dict[str, float]:
    """Proxy ``index``'s mixture: its own seeded draw, so proxy i is the same whatever num_proxies is
    (a rerun with more proxies keeps the first ones, and their keys)."""
    from mixing.search_space import sample_mixtures

    seed = int(np.random.SeedSequence([search.seed, index]).generate_state(1)[0])
    row = sample_mixtures(space, 1, concentration=search.concentration, seed=seed)[0]
    return {name: float(share) for name, share in zip(space.names, row, strict=True)}
