"""Validate every stage section of a recipe with the stage's own config, before anything runs.

The runner fills in the paths between stages, so validation uses placeholders for them; any
other problem is reported with the full key path inside the recipe
(``runs.anneal.train.scheduler.decay_fraction: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from recipes.config import RecipeConfig, format_validation_error

_PLACEHOLDER = "/nonexistent/filled-in-by-the-runner"


def _check(model: type[BaseModel], section: dict[str, Any], *, prefix: str, where: str) -> None:
    try:
        model.model_validate(section)
    except ValidationError as error:
        raise ValueError(_prefixed(error, prefix, where)) from None


def _prefixed(error: ValidationError, prefix: str, where: str) -> str:
    text = format_validation_error(error, where="@")
    return f"{where}: {prefix}." + text.removeprefix("@: ")


def train_section(recipe: RecipeConfig, spec_train: dict[str, Any]) -> dict[str, Any]:
    """A run's TrainConfig dict: the recipe-wide model section under the run's own settings."""
    section = {"run_dir": _PLACEHOLDER, "tokens_dir": _PLACEHOLDER, "plan_path": _PLACEHOLDER}
    section.update(spec_train)
    if recipe.model and "model" not in spec_train:
        section["model"] = recipe.model
    return section


def validate_sections(recipe: RecipeConfig, *, where: str) -> None:
    from curation import CurationConfig
    from evaluation import EvalConfig
    from mixing import MixConfig
    from training import TokenizeConfig, TrainConfig

    curate = dict(recipe.curate)
    if recipe.data.demo_corpus is not None:
        curate.setdefault("sources", [{"name": "placeholder", "path": _PLACEHOLDER}])
    elif not curate.get("sources"):
        raise ValueError(f"{where}: curate.sources: list at least one source, or set data.demo_corpus")
    _check(CurationConfig, curate, prefix="curate", where=where)
    _check(TokenizeConfig, recipe.tokenize, prefix="tokenize", where=where)
    runs = dict(recipe.runs)
    if recipe.base is not None:
        runs = {"base": recipe.base, **runs}
    for name, spec in runs.items():
        prefix = "base" if spec is recipe.base else f"runs.{name}"
        _check(MixConfig, spec.plan, prefix=f"{prefix}.plan", where=where)
        _check(TrainConfig, train_section(recipe, spec.train), prefix=f"{prefix}.train", where=where)
        if spec.init == "base" and recipe.base is None and spec is not recipe.base:
            raise ValueError(
                f"{where}: {prefix}.init: 'base' needs a base section (or use 'model' / 'scratch')"
            )
        if spec.init == "model" and not recipe.model.get("init_from"):
            raise ValueError(
                f"{where}: {prefix}.init: 'model' needs model.init_from (an HF folder, a DCP checkpoint "
                "or a hub name)"
            )
    for name in recipe.average:
        if name not in recipe.runs:
            raise ValueError(f"{where}: average.{name}: no run of that name (runs: {', '.join(recipe.runs)})")
    _check(EvalConfig, {"heldout_dir": _PLACEHOLDER, **recipe.eval}, prefix="eval", where=where)


def missing_paths(recipe: RecipeConfig) -> list[tuple[str, str]]:
    """(key path, path) for every input path the recipe names that does not exist.

    Paths the runner fills in, hub names and a demo corpus (built by the run) are not checked.
    """
    import glob

    missing: list[tuple[str, str]] = []
    if recipe.data.demo_corpus is None:
        for i, source in enumerate(recipe.curate.get("sources") or []):
            path = str(source.get("path", ""))
            if source.get("format") == "hf_hub":
                continue
            if not (glob.glob(path) if any(c in path for c in "*?[") else Path(path).exists()):
                missing.append((f"curate.sources.{i}.path", path))
    init_from = recipe.model.get("init_from")
    if init_from and not Path(init_from).exists() and _looks_local(init_from):
        missing.append(("model.init_from", init_from))
    tokenizer = recipe.tokenize.get("tokenizer")
    if tokenizer and tokenizer.endswith(".json") and not Path(tokenizer).exists():
        missing.append(("tokenize.tokenizer", tokenizer))
    for task in ("gsm8k", "humaneval", "mc"):
        for i, path in enumerate((recipe.eval.get(task) or {}).get("files") or []):
            if not Path(path).exists():
                missing.append((f"eval.{task}.files.{i}", str(path)))
    return missing


def _looks_local(location: str) -> bool:
    """A path rather than a hub name (``org/model``, only when online): hub names are checked when loaded."""
    import os

    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    return offline or location.startswith((".", "/", "~")) or location.count("/") != 1


def check_init_from(recipe: RecipeConfig) -> None:
    """An existing ``model.init_from`` must be an HF folder or a DCP checkpoint (one line otherwise)."""
    init_from = recipe.model.get("init_from")
    if init_from and Path(init_from).exists():
        from training.init_source import resolve_init

        resolve_init(init_from)
