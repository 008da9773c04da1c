"""The recipe file: one YAML that drives the whole mid-training stage.

A recipe nests the stage configs (``curate``, ``tokenize``, ``eval`` are the stage packages' own
config models, validated by them) plus the parts only the runner knows: where data comes from,
the optional base run, and the mid-training runs to compare. Paths between stages (curated dir,
tokens dir, plan file, run dirs) are filled in by the runner, never by the user.

```yaml
name: my-anneal
scale: 1.0                 # multiplies corpus size and steps (toy on a laptop, real on a cluster)
data:
  demo_corpus: {scale: 1.0, seed: 0}   # or leave out and list sources under curate.sources
curate: {...}              # curation.CurationConfig (sources, filters, dedup, decontamination...)
tokenize: {...}            # training.TokenizeConfig
model: {...}               # training model config (init_from: HF folder, or tiny overrides)
base:                      # optional: pre-train a base before mid-training (the demo does)
  plan: {...}              # mixing.MixConfig
  train: {...}             # training.TrainConfig without paths
runs:                      # mid-training runs, each a plan + train config; compared in eval
  anneal: {plan: {...}, train: {...}, seeds: [0]}
average: {anneal: true}    # optional: average a run's seeds (soup) into one model
eval: {...}                # evaluation.EvalConfig without paths
```
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recipes.search_config import SearchSpec, check_search

STAGES = ("corpus", "curate", "tokenize", "base", "search", "plan", "train", "average", "eval", "report")


class DemoCorpusSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, gt=0, description="Multiplier on the demo corpus size (1.0 ~ 4 MB).")
    seed: int = Field(0, description="Seed of the corpus generator.")
    instruction: bool = Field(
        False,
        description="Also write `math_instruct`, math problems as prompt/response pairs curated as an "
        "instruction source (train it with data.loss_mask: {math_instruct: response}).",
    )


class DataSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    demo_corpus: DemoCorpusSpec | None = Field(
        None, description="Build the embedded demo corpus and use it as the sources."
    )


class SlurmLauncherSpec(BaseModel):
    """Submit the training run as one Slurm job: ``nnodes`` nodes, one torchrun agent per node.

    The run folder must be on a filesystem every node sees (the job reads its config there and
    writes checkpoints, metrics and ``slurm-<job id>.out`` there).
    """

    model_config = ConfigDict(extra="forbid")
    partition: str | None = Field(None, description="#SBATCH --partition; default: the cluster's.")
    account: str | None = Field(None, description="#SBATCH --account to charge.")
    qos: str | None = Field(None, description="#SBATCH --qos.")
    time: str | None = Field(
        None,
        description="Wall-time limit, Slurm's format: '12:00:00', '2-00:00:00' or minutes; "
        "default: the partition's. A job that hits it resumes from its last checkpoint on rerun.",
    )
    gpus_per_node: int | None = Field(
        None,
        ge=0,
        description="#SBATCH --gpus-per-node; default: nproc_per_node (one GPU per rank). 0 asks for "
        "none (CPU nodes, or GPUs that come with the partition).",
    )
    cpus_per_task: int | None = Field(None, ge=1, description="CPU cores per node (one task per node).")
    mem: str | None = Field(None, description="Memory per node, e.g. '200G'; '0' is all of it.")
    sbatch_args: list[str] = Field(
        default_factory=list,
        description="Extra #SBATCH options, e.g. ['--exclusive', '--constraint=h100']; written after "
        "midtrain's own, so they override them.",
    )
    setup: list[str] = Field(
        default_factory=list,
        description="Shell lines the job runs before srun (under set -euo pipefail), e.g. "
        "['module load cuda/12.4', 'source .venv/bin/activate'].",
    )
    python: str | None = Field(
        None, description="Python on the compute nodes; default: the interpreter running midtrain."
    )
    rdzv_port: int = Field(29500, ge=1, le=65535, description="Rendezvous port on the job's first node.")
    sbatch: str = Field(
        "sbatch", description="The sbatch command (squeue/scancel are taken from its folder)."
    )

    @field_validator("time", mode="before")
    @classmethod
    def _quoted_time(cls, time: Any) -> Any:
        # YAML 1.1 reads an unquoted 12:00:00 as the base-60 integer 43200: refuse every number
        # rather than guess whether it meant minutes or a mangled clock time.
        if isinstance(time, int | float):
            raise ValueError(
                "write the time limit as a quoted string, e.g. time: '12:00:00' or time: '720' "
                "(minutes); unquoted YAML turns 12:00:00 into the number 43200"
            )
        return time

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, time: str | None) -> str | None:
        if time is not None and not re.fullmatch(r"\d+(-\d+)?(:\d+){0,2}", time):
            raise ValueError("a Slurm time limit like '12:00:00', '2-00:00:00' or minutes")
        return time

    @field_validator("mem")
    @classmethod
    def _slurm_mem(cls, mem: str | None) -> str | None:
        if mem is not None and not re.fullmatch(r"\d+[KMGT]?", mem):
            raise ValueError("a Slurm memory size like '200G', '64000M' or '0' (all of the node's)")
        return mem

    @field_validator("sbatch_args")
    @classmethod
    def _options(cls, args: list[str]) -> list[str]:
        for arg in args:
            if not arg.startswith("-"):
                raise ValueError(f"each entry is an sbatch option starting with '-', got {arg!r}")
        return args


class LauncherSpec(BaseModel):
    """How a training run is started: in this process, under torchrun here, or as a Slurm job."""

    model_config = ConfigDict(extra="forbid")
    nproc_per_node: int = Field(1, ge=1, description="Processes (ranks) per node; >1 launches torchrun.")
    nnodes: int = Field(
        1,
        ge=1,
        description="Nodes; >1 needs slurm (one job starts them all) or rdzv_endpoint (you start them).",
    )
    rdzv_endpoint: str | None = Field(
        None, description="host:port of the rendezvous when you start the other nodes yourself (no slurm)."
    )
    torchrun_args: list[str] = Field(default_factory=list, description="Extra torchrun arguments.")
    slurm: SlurmLauncherSpec | None = Field(
        None, description="Submit training as one Slurm job of nnodes nodes (see SlurmLauncherSpec)."
    )

    @model_validator(mode="after")
    def _nodes_reachable(self) -> LauncherSpec:
        if self.nnodes > 1 and self.slurm is None and not self.rdzv_endpoint:
            raise ValueError(
                f"nnodes: {self.nnodes} needs slurm: {{...}} (one job starts every node) or rdzv_endpoint: "
                "host:port (you start the other nodes yourself)"
            )
        if self.slurm is not None and self.rdzv_endpoint:
            warnings.warn(
                "launcher.rdzv_endpoint has no effect with launcher.slurm: the job's first node hosts the "
                "rendezvous on slurm.rdzv_port",
                stacklevel=2,
            )
        return self

    @property
    def in_process(self) -> bool:
        """One rank on this node and no Slurm: train in the runner's own process."""
        return self.nproc_per_node == 1 and self.nnodes == 1 and self.slurm is None


