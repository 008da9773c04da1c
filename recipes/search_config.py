"""The recipe's ``search:`` section: find a run's mixture with proxy runs, then train on it.

```yaml
search:
  run: anneal                 # the run whose (single) phase's domain_targets the search replaces
  method: regmix              # regmix (law: gbm | linear | loglinear), loglinear, or doremi
  law: gbm
  num_proxies: 8
  proxy: {total_tokens: 20480, model: {tiny: {hidden_size: 32}}, train: {micro_batch_size: 8}}
  objective: {math: 1.0, code: 1.0, general: 1.0}   # weighted held-out loss per domain
```

The run named in ``run`` trains on the proposal; a copy of it, ``<run>-prior``, trains on the
mixture as written (the search's prior), so the report can show predicted vs measured for both.
Cross-checks that need the whole recipe (the run exists, it has one phase with domain_targets,
the objective's keys) are in ``check_search``; checks that need token counts run in the stage.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# "<task>:<metric>" names an eval row (e.g. gsm8k:exact_match); anything else is a held-out domain.
BENCHMARK_KEY = re.compile(r"^[^:]+:[^:]+$")


class ProxySpec(BaseModel):
    """How each proxy trains: the target run's settings with these overrides, on a smaller budget."""

    model_config = ConfigDict(extra="forbid")
    total_tokens: int = Field(
        20480,
        gt=0,
        description="Training tokens of one proxy (times the recipe's scale, like a run's plan). Each "
        "source's data pool shrinks by proxy tokens / target tokens, so proxies repeat data at the "
        "target run's epochs.",
    )
    seq_len: int | None = Field(None, gt=0, description="Sequence length; default: the target run's plan's.")
    model: dict[str, Any] = Field(
        default_factory=dict,
        description="Model overrides merged over the recipe's model (e.g. tiny: {hidden_size: 32}); only "
        "for a target run that trains from scratch (otherwise proxies start from the run's own weights).",
    )
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="training.TrainConfig overrides merged over the target run's train section "
        "(micro_batch_size, global_batch_tokens, optimizer, scheduler...).",
    )


class DoReMiSpec(BaseModel):
    """DoReMi (Xie et al. 2023): rounds of proxy training, weights moved toward excess loss."""

    model_config = ConfigDict(extra="forbid")
    rounds: int = Field(3, ge=1, description="Proxy trainings after the reference (one per weight update).")
    step_size: float = Field(1.0, gt=0, description="Exponentiated-gradient step on the excess losses.")
    smoothing: float = Field(
        1e-3, ge=0, le=1, description="Mix of the uniform distribution into each update."
    )


class SearchSpec(BaseModel):
    """Mixture search: proxy runs with the real trainer, a fitted mixture law, the proposal trained."""

    model_config = ConfigDict(extra="forbid")
    run: str = Field(description="The run the proposal replaces the domain_targets of (one phase).")
    method: Literal["regmix", "loglinear", "doremi"] = Field(
        "regmix", description="regmix: fit `law` on the proxies; loglinear: regmix with the log-linear law."
    )
    law: Literal["gbm", "linear", "loglinear"] = Field("gbm", description="Mixture law regmix fits.")
    num_proxies: int = Field(8, ge=4, description="Proxy mixtures sampled (regmix, loglinear).")
    concentration: float = Field(10.0, gt=0, description="Dirichlet concentration around the prior.")
    seed: int = Field(0, description="Seed of the sampled mixtures and of the fit.")
    proxy: ProxySpec = Field(
        default_factory=ProxySpec, description="How each proxy trains (the target run at a smaller budget)."
    )
    objective: dict[str, float] = Field(
        description="What the search minimises: {domain: weight} over held-out loss per domain, and/or "
        "{'task:metric': weight} over an eval row (e.g. gsm8k:exact_match with a negative weight).",
    )
    kl_weight: float = Field(0.0, ge=0, description="Pull of the proposal toward the prior (KL penalty).")
    pinned: dict[str, float] = Field(default_factory=dict, description="Domains held at a fixed share.")
    max_share: float = Field(1.0, gt=0, le=1, description="Cap on any domain's share of a mixture.")
    num_candidates: int = Field(20000, ge=100, description="Candidate mixtures the fitted law scores.")
    top_k: int = Field(32, ge=1, description="Best candidates averaged into the proposal.")
    parallel: int = Field(1, ge=1, description="Proxies trained at the same time (processes on this node).")
    doremi: DoReMiSpec = Field(default_factory=DoReMiSpec, description="DoReMi's rounds (method: doremi).")

    @field_validator("objective")
    @classmethod
    def _some_weight(cls, objective: dict[str, float]) -> dict[str, float]:
        if not objective or not any(objective.values()):
            raise ValueError("give at least one domain (or 'task:metric') with a non-zero weight")
        return objective

    @model_validator(mode="after")
    def _law_of_method(self) -> SearchSpec:
        if self.method == "loglinear":
            self.law = "loglinear"
        return self


def prior_run_name(run: str) -> str:
    return f"{run}-prior"


def check_search(recipe, *, where: str) -> None:
    """Cross-checks of ``search`` against the runs; adds the ``<run>-prior`` run (a copy)."""
    search = recipe.search
    if search is None:
        return
    if search.run not in recipe.runs:
        raise ValueError(f"{where}: search.run: no run {search.run!r} (runs: {', '.join(recipe.runs)})")
    spec = recipe.runs[search.run]
    phases = spec.plan.get("phases") or []
    if len(phases) != 1 or not (phases[0].get("domain_targets") or {}):
        raise ValueError(
            f"{where}: search.run: runs.{search.run}.plan needs exactly one phase with domain_targets "
            f"(the prior the search starts from), it has {len(phases)} phase(s)"
        )
    prior = phases[0]["domain_targets"]
    for domain in search.pinned:
        if domain not in prior:
            raise ValueError(
                f"{where}: search.pinned.{domain}: not a domain of runs.{search.run}'s domain_targets "
                f"({', '.join(prior)})"
            )
    if search.proxy.model and spec.init != "scratch":
        raise ValueError(
            f"{where}: search.proxy.model: proxies start from runs.{search.run}'s own weights (init: "
            f"{spec.init}); drop proxy.model, or train the run from scratch"
        )
    for key in search.objective:
        if BENCHMARK_KEY.match(key):
            task = key.split(":")[0]
            section = task if task in ("gsm8k", "humaneval") else "mc" if task.startswith("mc") else None
            if section is None or not (recipe.eval.get(section) or {}).get("files"):
                raise ValueError(
                    f"{where}: search.objective.{key}: evaluation produces no task {task!r} "
                    "(benchmarks: gsm8k, humaneval, mc:<name>, each with eval.<task>.files)"
                )
    _check_feasible(search, prior, spec.plan, where=where)
    prior_name = prior_run_name(search.run)
    if prior_name not in recipe.runs:
        recipe.runs[prior_name] = spec.model_copy(deep=True)


def _check_feasible(search: SearchSpec, prior: dict[str, float], plan: dict, *, where: str) -> None:
    """Constraints no mixture meets fail here, before anything runs (epoch caps wait for token counts)."""
    from recipes.search_mixtures import search_space

    try:
        search_space(search, prior, plan).check()
    except ValueError as error:
        raise ValueError(f"{where}: search: {error}") from None
