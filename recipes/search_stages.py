"""The search stages of a recipe with ``search:`` (after tokenize and base, before the runs' plans).

    search.pool      RUN/proxies/pool/     each source cut to proxy/target tokens (recipes/search_pool.py)
    search.proxies   RUN/proxies/swarm/    swarm.parquet: every proxy's mixture, status, metrics
                     RUN/proxies/runs/<key>/  one proxy (recipes/search_proxy.py), kept across reruns
    search.fit       RUN/search/           proposal.json, proxies.parquet, search.png

For ``method: doremi`` ``search.fit`` trains the reference and the rounds itself (no swarm).

Keys: proxy ``i``'s key is a hash of its index, the sampling settings, the target run's training
identity, the init and the pool, never of ``num_proxies``: ten proxies after eight keep the
eight. The swarm's key lists its proxies' keys; the fit's key the swarm's plus the fit settings;
the run the search feeds has the fit's key in its plan key, so a new proposal retrains it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recipes.config import RecipeConfig, TrainRunSpec
from recipes.runner import Stage, atomic_write, stage_key
from recipes.search_mixtures import domain_sizes, plan_prior, proxy_mixture, search_space, target_tokens
from recipes.search_proxy import ProxyJob, check_objective_domains, objective_value, read_result, run_proxy

MIN_FITTED = 4  # proxies a law needs (two folds of two)


def search_stages(
    recipe: RecipeConfig,
    root: Path,
    stages: list[Stage],
    *,
    tokens_key: str,
    base_key: str | None,
    init_weights: str | None,
) -> dict[str, tuple[str, ...]]:
    """Append the search stages; returns {run name: extra plan-key parts} for the run it feeds."""
    search = recipe.search
    if search is None:
        return {}
    from recipes.stages import training_identity

    target = recipe.runs[search.run]
    pool_key = stage_key("search.pool", tokens_key, search.proxy.total_tokens, target.plan, recipe.scale)
    stages.append(
        Stage(
            "search.pool", "search", pool_key, root / "proxies" / "pool", lambda out: _pool(recipe, root, out)
        )
    )
    identity = stage_key(
        "search.proxy",
        search.proxy.model_dump(),
        training_identity(target),
        recipe.model,
        init_weights,
        base_key,
        pool_key,
        recipe.eval,
        search.max_share,
        search.pinned,
    )
    if search.method == "doremi":
        fit_key = stage_key("search.doremi", identity, search.doremi.model_dump(), search.objective)
        stages.append(
            Stage(
                "search.fit",
                "search",
                fit_key,
                root / "search",
                lambda out: _doremi(recipe, root, out, identity),
            )
        )
        return {search.run: (fit_key,)}
    keys = proxy_keys(recipe, identity)
    swarm_key = stage_key("search.proxies", keys, search.objective)
    stages.append(
        Stage(
            "search.proxies",
            "search",
            swarm_key,
            root / "proxies" / "swarm",
            lambda out: _swarm(recipe, root, out, keys),
        )
    )
    fit_key = stage_key(
        "search.fit",
        swarm_key,
        search.law,
        search.kl_weight,
        search.num_candidates,
        search.top_k,
        search.seed,
    )
    stages.append(
        Stage("search.fit", "search", fit_key, root / "search", lambda out: _fit(recipe, root, out))
    )
    return {search.run: (fit_key,)}


def proxy_keys(recipe: RecipeConfig, identity: str) -> list[str]:
    """Proxy i's key: its index and the sampling settings over ``identity``, never num_proxies."""
    search = recipe.search
    return [stage_key(identity, i, search.seed, search.concentration) for i in range(search.num_proxies)]


def planned_spec(recipe: RecipeConfig, name: str, spec: TrainRunSpec, root: Path) -> TrainRunSpec:
    """The run as it trains: the one the search feeds gets the proposal as its domain_targets."""
    if recipe.search is None or name != recipe.search.run:
        return spec
    proposal = json.loads((root / "search" / "proposal.json").read_text())
    plan = dict(spec.plan)
    plan["phases"] = [{**plan["phases"][0], "domain_targets": proposal["mixture"]}]
    return spec.model_copy(update={"plan": plan})


