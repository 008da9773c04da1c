"""One proxy run: plan its mixture on the cut pool, train it with the recipe's trainer, evaluate it.

A proxy is the target run at a smaller budget: the same plan settings (general floor, epoch caps,
sequence length) with one phase whose domain_targets is the proxy's mixture, the same train
section with ``search.proxy.train`` merged over it, the same init (the base run's export, the
model's weights, or a fresh model with ``search.proxy.model`` merged over the recipe's model), and
the same held-out evaluation as the eval stage. It goes through ``recipes.stages._plan`` and
``_train``, the path every run takes.

Each proxy lives in ``RUN/proxies/runs/<key>/`` (plan/, run/, result.json), ``<key>`` a hash of
everything that decides its result, so a rerun with more proxies finds the finished ones there
and trains only the new ones. A proxy whose training raises or whose objective is not finite is
recorded (``status: failed | diverged`` with the error) instead of stopping the search; the fit
leaves it out and the report lists it. A finished-but-failed proxy is retried the next time the
search stage runs.
"""

from __future__ import annotations

import json
import math
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipes.config import RecipeConfig, TrainRunSpec, _deep_merge
from recipes.runner import atomic_write
from recipes.search_config import BENCHMARK_KEY

RESULT = "result.json"


@dataclass
class ProxyJob:
    """Everything one proxy needs (picklable: proxies may train in other processes)."""

    recipe: RecipeConfig
    root: Path
    folder: Path  # RUN/proxies/runs/<key>
    key: str
    label: str  # "proxy 3", "doremi round 1", ...
    mixture: dict[str, float]
    pool_dir: Path
    init_dir: Path | None
    threads: int | None = None  # torch threads when several proxies share the node
    total_tokens: int | None = None  # default: search.proxy.total_tokens (DoReMi rounds train a share)
    seed_offset: int = 0  # DoReMi rounds draw their own data order


def proxy_spec(
    recipe: RecipeConfig, mixture: dict[str, float], *, total_tokens: int | None = None, seed_offset: int = 0
) -> TrainRunSpec:
    """The target run's spec at proxy size, training ``mixture``."""
    search = recipe.search
    target = recipe.runs[search.run]
    train = _deep_merge(dict(target.train), search.proxy.train)
    train.setdefault("progress", False)
    # a proxy is short: restarting a killed one costs less than checkpointing every one
    train["checkpoint"] = _deep_merge(
        {"every_steps": None, "keep_last": 1}, search.proxy.train.get("checkpoint") or {}
    )
    if target.init == "scratch":
        train["model"] = _deep_merge(dict(train.get("model") or recipe.model), search.proxy.model)
    plan = dict(target.plan)
    plan["total_tokens"] = total_tokens or search.proxy.total_tokens
    if search.proxy.seq_len is not None:
        plan["seq_len"] = search.proxy.seq_len
    if "global_batch_tokens" in train:
        plan["tokens_per_step"] = train["global_batch_tokens"]
    plan["phases"] = [{"name": "proxy", "fraction": 1.0, "domain_targets": dict(mixture)}]
    return TrainRunSpec(plan=plan, train=train, init=target.init, seeds=[target.seeds[0] + seed_offset])


def read_result(folder: Path, key: str) -> dict[str, Any] | None:
    path = folder / RESULT
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    return result if result.get("key") == key else None


def run_proxy(job: ProxyJob) -> dict[str, Any]:
    """Train and evaluate one proxy; returns (and writes) its result, failures included."""
    import polars as pl

    from recipes.stages import _plan, _train

    if job.threads is not None:
        import torch

        torch.set_num_threads(job.threads)
    start = time.perf_counter()
    result: dict[str, Any] = {"key": job.key, "label": job.label, "mixture": job.mixture}
    spec = proxy_spec(job.recipe, job.mixture, total_tokens=job.total_tokens, seed_offset=job.seed_offset)
    job.folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(job.folder / "run", ignore_errors=True)  # a retried proxy starts over
    try:
        inventory = pl.read_parquet(job.pool_dir / "inventory.parquet")
        _plan(job.recipe, spec, job.root, job.folder / "plan", inventory=inventory)
        hf_dir, _ = _train(
            job.recipe,
            spec,
            job.root,
            job.folder / "plan",
            job.folder / "run",
            seed=spec.seeds[0],
            init_dir=job.init_dir,
            tokens_dir=job.pool_dir,
        )
        metrics = evaluate_proxy(job.recipe, job.root, Path(hf_dir), job.folder / "eval")
        objective = objective_value(job.recipe.search.objective, metrics)
        result.update(metrics=metrics, objective=objective, model_dir=str(hf_dir))
        result["status"] = "ok" if math.isfinite(objective) else "diverged"
        if result["status"] == "diverged":
            result["error"] = f"objective is {objective} (a non-finite held-out loss)"
    except ObjectiveKeyError:
        raise  # a recipe error, not the proxy's: stop the search with its one line
    except Exception as error:  # noqa: BLE001 - recorded and excluded from the fit, never silent
        diverged = type(error).__name__ == "NonFiniteLossError"
        result.update(
            status="diverged" if diverged else "failed",
            error=f"{type(error).__name__}: {error}".splitlines()[0][:300],
            traceback=traceback.format_exc(limit=8),
            objective=float("nan"),
            metrics={},
        )
    result["wall_s"] = round(time.perf_counter() - start, 2)
    atomic_write(job.folder / RESULT, json.dumps(result, indent=1))
    return result


