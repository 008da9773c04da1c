"""Everything that is not the step loop hangs off these callbacks (no-op hooks by default).

Hooks run on every rank (checkpointing and HF export are collectives); writers check `is_main`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.trainer.loop import Trainer


class Callback:
    def on_train_start(self, trainer: Trainer) -> None: ...

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...


class MetricsLogger(Callback):
    """One JSON line per `log_every` steps (and the last step) in RUN/metrics.jsonl."""

    def on_train_start(self, trainer: Trainer) -> None:
        self.path = trainer.run_dir / "metrics.jsonl"
        if not trainer.dist.is_main:
            return
        if trainer.step == 0 or not self.path.is_file():
            self.path.write_text("")  # a fresh run
        else:  # a resumed run: drop lines logged after the checkpoint (they will be redone)
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= trainer.step
            ]
            self.path.write_text("".join(line + "\n" for line in kept))

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        last = trainer.step == trainer.max_steps
        if trainer.dist.is_main and (trainer.step % trainer.config.log_every == 0 or last):
            with self.path.open("a") as f:
                f.write(json.dumps(metrics) + "\n")


class ProgressBar(Callback):
    def on_train_start(self, trainer: Trainer) -> None:
        self.bar = None
        if trainer.dist.is_main and trainer.config.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=trainer.max_steps, initial=trainer.step, desc="train", unit="step")

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(
                loss=f"{metrics['loss']:.3f}",
                lr=f"{metrics['lr']:.2e}",
                tok_s=f"{metrics['tokens_per_s']:.0f}",
            )

    def on_train_end(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()


class CheckpointSaver(Callback):
    """DCP checkpoint every `checkpoint.every_steps` steps and at the end."""

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        every = trainer.config.checkpoint.every_steps
        if every and trainer.step % every == 0 and trainer.step < trainer.max_steps:
            trainer.save_checkpoint()

    def on_train_end(self, trainer: Trainer) -> None:
        if trainer.last_saved_step != trainer.step:
            trainer.save_checkpoint()
        trainer.checkpointer.wait()


class HFExporter(Callback):
    """HF save_pretrained at `checkpoint.export_hf_steps` and at the end, to RUN/hf/step_N/."""

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        if trainer.step in trainer.config.checkpoint.export_hf_steps and trainer.step < trainer.max_steps:
            trainer.export_hf()

    def on_train_end(self, trainer: Trainer) -> None:
        if trainer.config.checkpoint.final_export:
            trainer.final_hf_dir = trainer.export_hf()


class Plotter(Callback):
    """RUN/schedule.png at the start; RUN/loss.png (overall and per domain) and RUN/lr.png at the end."""

    def on_train_start(self, trainer: Trainer) -> None:
        if trainer.dist.is_main:
            from training.trainer.schedules import plot_schedule

            plot_schedule(
                trainer.schedule, trainer.run_dir / "schedule.png", phase_starts=trainer.phase_starts
            )

    def on_train_end(self, trainer: Trainer) -> None:
        if trainer.dist.is_main:
            plot_metrics(trainer.run_dir / "metrics.jsonl", trainer.run_dir)


def plot_metrics(metrics_path, out_dir) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    if not rows:
        return []
    steps = [r["step"] for r in rows]
    written = []
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [r["loss"] for r in rows], label="all", lw=2)
    for key in sorted({k for r in rows for k in r if k.startswith("loss/")}):
        ax.plot(steps, [r.get(key, float("nan")) for r in rows], label=key[5:], lw=1)
    ax.set(xlabel="step", ylabel="train loss (nats/token)", title="training loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "loss.png", dpi=100)
    plt.close(fig)
    written.append(out_dir / "loss.png")
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(steps, [r["lr"] for r in rows])
    ax.set(xlabel="step", ylabel="learning rate", title="learning rate")
    fig.tight_layout()
    fig.savefig(out_dir / "lr.png", dpi=100)
    plt.close(fig)
    written.append(out_dir / "lr.png")
    return written