class TrainRunSpec(BaseModel):
    """One training run: the mixture it follows and how it trains."""

    model_config = ConfigDict(extra="forbid")
    plan: dict[str, Any] = Field(description="mixing.MixConfig for this run (phases, floor, ...).")
    train: dict[str, Any] = Field(default_factory=dict, description="training.TrainConfig minus paths.")
    seeds: list[int] = Field(default_factory=lambda: [0], description="Data orders; >1 makes a soup.")
    init: Literal["base", "model", "scratch"] = Field(
        "base",
        description="Start from 'base' (the base run's final export), 'model' (model.init_from: an HF "
        "folder, a DCP checkpoint or a hub name) or 'scratch' (a fresh model).",
    )
    launcher: LauncherSpec = Field(
        default_factory=LauncherSpec, description="In-process, under torchrun, or as a Slurm job."
    )

    @field_validator("seeds")
    @classmethod
    def _some_seed(cls, seeds: list[int]) -> list[int]:
        if not seeds:
            raise ValueError("must list at least one seed")
        return seeds


class RecipeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Recipe name, shown in reports.")
    description: str = ""
    scale: float = Field(1.0, gt=0, description="Multiplies corpus size and training steps.")
    data: DataSpec = Field(default_factory=DataSpec)
    curate: dict[str, Any] = Field(default_factory=dict, description="curation.CurationConfig.")
    tokenize: dict[str, Any] = Field(default_factory=dict, description="training.TokenizeConfig.")
    model: dict[str, Any] = Field(default_factory=dict, description="Model section of TrainConfig.")
    base: TrainRunSpec | None = Field(None, description="Optional base run before mid-training.")
    runs: dict[str, TrainRunSpec] = Field(description="Mid-training runs by name.")
    average: dict[str, bool] = Field(default_factory=dict, description="Run name -> average its seeds.")
    search: SearchSpec | None = Field(
        None, description="Mixture search for one run: proxies, a fitted mixture law, the proposal."
    )
    eval: dict[str, Any] = Field(default_factory=dict, description="evaluation.EvalConfig minus paths.")
    claims: bool = Field(False, description="Check the demo's mid-training claims in the report.")
    profile: str | None = Field(None, description="Name of the profile applied (see `profiles`).")
    profiles: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named overrides merged over the recipe when `profile` names one, e.g. a `toy` "
        "profile that swaps the real sources and model for the demo corpus and a tiny model.",
    )

    @field_validator("runs")
    @classmethod
    def _some_run(cls, runs: dict) -> dict:
        if not runs:
            raise ValueError("must name at least one run")
        return runs