class ObjectiveKeyError(ValueError):
    """The objective names a metric evaluation did not produce."""


def objective_value(objective: dict[str, float], metrics: dict[str, float]) -> float:
    total = 0.0
    for key, weight in objective.items():
        name = key if BENCHMARK_KEY.match(key) else f"loss/{key}"
        if name not in metrics:
            have = sorted(k.removeprefix("loss/") for k in metrics if k.startswith("loss/"))
            raise ObjectiveKeyError(
                f"search.objective.{key}: evaluation produced no such metric (held-out domains: "
                f"{', '.join(have) or 'none'}; benchmark keys are 'task:metric', e.g. gsm8k:exact_match)"
            )
        total += weight * metrics[name]
    return total / sum(abs(w) for w in objective.values())


def check_objective_domains(recipe: RecipeConfig, root: Path) -> None:
    """Before any proxy trains: every objective domain has a held-out slice to be measured on."""
    from evaluation.heldout import read_heldout

    domains = set(read_heldout(heldout_dir(recipe, root)))
    for key in recipe.search.objective:
        if not BENCHMARK_KEY.match(key) and key not in domains:
            raise ObjectiveKeyError(
                f"search.objective.{key}: evaluation produces no held-out loss for that domain (held-out "
                f"domains: {', '.join(sorted(domains)) or 'none'})"
            )


def heldout_dir(recipe: RecipeConfig, root: Path) -> str:
    return str(recipe.eval.get("heldout_dir") or root / "curate" / "heldout")


_DOCS: dict[str, dict[str, list[str]]] = {}  # held-out text per folder, read once per process


def evaluate_proxy(recipe: RecipeConfig, root: Path, model_dir: Path, out: Path) -> dict[str, float]:
    """Held-out loss per domain (``loss/<domain>``), as the eval stage measures it, plus the
    ``task:metric`` benchmark rows the objective names (those run the whole eval stage)."""
    from evaluation import EvalConfig

    config = EvalConfig.model_validate({"heldout_dir": heldout_dir(recipe, root), **recipe.eval})
    if any(BENCHMARK_KEY.match(key) for key in recipe.search.objective):
        from evaluation import evaluate

        frame = evaluate(
            {"proxy": model_dir}, config.model_copy(update={"reference_sets": {}, "base": None}), out
        )
        metrics = {}
        for row in frame.iter_rows(named=True):
            if row["task"].startswith("loss/") and row["metric"] == "loss":
                metrics[row["task"]] = row["value"]
            elif not row["task"].startswith("loss/"):
                metrics[f"{row['task']}:{row['metric']}"] = row["value"]
        return metrics
    from evaluation.checkpoints import load_checkpoint
    from evaluation.heldout import read_heldout
    from evaluation.loss import domain_losses

    folder = str(config.heldout_dir)
    if folder not in _DOCS:
        _DOCS[folder] = read_heldout(folder)
    loaded = load_checkpoint("proxy", model_dir, device=config.device, dtype=config.dtype)
    rows = domain_losses(
        loaded.model,
        loaded.tokenizer,
        _DOCS[folder],
        eos_token_id=loaded.eos_token_id,
        pad_token_id=loaded.pad_token_id,
        seq_len=config.seq_len,
        batch_size=config.batch_size,
        max_tokens_per_domain=config.max_tokens_per_domain,
        label="proxy",
    )
    return {row["task"]: float(row["value"]) for row in rows if row["metric"] == "loss"}
