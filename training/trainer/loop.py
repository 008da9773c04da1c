"""The trainer: `Trainer.build(config)` checks inputs and builds everything, `fit()` runs the loop.

Loss is the mean over every target token of the global batch (all micro batches, all ranks),
so the result does not depend on how the batch is split; FSDP2 averages gradients over ranks,
hence the `world_size / num_targets` scale on each micro batch's summed loss.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from training.config import TrainConfig
from training.long_context import check_seq_len
from training.models import build_model, count_params, resolve_model_config
from training.trainer import callbacks as cb
from training.trainer import metrics as mx
from training.trainer import setup
from training.trainer.checkpoint import Checkpointer, export_hf, latest_checkpoint, rng_state, set_rng_state
from training.trainer.parallel import all_reduce_sum, init_distributed, parallelize
from training.trainer.reshard import check_resume_world_size, loader_state
from training.trainer.schedules import build_schedule


def packed_logits(
    model, input_ids: torch.Tensor, position_ids: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """Logits of packed sequences with attention inside each document only.

    position_ids restart at 0 at each document start; with attention_mask=None and use_cache=False
    transformers turns them into a block-diagonal causal mask (SDPA / flash varlen).
    """
    input_ids = input_ids.to(device, non_blocking=True)
    position_ids = position_ids.to(device, non_blocking=True)
    return model(input_ids=input_ids, position_ids=position_ids, attention_mask=None, use_cache=False).logits


class NonFiniteLossError(RuntimeError):
    """Raised when a step's loss or gradient norm is NaN/inf; the last good state was checkpointed."""


@dataclass
class TrainResult:
    run_dir: Path
    final_hf_dir: Path | None
    metrics_path: Path
    final_step: int