# --- the stages ------------------------------------------------------------------------------------


def full_space(recipe: RecipeConfig, inventory: pl.DataFrame):
    """The space with the target run's epoch caps (needs the exact token counts)."""
    search, plan = recipe.search, recipe.runs[recipe.search.run].plan
    try:
        return search_space(
            search,
            plan_prior(plan),
            plan,
            sizes_tokens=domain_sizes(inventory),
            budget_tokens=target_tokens(plan, recipe.scale),
        )
    except ValueError as error:
        raise ValueError(f"search: {error} (runs.{search.run}.plan with the tokenized inventory)") from None


def _pool(recipe: RecipeConfig, root: Path, out: Path) -> list[Path]:
    from recipes.search_pool import write_pool

    plan = recipe.runs[recipe.search.run].plan
    target = target_tokens(plan, recipe.scale)
    if target is None:
        raise ValueError(
            f"search.run: runs.{recipe.search.run}.plan needs total_tokens (the proxies' pool is cut to proxy/target tokens)"
        )
    fraction = min(1.0, recipe.search.proxy.total_tokens * recipe.scale / target)
    write_pool(root / "tokens", out, fraction)
    (out / "pool.json").write_text(json.dumps({"fraction": fraction, "target_tokens": target}, indent=1))
    return [out / "inventory.parquet"]


def _job(recipe: RecipeConfig, root: Path, key: str, label: str, mixture: dict[str, float]) -> ProxyJob:
    from recipes.stages import _init_dir

    return ProxyJob(
        recipe=recipe,
        root=root,
        folder=root / "proxies" / "runs" / key,
        key=key,
        label=label,
        mixture=mixture,
        pool_dir=root / "proxies" / "pool",
        init_dir=_init_dir(recipe, recipe.runs[recipe.search.run], root),
    )


