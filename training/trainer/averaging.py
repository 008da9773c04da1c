"""Averaging while training: a running mean (or EMA) of the weights over the last steps of the run,
exported as its own HF model, RUN/hf/average, next to the final RUN/hf/step_N.

Selected in the train config::

    averaging: {last_steps: 200, every_steps: 10}   # snapshots after steps max-190, ..., max-10, max
    averaging: {last_steps: decay}                  # every step of the LR decay window (WSD decay)
    averaging: {last_steps: decay, ema_decay: 0.99} # an EMA over the window instead of a uniform mean

The window is the steps ``(max_steps - last_steps, max_steps]``; a snapshot is taken after each
step ``s`` of it with ``(max_steps - s) % every_steps == 0`` (so the final weights are always one).
The mean is kept in fp32 on each rank's own FSDP shard (one extra copy of the sharded weights,
no communication), updated in place with ``lerp`` (mean: weight 1/n; EMA: 1 - ema_decay). It is
saved with every DCP checkpoint inside the window, as DTensors in RUN/checkpoints/average/step_N,
so a resumed run (also on another world size) continues the same average. OLMo-core's
``ModelMergeCallback`` and the WSM merges (Megatron PR #5114) are the same idea.

The export is the run's final export with the averaged weights swapped in (same tokenizer, config
and special tokens); its ``midtrain_state.json`` adds ``averaged_steps`` and ``averaging``.
"""

from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from training.config import AveragingConfig
from training.trainer.callbacks import Callback

if TYPE_CHECKING:
    from training.trainer.loop import Trainer

AVERAGE_DIR = "average"  # RUN/hf/average and RUN/checkpoints/average/step_N


def _local(p: torch.Tensor) -> torch.Tensor:
    return p.to_local() if hasattr(p, "to_local") else p


def window_start(cfg: AveragingConfig, schedule, max_steps: int) -> int:
    """Last step before the window: snapshots are taken after steps (start, max_steps]."""
    if cfg.last_steps == "decay":
        if schedule.kind == "constant":
            raise ValueError(
                "averaging.last_steps: 'decay' needs an LR decay, but scheduler.kind is constant; "
                "give a number of steps"
            )
        start = schedule.decay_start if schedule.kind == "wsd" else schedule.warmup_steps
    else:
        start = max_steps - cfg.last_steps
    if start < 0:
        warnings.warn(
            f"averaging.last_steps: {cfg.last_steps} is more than the run's {max_steps} steps; "
            "averaging over the whole run",
            stacklevel=2,
        )
    return max(start, 0)


class WeightAverager(Callback):
    """Keep the average of the window's snapshots; export it at the end (a collective, every rank)."""

    def __init__(self, cfg: AveragingConfig) -> None:
        self.cfg = cfg
        self.avg: list[torch.Tensor] | None = None
        self.steps: list[int] = []
        self.seconds = 0.0  # time spent updating the average (the bench reports it per step)

    # ---- hooks --------------------------------------------------------------------------------
    def on_train_start(self, trainer: Trainer) -> None:
        self.start = window_start(self.cfg, trainer.schedule, trainer.max_steps)
        self.params = [p for p in trainer.model.parameters()]
        if trainer.step > self.start:  # a resume inside the window: continue the saved average
            self.load(trainer)

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        s = trainer.step
        if s > self.start and (trainer.max_steps - s) % self.cfg.every_steps == 0:
            t0 = time.perf_counter()
            self.update(s)
            self.seconds += time.perf_counter() - t0
        every = trainer.config.checkpoint.every_steps
        if self.avg is not None and every and s % every == 0 and s < trainer.max_steps:
            self.save(trainer)  # beside the checkpoint CheckpointSaver writes for this step

    def on_train_end(self, trainer: Trainer) -> None:
        if self.avg is None:
            warnings.warn("averaging: no step fell in the window; RUN/hf/average not written", stacklevel=2)
            return
        trainer.average_hf_dir = self.export(trainer)

    # ---- the average --------------------------------------------------------------------------
    @torch.no_grad()
    def update(self, step: int) -> None:
        current = [_local(p.detach()).float() for p in self.params]
        if self.avg is None:
            self.avg = [t.clone() for t in current]
        else:
            n = len(self.steps) + 1
            weight = 1.0 / n if self.cfg.ema_decay is None else 1.0 - self.cfg.ema_decay
            torch._foreach_lerp_(self.avg, current, weight)
        self.steps.append(step)

    @torch.no_grad()
    def export(self, trainer: Trainer) -> Path:
        """Swap the average into the model, export it like the final weights, swap back."""
        assert self.avg is not None
        locals_ = [_local(p.detach()) for p in self.params]
        backup = [t.clone() for t in locals_]
        for t, a in zip(locals_, self.avg, strict=True):
            t.copy_(a)
        try:
            from training.trainer.checkpoint import export_hf

            state = {
                **trainer.export_state(),
                "averaged_steps": list(self.steps),
                "averaging": self.cfg.model_dump(),
                "checkpoint": None,
            }
            out = trainer.run_dir / "hf" / AVERAGE_DIR
            return export_hf(
                trainer.model,
                out,
                trainer.dist,
                tokenizer_json=Path(trainer.config.tokens_dir) / "tokenizer.json",
                state=state,
            )
        finally:
            for t, b in zip(locals_, backup, strict=True):
                t.copy_(b)

    # ---- resume -------------------------------------------------------------------------------
    def _dtensors(self) -> dict[str, Any]:
        from torch.distributed.tensor import DTensor

        assert self.avg is not None
        out = {}
        for i, (p, a) in enumerate(zip(self.params, self.avg, strict=True)):
            out[f"w{i}"] = (
                DTensor.from_local(a, p.device_mesh, p.placements, shape=p.shape, stride=p.stride())
                if hasattr(p, "device_mesh")
                else a
            )
        return out

    def save(self, trainer: Trainer) -> None:
        import torch.distributed as dist
        import torch.distributed.checkpoint as dcp

        root = trainer.run_dir / "checkpoints" / AVERAGE_DIR
        path = root / f"step_{trainer.step}"
        dcp.save({"average": self._dtensors()}, checkpoint_id=str(path))
        if trainer.dist.is_main:
            (path / "steps.txt").write_text(" ".join(map(str, self.steps)) + "\n")
            for old in root.glob("step_*"):
                if old != path:
                    shutil.rmtree(old, ignore_errors=True)
        dist.barrier()

    def load(self, trainer: Trainer) -> None:
        import torch.distributed.checkpoint as dcp

        path = trainer.run_dir / "checkpoints" / AVERAGE_DIR / f"step_{trainer.step}"
        if not (path / "steps.txt").is_file():
            warnings.warn(
                f"averaging: resumed at step {trainer.step} inside the window but {path} is missing; "
                "the average restarts from this step",
                stacklevel=2,
            )
            return
        self.steps = [int(s) for s in (path / "steps.txt").read_text().split()]
        self.avg = [_local(p.detach()).float().clone() for p in self.params]
        state = {"average": self._dtensors()}
        dcp.load(state, checkpoint_id=str(path))  # in place into the local shards (resharded)
