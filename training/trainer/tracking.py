"""Experiment trackers as callbacks: TensorBoard and Weights & Biases, fed what metrics.jsonl gets.

Selected in the train config::

    tracking:
      tensorboard: true                 # RUN/tensorboard/events.out.tfevents.*
      wandb: {project: anneal, mode: offline, group: soup, tags: [7b]}

Both log every number of a metrics.jsonl line (``loss``, ``loss/<domain>``, ``lr``, ``grad_norm``,
``tokens_per_s``, ``mfu``, ``memory_gb``, ``tokens``, ``phase``, ``seq_len``, ``step_time_s``) at
the same steps (``log_every`` and the last step), with the optimizer step as the x axis, plus the
resolved config (RUN/config.json: config, versions, git commit) once at the start. Only rank 0
writes. A resumed run continues the same curves: TensorBoard purges the points after the resume
step, W&B reopens the same run id (kept in RUN/wandb_run_id) with ``resume="allow"``.

The packages are optional (``pip install tensorboard`` / ``pip install midtrain[wandb]``); a
tracker asked for without its package is one error before the first step.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import TYPE_CHECKING, Any

from training.config import TrackingConfig
from training.trainer.callbacks import Callback

if TYPE_CHECKING:
    from training.trainer.loop import Trainer


def _require(module: str, key: str, install: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ValueError(f"{key}: needs the {module!r} package, which is not installed ({install})")


def run_record(trainer: Trainer) -> dict[str, Any]:
    """The resolved config as RUN/config.json records it (config, versions, git commit, ...)."""
    path = trainer.run_dir / "config.json"
    if path.is_file():
        return json.loads(path.read_text())
    return {"config": json.loads(trainer.config.model_dump_json())}


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)
    }


def _logged(trainer: Trainer) -> bool:
    """Same cadence as MetricsLogger: every log_every steps and the last step."""
    return trainer.step % trainer.config.log_every == 0 or trainer.step == trainer.max_steps


class TensorBoardLogger(Callback):
    """Scalars under their metrics.jsonl names; the run record as text ``config``."""

    def __init__(self) -> None:
        _require("tensorboard", "tracking.tensorboard", "pip install tensorboard")
        self.writer = None

    def on_train_start(self, trainer: Trainer) -> None:
        if not trainer.dist.is_main:
            return
        from torch.utils.tensorboard import SummaryWriter

        log_dir = trainer.run_dir / "tensorboard"
        # purge_step drops points a crashed run logged after its checkpoint (they are redone)
        self.writer = SummaryWriter(str(log_dir), purge_step=trainer.step + 1 if trainer.step else None)
        record = json.dumps(run_record(trainer), indent=2, default=str)
        self.writer.add_text("config", f"```json\n{record}\n```", global_step=trainer.step)

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        if self.writer is None or not _logged(trainer):
            return
        for key, value in _scalars(metrics).items():
            self.writer.add_scalar(key, value, global_step=trainer.step)

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
            self.writer = None


class WandbLogger(Callback):
    """One W&B run per run_dir (its id kept in RUN/wandb_run_id), files under RUN/wandb/."""

    def __init__(self, config: TrackingConfig) -> None:
        _require("wandb", "tracking.wandb", "pip install 'midtrain[wandb]'")
        assert config.wandb is not None
        self.cfg, self.run = config.wandb, None

    def on_train_start(self, trainer: Trainer) -> None:
        if not trainer.dist.is_main or self.cfg.mode == "disabled":
            return
        import wandb

        id_file = trainer.run_dir / "wandb_run_id"
        run_id = id_file.read_text().strip() if id_file.is_file() else secrets.token_hex(4)
        id_file.write_text(run_id + "\n")
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(
            project=self.cfg.project,
            entity=self.cfg.entity,
            name=self.cfg.name or trainer.run_dir.name,
            group=self.cfg.group,
            tags=self.cfg.tags or None,
            mode=self.cfg.mode,
            dir=str(trainer.run_dir),
            id=run_id,
            resume="allow",
            config=run_record(trainer),
        )
        self.run.define_metric("*", step_metric="step")

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        if self.run is None or not _logged(trainer):
            return
        self.run.log({"step": trainer.step, **_scalars(metrics)})

    def on_train_end(self, trainer: Trainer) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


def tracking_callbacks(config: TrackingConfig) -> list[Callback]:
    """The trackers the config asks for (checked for their packages now, before any step)."""
    found: list[Callback] = []
    if config.tensorboard:
        found.append(TensorBoardLogger())
    if config.wandb is not None:
        found.append(WandbLogger(config))
    return found