def format_validation_error(error: ValidationError, *, where: str) -> str:
    """``where: key.path: message, got value`` for the first error (the one to fix first)."""
    first = error.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(top level)"
    got = first.get("input")
    got_text = "" if isinstance(got, dict | list) or got is None else f", got {got!r}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(error.errors()) - 1
    return f"{where}: {path}: {message}{got_text}" + (f" (and {more} more)" if more else "")


def load_recipe(path: str | Path, *, overrides: list[str] = ()) -> RecipeConfig:
    """Read a recipe YAML (or a preset name), apply ``key=value`` overrides and validate it."""
    from recipes.overrides import apply_overrides
    from recipes.presets import resolve_preset

    path = resolve_preset(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a recipe must be a mapping at the top level")
    raw = apply_overrides(unshared(raw), overrides)
    raw = apply_profile(raw, where=str(path))
    return validate_recipe(raw, where=str(path))


def unshared(node: Any) -> Any:
    """A copy in which no two places hold the same dict or list.

    YAML anchors load as one Python object wherever they are used (``train: *anneal_train``, and
    the nested mappings under ``<<: *train``), so ``--set runs.no-replay.train.optimizer.lr=...``
    would also change every other run and the base run (and their stage keys) without this.
    ``copy.deepcopy`` keeps such sharing, hence the plain rebuild.
    """
    if isinstance(node, dict):
        return {key: unshared(value) for key, value in node.items()}
    if isinstance(node, list):
        return [unshared(value) for value in node]
    return node


def apply_profile(raw: dict, *, where: str) -> dict:
    """Merge ``profiles[profile]`` over the recipe: mappings merge key by key, a null deletes a key."""
    name = raw.get("profile")
    if name is None:
        return raw
    profiles = raw.get("profiles") or {}
    if name not in profiles:
        raise ValueError(f"{where}: profile: no profile {name!r} (profiles: {', '.join(profiles) or 'none'})")
    return _deep_merge(raw, profiles[name])


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate_recipe(raw: dict, *, where: str = "recipe") -> RecipeConfig:
    try:
        recipe = RecipeConfig.model_validate(raw)
    except ValidationError as error:
        raise ValueError(format_validation_error(error, where=where)) from None
    from recipes.validate import validate_sections

    validate_sections(recipe, where=where)
    check_search(recipe, where=where)
    return recipe