def run_jobs(jobs: list[ProxyJob], parallel: int) -> list[dict[str, Any]]:
    """Train the jobs here one by one, or ``parallel`` at a time in worker processes."""
    if parallel <= 1 or len(jobs) <= 1:
        return [_announce(run_proxy(job)) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // parallel)
    for job in jobs:
        job.threads = threads
    with ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [_announce(result) for result in pool.map(run_proxy, jobs)]


def _announce(result: dict[str, Any]) -> dict[str, Any]:
    detail = f"objective {result['objective']:.4f}" if result["status"] == "ok" else result.get("error", "")
    print(f"  {result['label']}: {result['status']} in {result['wall_s']:.1f} s, {detail}", file=sys.stderr)
    return result


def swarm_results(recipe: RecipeConfig, root: Path, keys: list[str]) -> tuple[list[dict[str, Any]], int]:
    """Every proxy's result (cached ones read back, the rest trained now); and how many trained now."""
    search = recipe.search
    space = full_space(recipe, pl.read_parquet(root / "tokens" / "inventory.parquet"))
    check_objective_domains(recipe, root)
    results: list[dict[str, Any] | None] = []
    jobs, slots = [], []
    for i, key in enumerate(keys):
        job = _job(recipe, root, key, f"proxy {i}", proxy_mixture(space, search, i))
        cached = read_result(job.folder, key)
        if cached is not None and cached["status"] == "ok":
            results.append(cached)
        else:  # new, or failed last time: (re)train
            results.append(None)
            jobs.append(job)
            slots.append(i)
    for i, result in zip(slots, run_jobs(jobs, search.parallel), strict=True):
        results[i] = result
    return [r for r in results if r is not None], len(jobs)


def _swarm(recipe: RecipeConfig, root: Path, out: Path, keys: list[str]) -> list[Path]:
    results, trained = swarm_results(recipe, root, keys)
    names = list(plan_prior(recipe.runs[recipe.search.run].plan))
    rows = []
    for i, result in enumerate(results):
        objective = float("nan")
        if result["status"] == "ok":
            objective = objective_value(recipe.search.objective, result["metrics"])
        rows.append(
            {
                "proxy": i,
                "key": result["key"],
                "status": result["status"],
                "error": result.get("error"),
                "objective": objective,
                "wall_s": result["wall_s"],
                **{name: result["mixture"][name] for name in names},
                **{k: v for k, v in (result.get("metrics") or {}).items()},
            }
        )
    pl.DataFrame(rows, infer_schema_length=None).write_parquet(out / "swarm.parquet")
    (out / "swarm.json").write_text(
        json.dumps({"trained_now": trained, "reused": len(keys) - trained}, indent=1)
    )
    return [out / "swarm.parquet"]


def _fit(recipe: RecipeConfig, root: Path, out: Path) -> list[Path]:
    from mixing.laws import fit_law, propose_mixture

    search = recipe.search
    swarm = pl.read_parquet(root / "proxies" / "swarm" / "swarm.parquet")
    names = list(plan_prior(recipe.runs[search.run].plan))
    space = full_space(recipe, pl.read_parquet(root / "tokens" / "inventory.parquet"))
    ok = swarm.filter(pl.col("status") == "ok")
    failed = swarm.filter(pl.col("status") != "ok")
    if ok.height < MIN_FITTED:
        raise ValueError(
            f"search: only {ok.height} of {swarm.height} proxies finished, the fit needs {MIN_FITTED} "
            f"(failed: {_failures(failed)}); see RUN/proxies/runs/<key>/result.json, or raise search.num_proxies"
        )
    mixtures, losses = ok.select(names).to_numpy(), ok["objective"].to_numpy()
    law = fit_law(
        search.law, mixtures, losses, names=names, num_folds=min(5, ok.height // 2), seed=search.seed
    )
    mixture, predicted = propose_mixture(
        law,
        space,
        kl_weight=search.kl_weight,
        num_candidates=search.num_candidates,
        top_k=search.top_k,
        seed=search.seed,
    )
    prior = space.prior
    proposal = {
        "method": search.method,
        "law": search.law,
        "run": search.run,
        "objective": search.objective,
        "names": names,
        "mixture": {n: float(mixture[n]) for n in names},
        "prior": {n: float(prior[n]) for n in names},
        "predicted_objective": float(predicted),
        "predicted_prior_objective": float(law.predict(np.array([[prior[n] for n in names]]))[0]),
        "r2_heldout": _number(law.r2_heldout),
        "spearman_heldout": _number(law.spearman_heldout),
        "num_proxies": swarm.height,
        "num_fitted": ok.height,
        "failed": failed.select("proxy", "key", "status", "error").to_dicts(),
    }
    heldout = dict(
        zip(ok["proxy"].to_list(), np.asarray(law.heldout_predictions, dtype=float).tolist(), strict=True)
    )
    fitted = swarm.with_columns(
        pl.Series("predicted", [float(v) for v in law.predict(swarm.select(names).to_numpy())]),
        pl.Series("predicted_heldout", [heldout.get(p) for p in swarm["proxy"].to_list()], dtype=pl.Float64),
    )
    return _write_outputs(out, proposal, fitted)


def _write_outputs(out: Path, proposal: dict[str, Any], proxies: pl.DataFrame) -> list[Path]:
    from recipes.search_plot import plot_search

    atomic_write(out / "proposal.json", json.dumps(proposal, indent=1))
    proxies.write_parquet(out / "proxies.parquet")
    plot_search(proxies, proposal, out / "search.png")
    return [out / "proposal.json", out / "proxies.parquet", out / "search.png"]


def _number(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _failures(failed: pl.DataFrame) -> str:
    """Failed proxies grouped by error (a config error fails them all the same way)."""
    by_error: dict[str, list[str]] = {}
    for row in failed.iter_rows(named=True):
        by_error.setdefault(f"{row['status']}: {row['error']}", []).append(str(row["proxy"]))
    return "; ".join(f"proxy {', '.join(p)} {e}" for e, p in by_error.items()) or "none"


def _doremi(recipe: RecipeConfig, root: Path, out: Path, identity: str) -> list[Path]:
    """DoReMi on the proxies' pool and trainer, in rounds (mixing/doremi.py).

    The reference is a proxy trained on the prior for ``search.proxy.total_tokens``. The DoReMi
    proxy trains the same tokens in ``rounds`` chunks, each round continuing from the previous
    round's export (round 0 from the target run's init) with the current weights and its own data
    order; its per-domain held-out loss after the chunk, minus the reference's, is the excess loss
    of the update. So the proxy is behind the reference until the last round, as the paper's online
    proxy is, and ends as equally trained. Each round has its own LR schedule (a warm restart).
    """
    from mixing.doremi import doremi_search

    search = recipe.search
    names = list(plan_prior(recipe.runs[search.run].plan))
    space = full_space(recipe, pl.read_parquet(root / "tokens" / "inventory.parquet"))
    check_objective_domains(recipe, root)
    rounds = search.doremi.rounds
    chunk = max(1, search.proxy.total_tokens // rounds)
    rows: list[dict[str, Any]] = []
    previous: dict[str, Any] = {"key": identity, "init": None}

    def train(weights: dict[str, float], label: str, *, tokens: int | None, offset: int, chain: bool) -> dict:
        shares = {n: float(weights[n]) for n in names}
        parent = previous["key"] if chain else identity
        key = stage_key(parent, "doremi", label, tokens, {n: round(v, 9) for n, v in shares.items()})
        job = _job(recipe, root, key, label, shares)
        job.total_tokens, job.seed_offset = tokens, offset
        if chain and previous["init"] is not None:
            job.init_dir = previous["init"]
        cached = read_result(job.folder, key)
        result = cached if cached is not None and cached["status"] == "ok" else run_jobs([job], 1)[0]
        if result["status"] != "ok":
            raise ValueError(
                f"search: DoReMi {label} {result['status']}: {result.get('error')} "
                f"({job.folder}/result.json); DoReMi cannot go on without it"
            )
        missing = [n for n in names if f"loss/{n}" not in result["metrics"]]
        if missing:
            raise ValueError(f"search: DoReMi needs held-out loss for every domain; none for {missing}")
        if chain:
            previous.update(key=key, init=Path(result["model_dir"]))
        losses = {n: float(result["metrics"][f"loss/{n}"]) for n in names}
        rows.append(
            {
                "proxy": len(rows),
                "key": key,
                "label": label,
                "status": "ok",
                "error": None,
                "objective": objective_value(search.objective, result["metrics"]),
                "wall_s": result["wall_s"],
                **shares,
                **{f"loss/{n}": losses[n] for n in names},
            }
        )
        return losses

    reference = train(dict(space.prior), "doremi reference", tokens=None, offset=0, chain=False)
    result = doremi_search(
        lambda weights, r: train(weights, f"doremi round {r}", tokens=chunk, offset=1 + r, chain=True),
        reference,
        space,
        rounds=rounds,
        step_size=search.doremi.step_size,
        smoothing=search.doremi.smoothing,
    )
    proposal = {
        "method": "doremi",
        "law": None,
        "run": search.run,
        "objective": search.objective,
        "names": names,
        "mixture": {n: float(result.weights[n]) for n in names},
        "prior": {n: float(space.prior[n]) for n in names},
        "predicted_objective": None,
        "predicted_prior_objective": None,
        "r2_heldout": None,
        "spearman_heldout": None,
        "num_proxies": len(rows),
        "num_fitted": len(rows),
        "failed": [],
        "reference_losses": reference,
    }
    result.history.write_parquet(out / "doremi_history.parquet")
    return _write_outputs(out, proposal, pl.DataFrame(rows))
