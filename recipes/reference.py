"""Generate docs/recipe_reference.md: every recipe key with its type, default and meaning.

The reference is read off the config models themselves (the recipe's own and each stage's), so it
cannot drift from what `load_recipe` accepts; `tests/recipes/test_recipes_reference.py` fails
when the committed file is stale. Regenerate with::

    python -m recipes.reference > docs/recipe_reference.md
"""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

# The runner fills these in; a recipe never sets them.
RUNNER_KEYS = {"run_dir", "tokens_dir", "plan_path", "heldout_dir", "seed"}


def _sections() -> list[tuple[str, type[BaseModel], str]]:
    from curation import CurationConfig
    from evaluation import EvalConfig
    from mixing import MixConfig
    from recipes.config import DataSpec, LauncherSpec, RecipeConfig, TrainRunSpec
    from recipes.search_config import SearchSpec
    from training.config import ModelConfig, TrainConfig
    from training.tokenize import TokenizeConfig

    return [
        ("", RecipeConfig, "The top level of a recipe file."),
        ("data", DataSpec, "Where the raw data comes from."),
        ("curate", CurationConfig, "Curation (`curation.CurationConfig`)."),
        ("tokenize", TokenizeConfig, "Tokenization (`training.TokenizeConfig`)."),
        ("model", ModelConfig, "The model every run trains (`training.config.ModelConfig`)."),
        ("runs.<name>", TrainRunSpec, "One mid-training run (`base` has the same keys)."),
        ("runs.<name>.plan", MixConfig, "The run's mixture plan (`mixing.MixConfig`)."),
        (
            "runs.<name>.train",
            TrainConfig,
            "How the run trains (`training.TrainConfig`; its `model` section overrides the recipe's).",
        ),
        ("runs.<name>.launcher", LauncherSpec, "How the run is started."),
        (
            "search",
            SearchSpec,
            "Mixture search for one run: proxies, a fitted law, the proposal (docs/mixing_search.md).",
        ),
        ("eval", EvalConfig, "Evaluation (`evaluation.EvalConfig`)."),
    ]


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return " \\| ".join(repr(a) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(get_args(annotation)[0])
    if origin is not None:
        args = ", ".join(_type_name(a) for a in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "{...}"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    text = repr(value)
    return f"`{text}`" if len(text) <= 40 else f"`{text[:37]}...`"


def _models_in(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """Nested models a field holds: (suffix for the key path, model)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple) and args:
        return [("[]", m) for _, m in _models_in(args[0])]
    if origin is dict and len(args) == 2:
        return [(".<name>", m) for _, m in _models_in(args[1])]
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return [pair for a in args if a is not type(None) for pair in _models_in(a)]
    return []


def _rows(prefix: str, model: type[BaseModel], *, skip: set[str], stop: set[type]) -> list[tuple[str, ...]]:
    rows = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        key = f"{prefix}.{name}" if prefix else name
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append((f"`{key}`", _type_name(field.annotation), _default(field), description))
        for suffix, nested in _models_in(field.annotation):
            if nested not in stop:
                rows += _rows(key + suffix, nested, skip=set(), stop=stop | {nested})
    return rows


def generate() -> str:
    sections = _sections()
    documented = {model for _, model, _ in sections}
    lines = [
        "# Recipe reference",
        "",
        "<!-- Generated by `python -m recipes.reference > docs/recipe_reference.md`; do not edit. -->",
        "",
        "Every key a recipe YAML accepts, read off the config models. Keys the runner fills in "
        f"({', '.join(f'`{k}`' for k in sorted(RUNNER_KEYS))}) are left out. A key's path is "
        "what `--set` takes (`--set runs.anneal.train.scheduler.start_lr=3e-4`); `<name>` is a "
        "run (or source) name, `[]` an entry of a list. See docs/recipes.md for how the stages use them.",
        "",
    ]
    for prefix, model, intro in sections:
        title = prefix or "top level"
        lines += [f"## `{title}`", "", intro, "", "| key | type | default | meaning |", "|---|---|---|---|"]
        stop = documented - {model}
        # search.seed is the search's own (the sampled mixtures), not one the runner fills in
        skip = (RUNNER_KEYS if model.__name__ != "SearchSpec" else set()) | (
            {"model"} if model.__name__ == "TrainConfig" else set()
        )
        for row in _rows(prefix, model, skip=skip, stop=stop | {model}):
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(generate(), end="")