class Trainer:
    def fit(self) -> TrainResult:
        for c in self.callbacks:
            c.on_train_start(self)
        batches = iter(self.loader)
        while self.step < self.max_steps:
            micro = self.next_micro_batches(batches)
            if not micro:
                break  # the data ran out before max_steps (warned in next_micro_batches)
            num_targets = all_reduce_sum(
                [float(sum((b.labels[:, 1:] != -100).sum() for b in micro))], self.dist
            )[0]
            lr = self.schedule.lr_at(self.step + 1)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            start = time.perf_counter()
            stats = dict.fromkeys(self.stat_keys, 0.0)  # same keys in the same order on every rank
            for i, batch in enumerate(micro):
                self.model.set_requires_gradient_sync(i == len(micro) - 1)  # one reduce-scatter per step
                token_loss, mask = self.token_losses(batch)
                (token_loss.sum() * self.dist.world_size / num_targets).backward()
                self.accumulate(stats, batch, token_loss.detach(), mask)
            grad_norm = self.clip_gradients()
            stats = dict(zip(stats, all_reduce_sum(list(stats.values()), self.dist), strict=True))
            loss = stats["sum/all"] / max(stats["count/all"], 1.0)
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                self.stop_on_non_finite(loss, grad_norm, micro)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            step_tokens = int(all_reduce_sum([float(sum(b.input_ids.numel() for b in micro))], self.dist)[0])
            self.tokens += step_tokens
            step_metrics = self.step_metrics(
                stats, loss, lr, grad_norm, micro, step_tokens, time.perf_counter() - start
            )
            for c in self.callbacks:
                c.on_step_end(self, step_metrics)
        self.max_steps = self.step  # a run cut short by the data ends where it stopped
        for c in self.callbacks:
            c.on_train_end(self)
        return TrainResult(self.run_dir, self.final_hf_dir, self.run_dir / "metrics.jsonl", self.step)

    # ---- pieces of a step -------------------------------------------------------------------

    def next_micro_batches(self, batches) -> list:
        """This rank's micro batches of one global batch (global_batch_tokens over all ranks).

        Ranks draw in lockstep and count tokens globally, so they always run the same number of
        forward/backward passes (FSDP collectives) even when a phase ends on a short micro batch.
        """
        micro, num_tokens = [], 0.0
        while num_tokens < self.config.global_batch_tokens:
            batch = next(batches, None)
            tokens, exhausted = all_reduce_sum(
                [0.0 if batch is None else float(batch.input_ids.numel()), float(batch is None)], self.dist
            )
            if exhausted:
                import warnings

                warnings.warn(
                    f"data ran out at step {self.step} of {self.max_steps}; stopping early", stacklevel=2
                )
                return []
            micro.append(batch)
            num_tokens += tokens
        return micro

    def token_losses(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token next-token losses [B, T] (0 where ignored) and the target mask."""
        logits = packed_logits(self.model, batch.input_ids, batch.position_ids, self.dist.device)
        # shift the labels, not the logits (no copy of the [B, T, vocab] tensor); last position has no target
        targets = F.pad(batch.labels.to(self.dist.device, non_blocking=True)[:, 1:], (0, 1), value=-100)
        losses = F.cross_entropy(
            logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="none"
        ).view_as(targets)
        return losses, targets != -100

    @staticmethod
    def accumulate(stats: dict[str, float], batch, token_loss: torch.Tensor, mask: torch.Tensor) -> None:
        row_sum, row_count = token_loss.sum(1).double().cpu().tolist(), mask.sum(1).cpu().tolist()
        for domain, s, n in zip(batch.domains, row_sum, row_count, strict=True):
            assert f"sum/{domain}" in stats, f"batch domain {domain!r} is not in the plan"
            for key in ("all", domain):
                stats[f"sum/{key}"] += s
                stats[f"count/{key}"] += n

    @property
    def stat_keys(self) -> list[str]:
        return [f"{kind}/{key}" for key in ["all", *self.domains] for kind in ("sum", "count")]

    def clip_gradients(self) -> float:
        params = [p for p in self.model.parameters() if p.grad is not None]
        clip = self.config.optimizer.clip
        norm = torch.nn.utils.clip_grad_norm_(
            params, clip if clip is not None else float("inf"), foreach=True
        )
        if hasattr(norm, "full_tensor"):
            norm = norm.full_tensor()
        return float(norm)

    def step_metrics(self, stats, loss, lr, grad_norm, micro, step_tokens, seconds) -> dict[str, Any]:
        seq_len = micro[0].input_ids.shape[1]
        tokens_per_s = step_tokens / max(seconds, 1e-9)
        flops = mx.flops_per_token(self.num_params_non_embedding, self.hf_config, seq_len)
        m: dict[str, Any] = {
            "step": self.step,
            "tokens": self.tokens,
            "loss": loss,
            "lr": lr,
            "grad_norm": grad_norm,
            "tokens_per_s": tokens_per_s,
            "phase": int(micro[-1].phase),
            "seq_len": seq_len,
            "mfu": flops * tokens_per_s / (self.peak_flops * self.dist.world_size),
            "memory_gb": mx.memory_gb(self.dist.device),
            "step_time_s": seconds,
        }
        for domain in self.domains:
            if stats[f"count/{domain}"] > 0:
                m[f"loss/{domain}"] = stats[f"sum/{domain}"] / stats[f"count/{domain}"]
        return m

    # ---- state ------------------------------------------------------------------------------

    def trainer_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "tokens": self.tokens,
            "lr": self.schedule.lr_at(max(self.step, 1)),
            "max_steps": self.max_steps,
            "world_size": self.dist.world_size,
            "peak_lr": self.peak_lr,
            "schedule": dataclasses.asdict(self.schedule),
            "seq_len": self.current_seq_len(),
            "plan_digest": self.plan_digest,
        }

    def current_seq_len(self) -> int:
        """seq_len of the phase the last step trained on (the first phase before any step)."""
        phase = sum(1 for start in self.phase_starts if start < max(self.step, 1)) - 1
        return int(self.seq_lens[max(phase, 0)])

    def export_state(self) -> dict[str, Any]:
        """What midtrain_state.json records beside an HF export (see trainer/export.py)."""
        config = self.hf_config
        checkpoint = self.run_dir / "checkpoints" / f"step_{self.step}"
        return {
            **self.trainer_state(),
            "max_position_embeddings": getattr(config, "max_position_embeddings", None),
            "rope_parameters": getattr(config, "rope_parameters", None),
            "checkpoint": str(checkpoint.resolve()) if checkpoint.is_dir() else None,
            "init": self.start_note,
        }

    def load_init_weights(self) -> str:
        """Load the starting weights of a DCP init (HF/hub weights are loaded by build_model);
        returns the line the run log shows."""
        init = self.init
        if init is None:
            return (
                "model: fresh init" if not self.config.model.config_from else "model: fresh init from config"
            )
        if init.kind != "dcp":
            return f"model: {init.kind} weights from {init.location}; optimizer: fresh (an HF folder holds no optimizer state)"
        with_optimizer = self.config.model.load_optimizer
        self.checkpointer.load(
            Path(init.location), self.model, self.optimizer, weights_only=True, with_optimizer=with_optimizer
        )
        optimizer = (
            f"loaded from {init.location}" if with_optimizer else "fresh (model.load_optimizer: false)"
        )
        return f"model: weights from DCP checkpoint {init.location}; optimizer: {optimizer}"

    def save_checkpoint(self) -> Path:
        extra = {"loader": loader_state(self.loader, self.dist), "rng": rng_state()}
        path = self.checkpointer.save(
            self.step, self.model, self.optimizer, extra=extra, trainer_state=self.trainer_state()
        )
        self.last_saved_step = self.step
        return path

    def export_hf(self) -> Path:
        out = self.run_dir / "hf" / f"step_{self.step}"
        return export_hf(
            self.model,
            out,
            self.dist,
            tokenizer_json=Path(self.config.tokens_dir) / "tokenizer.json",
            state=self.export_state(),
        )

    def stop_on_non_finite(self, loss: float, grad_norm: float, micro) -> None:
        """Checkpoint the weights and optimizer of the last good step and stop; the loader state
        saved is past the bad batch, so a resume skips it."""
        bad_sources = sorted({s for b in micro for s in b.sources})
        self.optimizer.zero_grad(set_to_none=True)
        path = self.save_checkpoint()
        self.checkpointer.wait()
        raise NonFiniteLossError(
            f"step {self.step + 1}: non-finite loss {loss} / grad norm {grad_norm} on a batch from "
            f"source(s) {bad_sources}; the last good state (after step {self.step}) is saved in {path} "
            "(resuming skips this batch; lower the LR or drop the source if it recurs)"
        )

    # ---- construction -----------------------------------------------------------------------

    @classmethod
    def build(cls, config: TrainConfig, *, loader_factory=None, callbacks=None) -> Trainer:
        self = cls()
        self.config, self.run_dir = config, Path(config.run_dir)
        self.dist = d = init_distributed(config.device)
        try:
            self._build(config, loader_factory, callbacks)
        except BaseException:
            from training.trainer.parallel import shutdown

            shutdown(d)
            raise
        return self

    def _build(self, config: TrainConfig, loader_factory, callbacks) -> None:
        d = self.dist
        plan = setup.read_plan_info(config)
        self.domains = sorted(plan.frame["domain"].unique().to_list())
        if loader_factory is None:
            setup.check_shards(Path(config.tokens_dir), plan.frame)
        world_note = check_resume_world_size(config, plan.seq_lens, d.world_size)  # names both sizes
        setup.check_batch_geometry(config, plan.seq_lens, d.world_size)
        self.max_steps, self.phase_starts = plan.max_steps, plan.phase_starts
        tok_vocab = setup.tokenizer_vocab_size(Path(config.tokens_dir))
        self.init = setup.init_source(config)
        peak_lr = setup.start_lr(config, self.init)  # a missing anneal LR fails here, before any build
        if tok_vocab is None and self.init is None and not config.model.config_from:
            raise FileNotFoundError(
                f"{config.tokens_dir}/tokenizer.json: needed to size the tiny model's vocab"
            )
        self.hf_config = resolve_model_config(config.model, vocab_size=tok_vocab or 0, init=self.init)
        for phase, seq_len in enumerate(plan.seq_lens):
            check_seq_len(self.hf_config, seq_len, where=f"{config.plan_path} phase {phase}")
        self.loader = setup.make_loader(
            config, plan.frame, rank=d.rank, world_size=d.world_size, factory=loader_factory
        )
        setup.check_vocab(
            tok_vocab, self.hf_config.vocab_size, self.loader, tokens_dir=config.tokens_dir, init=self.init
        )
        model = build_model(config.model, self.hf_config, seed=config.seed, init=self.init).to(d.device)
        self.num_params = count_params(model)
        self.num_params_non_embedding = count_params(model, exclude_embeddings=True)
        self.model = parallelize(model, d, config.parallel, dtype=config.dtype)
        self.optimizer = setup.build_optimizer(self.model, config, lr=config.optimizer.lr)
        self.checkpointer = Checkpointer(
            self.run_dir / "checkpoints",
            d,
            keep_last=config.checkpoint.keep_last,
            async_save=config.checkpoint.async_save,
        )
        self.step, self.tokens, self.last_saved_step, self.final_hf_dir = 0, 0, -1, None
        self.plan_digest = setup.file_digest(Path(config.plan_path))
        self.seq_lens = plan.seq_lens
        resume = latest_checkpoint(self.run_dir / "checkpoints") if config.checkpoint.resume else None
        if resume is not None:
            extra, state = self.checkpointer.load(resume, self.model, self.optimizer)
            self.loader.load_state_dict(extra["loader"])
            set_rng_state(extra["rng"])
            self.step, self.tokens, self.last_saved_step = state["step"], state["tokens"], state["step"]
            peak_lr = state.get("peak_lr") or peak_lr
            self.start_note = f"resumed from {resume} at step {self.step}"
            if world_note:
                self.start_note += f" ({world_note})"
        else:
            self.start_note = self.load_init_weights()
        curriculum = setup.resolve_curriculum(config, plan.frame)
        self.data_note = (
            f"data: curriculum {curriculum['curriculum']} by {curriculum['curriculum_key']}"
            + (" (hardest first)" if curriculum["curriculum_descending"] else " (easiest first)")
            if curriculum
            else "data: no curriculum (documents in seeded random order)"
        )
        if d.is_main:
            print(
                f"midtrain train: {self.start_note}; peak LR {peak_lr:.3g}; {self.data_note}",
                file=sys.stderr,
                flush=True,
            )
        self.peak_lr = peak_lr
        last_start = plan.phase_starts[-1] if len(plan.phase_starts) > 1 else None
        self.schedule = build_schedule(
            config.scheduler, max_steps=self.max_steps, peak_lr=peak_lr, last_phase_start_step=last_start
        )
        self.peak_flops = mx.device_peak_flops(d.device, config.peak_flops)
        self.callbacks = callbacks if callbacks is not None else default_callbacks(config)
        if d.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            setup.write_run_record(
                config,
                self.run_dir,
                {
                    "max_steps": self.max_steps,
                    "num_params": self.num_params,
                    "world_size": d.world_size,
                    "peak_lr": peak_lr,
                    "start": self.start_note,
                    "data": self.data_note,
                },
            )


def default_callbacks(config: TrainConfig | None = None) -> list[cb.Callback]:
    """The standard callbacks, plus the trackers (``tracking``) and the averager (``averaging``)
    the config asks for; the averager runs before CheckpointSaver so a checkpoint includes its step."""
    from training.trainer.averaging import WeightAverager
    from training.trainer.tracking import tracking_callbacks

    trackers = tracking_callbacks(config.tracking) if config is not None else []
    averager = [WeightAverager(config.averaging)] if config is not None and config.averaging else []
    return [
        cb.MetricsLogger(),
        *trackers,
        cb.ProgressBar(),
        *averager,
        cb.CheckpointSaver(),
        cb.HFExporter(),
        cb.Plotter(),
    ]


def train(config: TrainConfig, *, loader_factory=None, callbacks=None) -> TrainResult:
    """Build and fit; the process group is torn down afterwards when train() created it."""
    from training.trainer.parallel import shutdown

    trainer = Trainer.build(config, loader_factory=loader_factory, callbacks=callbacks)
    try:
        return trainer.fit()
    finally:
        shutdown(trainer.dist)
