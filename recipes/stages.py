"""A recipe's stages as runnable units: what each reads, what it writes, and its key.

Layout of a run folder ``RUN``::

    corpus/                     demo corpus (raw/, evalsets/, ground_truth.json)  [demo only]
    curate/                     curated/, heldout/, inventory.parquet, reports/
    tokens/                     tokenizer.json, <source>/*.ds, counts.parquet, inventory.parquet
    base/plan/, base/run/       the optional base run (plan + training run)
    plans/<run>/                plan.parquet, plan.json, plan.png per mid-training run
    runs/<run>/seed<k>/         training runs (checkpoints/, hf/, metrics.jsonl, plots)
    runs/<run>/soup/            the average of a run's seeds, when asked for
    eval/                       eval.parquet, report.md, PNGs
    report.md                   the run's report (recipes/report.py)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from recipes.config import RecipeConfig, TrainRunSpec
from recipes.runner import Stage, stage_key
from recipes.validate import train_section
from training.init_source import weights_fingerprint


def build_stages(recipe: RecipeConfig, root: Path) -> list[Stage]:
    stages: list[Stage] = []
    corpus_key = stage_key("corpus", recipe.data.model_dump(), recipe.scale)
    if recipe.data.demo_corpus is not None:
        stages.append(
            Stage("corpus", "corpus", corpus_key, root / "corpus", lambda out: _build_corpus(recipe, out))
        )
    curate_key = stage_key("curate", recipe.curate, corpus_key)
    # Curation resumes on its own (datatrove completion markers keyed by its config), so it writes
    # in place: the inventory's paths then point at the final folder.
    stages.append(
        Stage(
            "curate",
            "curate",
            curate_key,
            root / "curate",
            lambda out: _curate(recipe, root, out),
            atomic=False,
        )
    )
    tokenize = tokenize_section(recipe)
    # a tokenizer file rewritten in place must retokenize: its fingerprint is in the key
    tokenizer_fp = weights_fingerprint(tokenize["tokenizer"]) if tokenize.get("tokenizer") else None
    tokens_key = stage_key("tokenize", tokenize, tokenizer_fp, curate_key)
    stages.append(
        Stage("tokenize", "tokenize", tokens_key, root / "tokens", lambda out: _tokenize(recipe, root, out))
    )

    # New weights at the same model.init_from path must retrain: the keys hold their fingerprint.
    init_from = recipe.model.get("init_from")
    init_weights = weights_fingerprint(init_from) if init_from else None
    base_key = None
    if recipe.base is not None:
        base_plan_key = stage_key("plan", recipe.base.plan, tokens_key, recipe.scale)
        stages.append(
            Stage(
                "base.plan",
                "base",
                base_plan_key,
                root / "base" / "plan",
                lambda out: _plan(recipe, recipe.base, root, out),
            )
        )
        base_key = stage_key(
            "train", training_identity(recipe.base), recipe.model, init_weights, base_plan_key
        )
        stages.append(
            Stage(
                "base.train",
                "base",
                base_key,
                root / "base" / "run",
                lambda out: _train(
                    recipe,
                    recipe.base,
                    root,
                    root / "base" / "plan",
                    out,
                    seed=recipe.base.seeds[0],
                    init_dir=None,
                ),
                atomic=False,
            )
        )

    # search: proxies -> fitted law -> proposal; the run it feeds plans on the proposal (its key
    # holds the fit's key), recipes/search_stages.py
    from recipes.search_stages import planned_spec, search_stages

    search_key = search_stages(
        recipe, root, stages, tokens_key=tokens_key, base_key=base_key, init_weights=init_weights
    )
    run_keys: dict[str, str] = {}
    for name, spec in recipe.runs.items():
        plan_key = stage_key("plan", spec.plan, tokens_key, recipe.scale, *search_key.get(name, ()))
        stages.append(
            Stage(
                f"plan.{name}",
                "plan",
                plan_key,
                root / "plans" / name,
                lambda out, spec=spec, name=name: _plan(
                    recipe, planned_spec(recipe, name, spec, root), root, out
                ),
            )
        )
        run_keys[name] = stage_key(
            "train", training_identity(spec), recipe.model, init_weights, plan_key, base_key
        )
    for name, spec in recipe.runs.items():
        for seed in spec.seeds:
            key = stage_key(run_keys[name], seed)
            stages.append(
                Stage(
                    f"train.{name}.seed{seed}",
                    "train",
                    key,
                    root / "runs" / name / f"seed{seed}",
                    lambda out, spec=spec, name=name, seed=seed: _train(
                        recipe,
                        spec,
                        root,
                        root / "plans" / name,
                        out,
                        seed=seed,
                        init_dir=_init_dir(recipe, spec, root),
                    ),
                    atomic=False,
                )
            )
    for name, enabled in recipe.average.items():
        if enabled and len(recipe.runs[name].seeds) > 1:
            stages.append(
                Stage(
                    f"average.{name}",
                    "average",
                    stage_key("average", run_keys[name]),
                    root / "runs" / name / "soup",
                    lambda out, name=name: _average(recipe, root, name, out),
                )
            )
    eval_key = stage_key("eval", recipe.eval, base_key, run_keys, recipe.average)
    stages.append(Stage("eval", "eval", eval_key, root / "eval", lambda out: _evaluate(recipe, root, out)))
    stages.append(
        Stage(
            "report",
            "report",
            stage_key("report", eval_key, recipe.claims),
            root / "report",
            lambda out: _report(recipe, root, out),
        )
    )
    return stages


def training_identity(spec: TrainRunSpec) -> dict[str, Any]:
    """What a training run's key depends on: not how it is launched, only what it trains.

    A Slurm time limit, partition or extra torchrun flag must not change the key: a changed key
    wipes the run folder, so bumping ``slurm.time`` after a timed-out job would restart from step 0
    (or delete the folder under a job still running) instead of resuming. The world size is left
    out too: a checkpoint resumes on any world size that divides the global batch (DCP reshards,
    the loader's position is global; training/trainer/reshard.py), so 16 GPUs -> 8 continues the run.
    """
    return spec.model_dump(exclude={"launcher"})


# --- the stages ------------------------------------------------------------------------------------


def _build_corpus(recipe: RecipeConfig, out: Path) -> list[Path]:
    from curation.demo_corpus import build_demo_corpus

    spec = recipe.data.demo_corpus
    corpus = build_demo_corpus(
        out, scale=spec.scale * recipe.scale, seed=spec.seed, instruction=spec.instruction
    )
    return [*corpus.sources.values(), *corpus.evalsets.values(), corpus.ground_truth_path]


def demo_sources(root: Path, *, instruction: bool = False) -> list[dict[str, Any]]:
    raw = root / "corpus" / "raw"
    # Ranked for cross-source dedup: a copy in a curated domain source beats one in general web text.
    # The general source mixes docstrings with planted web junk (menus, spam), so web rules judge it.
    sources = [
        {"name": name, "path": str(raw / f"{name}.jsonl"), "domain": name, "id_key": "id"}
        | ({"kind": "web"} if name == "general" else {})
        for name in ("math", "code", "general")
    ]
    if instruction:  # data.demo_corpus.instruction: prompt/response math (curation/demo_instruct.py)
        path = str(raw / "math_instruct.jsonl")
        sources.append({"name": "math_instruct", "path": path, "domain": "instruction", "id_key": "id"})
        sources[-1]["instruction"] = "prompt_response"
    return sources


def curation_config(recipe: RecipeConfig, root: Path) -> dict[str, Any]:
    section = dict(recipe.curate)
    if recipe.data.demo_corpus is not None:
        section.setdefault("sources", demo_sources(root, instruction=recipe.data.demo_corpus.instruction))
        # The demo's general source is docstrings (full of `code`, (parentheses), *markup*) mixed
        # with planted web junk: web rules judge it, but with Gopher's default (80% of words must
        # have a letter) over half the docstrings would go; 60% keeps prose and drops the junk.
        filters = dict(section.get("filters") or {})
        profiles = {k: dict(v or {}) for k, v in (filters.get("profiles") or {}).items()}
        web = profiles.setdefault("web", {})
        web.setdefault("gopher_quality", {"min_alpha_words_ratio": 0.6})
        filters["profiles"] = profiles
        section["filters"] = filters
        evalsets = root / "corpus" / "evalsets"
        decont = dict(section.get("decontamination") or {})
        decont.setdefault(
            "eval_sets",
            [
                {"name": "gsm8k_like", "path": str(evalsets / "gsm8k_like.jsonl"), "format": "gsm8k"},
                {
                    "name": "humaneval_like",
                    "path": str(evalsets / "humaneval_like.jsonl"),
                    "format": "humaneval",
                },
            ],
        )
        section["decontamination"] = decont
    from recipes.synth_stage import resolve_tiny_generator

    return resolve_tiny_generator(section, root)  # synthesize's `model: tiny` -> RUN/curate/generator


def _curate(recipe: RecipeConfig, root: Path, out: Path) -> list[Path]:
    from curation import CurationConfig, run_curation

    config = CurationConfig.model_validate(curation_config(recipe, root))
    from recipes.synth_stage import prepare_tiny_generator

    prepare_tiny_generator(config, root)  # only when synthesize runs on `model: tiny`
    # On Slurm the recipe waits for the jobs: tokenization needs what they write.
    run_curation(config, out, wait=True)
    return [out / "inventory.parquet", out / "reports"]


def tokenize_section(recipe: RecipeConfig) -> dict[str, Any]:
    """The tokenize config: a run that starts from ``model.init_from`` uses the checkpoint's own
    tokenizer unless ``tokenize.tokenizer`` names one (a new tokenizer would scramble its ids)."""
    section = dict(recipe.tokenize)
    init_from = recipe.model.get("init_from")
    starts_from_model = any(spec.init == "model" for spec in recipe.runs.values())
    own = Path(init_from) / "tokenizer.json" if init_from else None
    if section.get("tokenizer") is None and starts_from_model and own is not None and own.is_file():
        section["tokenizer"] = str(own)
    return section


def _tokenize(recipe: RecipeConfig, root: Path, out: Path) -> list[Path]:
    from training import TokenizeConfig, tokenize_curated

    config = TokenizeConfig.model_validate(tokenize_section(recipe))
    # Given the curation folder, tokenization also writes out/inventory.parquet with exact counts.
    tokenize_curated(root / "curate", out, config)
    return [out / "tokenizer.json", out / "counts.parquet", out / "inventory.parquet"]


def exact_inventory(root: Path) -> pl.DataFrame:
    """Curation's inventory with the exact token counts tokenization wrote back."""
    return pl.read_parquet(root / "tokens" / "inventory.parquet")


def _plan(
    recipe: RecipeConfig, spec: TrainRunSpec, root: Path, out: Path, *, inventory: pl.DataFrame | None = None
) -> list[Path]:
    from mixing import MixConfig, plan_mixture, write_plan

    section = dict(spec.plan)
    if "total_tokens" in section and section["total_tokens"] is not None:
        section["total_tokens"] = int(section["total_tokens"] * recipe.scale)
    config = MixConfig.model_validate(section)
    plan = plan_mixture(exact_inventory(root) if inventory is None else inventory, config)
    write_plan(plan, out, config=config)
    return [out / "plan.parquet", out / "plan.png"]


def _init_dir(recipe: RecipeConfig, spec: TrainRunSpec, root: Path) -> Path | None:
    if spec.init == "base":
        return final_hf_dir(root / "base" / "run")
    if spec.init == "model":
        return Path(recipe.model["init_from"])
    return None


def final_hf_dir(run_dir: Path) -> Path:
    exports = sorted((run_dir / "hf").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    if not exports:
        raise FileNotFoundError(f"{run_dir}/hf: no exported model; the training stage did not finish")
    return exports[-1]


def _train(
    recipe: RecipeConfig,
    spec: TrainRunSpec,
    root: Path,
    plan_dir: Path,
    out: Path,
    *,
    seed: int,
    init_dir: Path | None,
    tokens_dir: Path | None = None,  # the search's proxies train on a cut pool (recipes/search_pool.py)
) -> list[Path]:
    from training import TrainConfig, train

    section = train_section(recipe, spec.train)
    section.update(
        run_dir=str(out),
        tokens_dir=str(tokens_dir or root / "tokens"),
        plan_path=str(plan_dir / "plan.parquet"),
        seed=seed,
    )
    if init_dir is not None:
        model = dict(section.get("model") or {})
        model.pop("tiny", None)
        model.pop("config_from", None)
        model["init_from"] = str(init_dir)
        section["model"] = model
    config = TrainConfig.model_validate(section)
    if spec.launcher.in_process:
        result = train(config)
        return [result.final_hf_dir, result.metrics_path]
    from recipes.launch import run_distributed

    run_distributed(config, spec.launcher, out)
    return [final_hf_dir(out), out / "metrics.jsonl"]


def _average(recipe: RecipeConfig, root: Path, name: str, out: Path) -> list[Path]:
    from training import average_checkpoints

    members = [final_hf_dir(root / "runs" / name / f"seed{seed}") for seed in recipe.runs[name].seeds]
    average_checkpoints(members, out)
    return [out]


def evaluated_models(recipe: RecipeConfig, root: Path) -> dict[str, Path]:
    """Label -> HF folder: the base (when there is one), each run's seeds (and their weights averaged
    while training, ``<run>/average``, when ``train.averaging`` made them), and soups."""
    models: dict[str, Path] = {}
    if recipe.base is not None:
        models["base"] = final_hf_dir(root / "base" / "run")
    elif recipe.model.get("init_from"):
        base = Path(recipe.model["init_from"])
        if (base / ".metadata").is_file():  # a DCP checkpoint: evaluate its HF export of the same step
            exported = base.parent.parent / "hf" / base.name
            base = exported if (exported / "config.json").is_file() else base
        models["base"] = base
    for name, spec in recipe.runs.items():
        for seed in spec.seeds:
            label = name if len(spec.seeds) == 1 else f"{name}/seed{seed}"
            models[label] = final_hf_dir(root / "runs" / name / f"seed{seed}")
            averaged = root / "runs" / name / f"seed{seed}" / "hf" / "average"  # train.averaging
            if (averaged / "config.json").is_file():
                models[f"{label}/average"] = averaged
        if recipe.average.get(name) and len(spec.seeds) > 1:
            models[f"{name}/soup"] = root / "runs" / name / "soup"
    return models


def _evaluate(recipe: RecipeConfig, root: Path, out: Path) -> list[Path]:
    from evaluation import EvalConfig, evaluate

    section = {"heldout_dir": str(root / "curate" / "heldout"), **recipe.eval}
    evaluate(evaluated_models(recipe, root), EvalConfig.model_validate(section), out)
    return [out / "eval.parquet", out / "report.md"]


def _report(recipe: RecipeConfig, root: Path, out: Path) -> list[Path]:
    from recipes.report import write_report

    return write_report(recipe, root, out)
