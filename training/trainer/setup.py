"""Everything checked and built before the first step: plan, shards, tokenizer, model, optimizer, loader.

Bad input fails here, before any compute, with the file or key at fault.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import torch

from training.config import TrainConfig
from training.init_source import InitSource, resolve_init
from training.schema import check_plan_columns


@dataclass(frozen=True)
class PlanInfo:
    frame: pl.DataFrame
    max_steps: int  # from the plan's tokens / global batch (or the config's override)
    phase_starts: list[int]  # first optimizer step of each phase
    seq_lens: list[int]  # per phase


def read_plan_info(config: TrainConfig) -> PlanInfo:
    path = Path(config.plan_path)
    if not path.is_file():
        raise FileNotFoundError(f"plan_path: {path} does not exist; run `midtrain plan` first")
    frame = pl.read_parquet(path)
    check_plan_columns(frame, where=str(path))
    phases = (
        frame.group_by("phase")
        .agg(
            pl.col("seq_len").first(),
            pl.col("seq_len").n_unique().alias("n_seq_len"),
            pl.col("num_sequences").sum(),
        )
        .sort("phase")
    )
    bad = phases.filter(pl.col("n_seq_len") > 1)
    if bad.height:
        raise ValueError(f"{path}: phase(s) {bad['phase'].to_list()} mix several seq_len values")
    tokens = (phases["num_sequences"] * phases["seq_len"]).to_list()
    starts, acc = [], 0
    for t in tokens:
        starts.append(acc // config.global_batch_tokens)
        acc += t
    max_steps = config.max_steps or acc // config.global_batch_tokens
    if max_steps < 1:
        raise ValueError(
            f"{path}: the plan holds {acc} tokens, less than one global batch "
            f"(global_batch_tokens={config.global_batch_tokens})"
        )
    return PlanInfo(frame, max_steps, starts, phases["seq_len"].to_list())


def check_batch_geometry(config: TrainConfig, seq_lens: list[int], world_size: int) -> None:
    for seq_len in sorted(set(seq_lens)):
        unit = config.micro_batch_size * seq_len * world_size
        if config.global_batch_tokens % unit:
            raise ValueError(
                f"global_batch_tokens: {config.global_batch_tokens} is not a multiple of "
                f"micro_batch_size * seq_len * ranks = {config.micro_batch_size} * {seq_len} * {world_size} "
                f"= {unit}; use e.g. {max(1, round(config.global_batch_tokens / unit)) * unit}"
            )


def check_shards(tokens_dir: Path, plan: pl.DataFrame) -> None:
    if not tokens_dir.is_dir():
        raise FileNotFoundError(f"tokens_dir: {tokens_dir} does not exist; run `midtrain tokenize` first")
    sources = plan.filter(pl.col("num_sequences") > 0)["source"].unique().sort().to_list()
    missing = [s for s in sources if not any((tokens_dir / s).glob("*.ds"))]
    if missing:
        raise FileNotFoundError(
            f"{tokens_dir}: no token shards (<source>/*.ds) for plan source(s) {missing}; "
            "tokenize them with `midtrain tokenize` or drop them from the plan"
        )
    for s in sources:
        for shard in (tokens_dir / s).glob("*.ds"):
            if not Path(f"{shard}.index").is_file():
                raise FileNotFoundError(
                    f"{shard}: its index {shard.name}.index is missing (interrupted tokenize?)"
                )


def tokenizer_vocab_size(tokens_dir: Path) -> int | None:
    path = tokens_dir / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path)).get_vocab_size(with_added_tokens=True)


def check_vocab(
    tokenizer_vocab: int | None,
    model_vocab: int,
    loader: Any,
    *,
    tokens_dir: Path | str = "tokens",
    init: InitSource | None = None,
) -> None:
    """The shards' tokenizer must fit the model's embeddings and, when starting from a checkpoint
    that ships a tokenizer, be that tokenizer (same ids for the same text)."""
    tokens_tok = Path(tokens_dir) / "tokenizer.json"
    if tokenizer_vocab is not None and tokenizer_vocab > model_vocab:
        raise ValueError(
            f"{tokens_tok} has {tokenizer_vocab} tokens but the model's embeddings hold "
            f"{model_vocab}; use a model whose vocab_size >= {tokenizer_vocab} (or re-tokenize)"
        )
    if init is not None and init.kind == "hf" and tokens_tok.is_file():
        init_tok = Path(init.location) / "tokenizer.json"
        if init_tok.is_file() and _vocab(init_tok) != _vocab(tokens_tok):
            raise ValueError(
                f"{tokens_tok}: the shards were made with a different tokenizer than {init.key}'s "
                f"({init_tok}); re-tokenize with tokenizer: {init_tok}"
            )
    if hasattr(loader, "check_vocab"):
        loader.check_vocab(model_vocab)


def _vocab(path: Path) -> dict[str, int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path)).get_vocab(with_added_tokens=True)


def init_source(config: TrainConfig) -> InitSource | None:
    """Where the starting weights come from: model.init_from, or the older scheduler.anneal_from."""
    if config.scheduler.anneal_from:
        return resolve_init(config.scheduler.anneal_from, key="scheduler.anneal_from")
    if config.model.init_from:
        return resolve_init(config.model.init_from)
    return None


def start_lr(config: TrainConfig, init: InitSource | None) -> float:
    """The schedule's peak: for kind 'anneal' start_lr / peak_lr, else the checkpoint's recorded LR."""
    sched = config.scheduler
    if sched.kind != "anneal":
        if sched.start_lr is not None:
            warnings.warn(
                f"scheduler.start_lr has no effect with kind {sched.kind!r} (use peak_lr)", stacklevel=2
            )
        return sched.peak_lr or config.optimizer.lr
    explicit = sched.start_lr or sched.peak_lr
    if explicit:
        return explicit
    recorded = init.recorded_lr if init is not None else None
    if recorded:
        return recorded
    where = (
        f"{init.location} records {'LR 0' if recorded == 0 else 'no LR'}" if init else "no init checkpoint"
    )
    raise ValueError(
        f"scheduler.start_lr: kind 'anneal' needs a starting LR and {where}; set scheduler.start_lr, "
        "or start from a midtrain checkpoint that records its LR (model.init_from: RUN/hf/step_N "
        "with midtrain_state.json, or RUN/checkpoints/step_N)"
    )


def file_digest(path: Path) -> str | None:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None


LoaderFactory = Callable[..., Any]


def resolve_curriculum(config: TrainConfig, plan: pl.DataFrame) -> dict[str, Any]:
    """The loader's curriculum options from ``data.curriculum`` and the plan (plan.json's
    ``curriculum.within_phase`` / ``descending``; 'auto' is on when the plan's ``tier`` is filled)."""
    meta_path = Path(config.plan_path).with_name("plan.json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    planned = (meta.get("config") or {}).get("curriculum") or {}
    within = planned.get("within_phase", "none")
    has_tiers = "tier" in plan.columns and plan["tier"].null_count() < plan.height
    mode = config.data.curriculum
    if mode == "auto":
        mode = "documents" if within in ("difficulty", "quality") and has_tiers else "off"
    if mode == "off":
        return {}
    key = within if within in ("difficulty", "quality") else "difficulty"
    return {
        "curriculum": mode,
        "curriculum_key": key,
        "curriculum_descending": bool(planned.get("descending")),
    }


def make_loader(config: TrainConfig, plan: pl.DataFrame, *, rank: int, world_size: int, factory=None):
    if factory is None:
        from training.data import PlanLoader as factory  # the data side (imported lazily)
    return factory(
        config.tokens_dir,
        plan,
        micro_batch_size=config.micro_batch_size,
        dp_rank=rank,
        dp_world_size=world_size,
        seed=config.seed,
        **resolve_curriculum(config, plan),
        **resolve_position_ids(config, plan),
        **({"loss_mask": dict(config.data.loss_mask)} if config.data.loss_mask else {}),
    )


def resolve_position_ids(config: TrainConfig, plan: pl.DataFrame) -> dict[str, Any]:
    """The loader's ``position_ids`` (per plan phase) from ``data.position_ids`` and
    ``data.position_ids_by_phase``; nothing when all phases keep the default (custom loaders)."""
    data = config.data
    phases = sorted(plan["phase"].unique().to_list())
    unknown = sorted(set(data.position_ids_by_phase) - set(phases))
    if unknown:
        raise ValueError(
            f"data.position_ids_by_phase: phase(s) {unknown} are not in {config.plan_path} (phases {phases})"
        )
    modes = {p: data.position_ids_by_phase.get(p, data.position_ids) for p in phases}
    if all(m == "document" for m in modes.values()):
        return {}
    return {"position_ids": modes}


def build_optimizer(model: torch.nn.Module, config: TrainConfig, *, lr: float) -> torch.optim.Optimizer:
    """AdamW; no weight decay on vectors (norm weights, biases)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    opt = config.optimizer
    groups = [{"params": decay, "weight_decay": opt.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused: one kernel per parameter group instead of a Python loop over parameters (CPU and GPU)
    return torch.optim.AdamW(groups, lr=lr, betas=opt.betas, eps=opt.eps, fused=True)


def package_versions_and_commit(
    packages: tuple[str, ...] = ("midtrain", "torch", "transformers", "datatrove", "polars"),
) -> tuple[dict, str | None]:
    """Installed versions of ``packages`` and the git commit of this checkout (None outside git)."""
    import subprocess
    from importlib import metadata

    versions = {}
    for pkg in packages:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(__file__).parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return versions, commit


def write_run_record(config: TrainConfig, run_dir: Path, extra: dict[str, Any]) -> Path:
    """RUN/config.json: the resolved config, package versions and git commit."""
    versions, commit = package_versions_and_commit()
    record = {
        "config": json.loads(config.model_dump_json()),
        "versions": versions,
        "git_commit": commit,
        **extra,
    }
    path = run_dir / "config.json"
    path.write_text(json.dumps(record, indent=2))
    return path
