"""The train config: one pydantic model per component, nested into `TrainConfig` (loadable from YAML).

Unknown keys and bad values fail at load time with the key's path
(`scheduler.decay_fraction: Input should be less than or equal to 1`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RopeConfig(_Strict):
    """RoPE change for long-context training; written into `config.rope_parameters` before loading."""

    rope_type: Literal["default", "linear", "dynamic", "yarn", "llama3", "longrope"] = Field(
        "default", description="transformers rope_type; 'default' with a new theta is ABF"
    )
    rope_theta: float | None = Field(None, gt=0, description="base frequency (ABF raises it, e.g. 500000)")
    factor: float | None = Field(None, gt=0, description="context extension factor (linear, yarn, llama3)")
    original_max_position_embeddings: int | None = Field(
        None, gt=0, description="context length (tokens) the model was pretrained at"
    )
    max_position_embeddings: int | None = Field(
        None, gt=0, description="new maximum sequence length in tokens; defaults to original * factor"
    )
    extra: dict[str, Any] = Field(
        default_factory=dict, description="other rope_parameters keys (beta_fast, low_freq_factor, ...)"
    )


class ModelConfig(_Strict):
    """Which causal LM to train: a local HF folder, a config.json, or the tiny Llama factory."""

    init_from: str | None = Field(
        None,
        description="weights to start from: a local HF folder (save_pretrained, RUN/hf/step_N), a midtrain "
        "DCP checkpoint (RUN/checkpoints/step_N, with optimizer state) or a hub name (online only)",
    )
    load_optimizer: bool = Field(
        True,
        description="load the optimizer state of a DCP init_from (an HF folder has none: the optimizer "
        "starts fresh; use scheduler.warmup_steps for a short re-warm)",
    )
    config_from: str | None = Field(None, description="HF config folder/JSON to build a fresh model from")
    tiny: dict[str, Any] | None = Field(
        None, description="overrides for training.models.tiny_llama_config (used when no path is given)"
    )
    rope: RopeConfig | None = Field(None, description="RoPE change (ABF, linear, YaRN, llama3)")
    attn_implementation: str = Field("sdpa", description="transformers attention backend")

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if self.init_from and self.config_from:
            raise ValueError("model: give init_from or config_from, not both")
        return self


class OptimizerConfig(_Strict):
    lr: float = Field(3e-4, gt=0, description="peak learning rate (overridden by scheduler.peak_lr)")
    betas: tuple[float, float] = Field((0.9, 0.95), description="AdamW betas")
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.1, ge=0, description="decoupled weight decay (not applied to norms/biases)")
    clip: float | None = Field(1.0, gt=0, description="max global grad norm; null disables clipping")


class SchedulerConfig(_Strict):
    kind: Literal["constant", "cosine", "wsd", "linear", "anneal"] = Field(
        "wsd", description="LR shape; 'linear' decays to final_lr from the end of warmup"
    )
    warmup_steps: int = Field(0, ge=0, description="linear warmup (or re-warm) length in optimizer steps")
    warmup_start_lr: float = Field(0.0, ge=0, description="LR at step 0 of the warmup (re-warm from here)")
    decay_fraction: float = Field(0.2, gt=0, le=1, description="WSD: fraction of the steps spent decaying")
    decay_shape: Literal["linear", "cosine", "1-sqrt", "exponential"] = Field("linear")
    peak_lr: float | None = Field(None, gt=0, description="peak LR; defaults to optimizer.lr")
    start_lr: float | None = Field(
        None,
        gt=0,
        description="anneal: LR at the start of the anneal; default: the LR recorded with the init "
        "checkpoint (midtrain_state.json / trainer_state.json)",
    )
    final_lr: float = Field(0.0, ge=0, description="LR at the last step")
    align_decay_to_last_phase: bool = Field(
        False, description="WSD: start the decay at the first step of the plan's last phase"
    )
    anneal_from: str | None = Field(
        None,
        description="checkpoint to anneal from (same forms as model.init_from, which it replaces): "
        "starts at its recorded LR (or start_lr / peak_lr) and decays to final_lr over the budget (OLMo 2)",
    )


class DataConfig(_Strict):
    """How the loader orders what the plan gives it."""

    curriculum: Literal["auto", "off", "documents", "sources"] = Field(
        "auto",
        description="within-phase curriculum: 'documents' streams each source's documents easiest first "
        "(shard difficulty written by tokenize) while sources stay interleaved by the greedy blend; "
        "'sources' also streams the sources one after another in the plan's order; 'auto' is "
        "'documents' when the plan has a curriculum (its tier column) and 'off' otherwise",
    )
    position_ids: Literal["document", "sequence"] = Field(
        "document",
        description="packing: 'document' restarts position ids at each document start (attention stays "
        "inside each document); 'sequence' runs them 0..seq_len-1 across the packed sequence (plain "
        "causal attention over neighbouring documents)",
    )
    position_ids_by_phase: dict[int, Literal["document", "sequence"]] = Field(
        default_factory=dict, description="per plan phase override of position_ids, e.g. {2: sequence}"
    )
    loss_mask: dict[str, Literal["all", "response"]] = Field(
        default_factory=dict,
        description="per source: 'response' trains only on the response tokens of instruction records "
        "(the *.ds.mask tokenize writes for prompt/response and messages records); 'all' (default) on every token",
    )


class WandbConfig(_Strict):
    """Weights & Biases run (the `wandb` package: `pip install midtrain[wandb]`)."""

    project: str = Field("midtrain", description="W&B project")
    entity: str | None = Field(None, description="W&B team or user; default: the logged-in user's")
    name: str | None = Field(None, description="run name; default: the run_dir's folder name")
    group: str | None = Field(None, description="W&B group (e.g. the seeds of one soup)")
    tags: list[str] = Field(default_factory=list, description="W&B tags")
    mode: Literal["offline", "online", "disabled"] = Field(
        "offline", description="offline writes RUN/wandb/ only (`wandb sync` uploads it later)"
    )


class TrackingConfig(_Strict):
    """Experiment trackers fed the same values as metrics.jsonl (and the resolved config)."""

    tensorboard: bool = Field(False, description="write TensorBoard event files to RUN/tensorboard/")
    wandb: WandbConfig | None = Field(None, description="log to Weights & Biases (null: off)")


class AveragingConfig(_Strict):
    """Weights averaged while training, exported as their own HF model (RUN/hf/average)."""

    last_steps: int | Literal["decay"] = Field(
        description="average the weights after each of the last N optimizer steps; 'decay' = the "
        "scheduler's decay window (WSD decay, or the whole run for linear/cosine/anneal)"
    )
    every_steps: int = Field(1, gt=0, description="take one snapshot every K steps of the window")
    ema_decay: float | None = Field(
        None, gt=0, lt=1, description="exponential moving average over the window instead of a uniform mean"
    )

    @model_validator(mode="after")
    def _positive(self) -> AveragingConfig:
        if isinstance(self.last_steps, int) and self.last_steps < 1:
            raise ValueError(f"averaging.last_steps: must be >= 1 or 'decay', got {self.last_steps}")
        return self


class CheckpointConfig(_Strict):
    every_steps: int | None = Field(None, gt=0, description="DCP checkpoint interval in steps")
    keep_last: int = Field(2, ge=1, description="how many step_N checkpoints to keep")
    export_hf_steps: list[int] = Field(default_factory=list, description="steps to export RUN/hf/step_N at")
    resume: bool = Field(True, description="resume from the newest RUN/checkpoints/step_N when present")
    async_save: bool = Field(False, description="save with dcp.async_save (training continues)")
    final_export: bool = Field(True, description="export RUN/hf/step_<last> at the end")


class ParallelConfig(_Strict):
    activation_checkpointing: bool = Field(False, description="recompute each block in backward")
    compile: bool = Field(False, description="torch.compile each decoder block")
    fsdp_per_block: bool | None = Field(
        None, description="fully_shard each decoder block (then the root); default: True unless single rank"
    )
    reshard_after_forward: bool | None = Field(
        None, description="FSDP2 reshard after forward; default: True unless single rank"
    )


class TrainConfig(_Strict):
    """Everything `train()` needs. max_steps defaults to the plan's sequences / global batch."""

    run_dir: Path = Field(description="output folder (checkpoints/, hf/, metrics.jsonl, plots)")
    tokens_dir: Path = Field(description="tokens/ written by `midtrain tokenize`")
    plan_path: Path = Field(description="plan.parquet written by `midtrain plan`")
    model: ModelConfig = Field(default_factory=ModelConfig)
    micro_batch_size: int = Field(8, gt=0, description="sequences per forward pass per rank")
    global_batch_tokens: int = Field(65536, gt=0, description="tokens per optimizer step over all ranks")
    max_steps: int | None = Field(None, gt=0, description="optimizer steps; default from the plan")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    averaging: AveragingConfig | None = Field(None, description="average weights while training (null: off)")
    seed: int = Field(0, description="model init, data order and RNG seed")
    log_every: int = Field(10, gt=0, description="steps between metrics.jsonl lines")
    device: Literal["auto", "cpu", "cuda"] = Field("auto")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="compute dtype: auto = bf16 params/fp32 reduce on GPU, fp32 on CPU"
    )
    peak_flops: float | None = Field(
        None, gt=0, description="device peak FLOP/s for MFU; default: known GPUs, 1e11 on CPU"
    )
    progress: bool = Field(True, description="show a progress bar")

    @model_validator(mode="after")
    def _one_init(self) -> TrainConfig:
        if self.scheduler.anneal_from and (self.model.init_from or self.model.config_from):
            raise ValueError(
                "scheduler.anneal_from: it already sets the starting weights; drop model.init_from / "
                "model.config_from (or drop anneal_from and set scheduler.kind: anneal)"
            )
        return self

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no train config here")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        data.update(overrides)
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
            raise ValueError(f"{path}: invalid train config: " + "; ".join(lines)) from None
