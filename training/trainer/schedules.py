"""Learning-rate schedules as pure functions of the optimizer step (no scheduler object to drift).

`lr_at(k)` is the LR of the k-th optimizer update, k = 1..max_steps. Warmup (or re-warm) goes
linearly from `warmup_start_lr` to the peak over `warmup_steps`; then:

- constant: the peak until the end;
- cosine: half-cosine from the peak to final_lr at max_steps;
- linear: straight line from the peak to final_lr at max_steps ("linear to zero");
- wsd: the peak until the decay starts (last `decay_fraction` of the steps, or the plan's last
  phase), then `decay_shape` (linear, cosine, 1-sqrt, exponential) down to final_lr at max_steps;
- anneal: like linear, from the checkpoint's LR (or peak_lr) to final_lr over the whole budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from training.config import SchedulerConfig

_EXP_RATE = 5.0  # exponential decay steepness; normalised so it still ends exactly at final_lr


def decay_factor(progress: float, shape: str) -> float:
    """1 at progress 0, 0 at progress 1."""
    p = min(max(progress, 0.0), 1.0)
    if shape == "linear":
        return 1.0 - p
    if shape == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if shape == "1-sqrt":
        return 1.0 - math.sqrt(p)
    if shape == "exponential":
        return (math.exp(-_EXP_RATE * p) - math.exp(-_EXP_RATE)) / (1.0 - math.exp(-_EXP_RATE))
    raise ValueError(f"scheduler.decay_shape: unknown {shape!r}")


@dataclass(frozen=True)
class Schedule:
    kind: str
    max_steps: int
    peak_lr: float
    final_lr: float = 0.0
    warmup_steps: int = 0
    warmup_start_lr: float = 0.0
    decay_start: int = 0  # last step at the peak (wsd); decay runs over (decay_start, max_steps]
    decay_shape: str = "linear"

    def lr_at(self, step: int) -> float:
        if self.warmup_steps and step < self.warmup_steps:
            frac = step / self.warmup_steps
            return self.warmup_start_lr + (self.peak_lr - self.warmup_start_lr) * frac
        if self.kind == "constant":
            return self.peak_lr
        if self.kind == "wsd":
            start, shape = self.decay_start, self.decay_shape
        else:
            start = self.warmup_steps
            shape = "cosine" if self.kind == "cosine" else "linear"
        if step <= start:
            return self.peak_lr
        progress = (step - start) / max(self.max_steps - start, 1)
        return self.final_lr + (self.peak_lr - self.final_lr) * decay_factor(progress, shape)


def build_schedule(
    cfg: SchedulerConfig,
    *,
    max_steps: int,
    peak_lr: float,
    last_phase_start_step: int | None = None,
) -> Schedule:
    """Resolve the config against the run length (and the plan's last phase when aligning)."""
    if cfg.warmup_steps >= max_steps and cfg.kind != "constant":
        raise ValueError(f"scheduler.warmup_steps: {cfg.warmup_steps} >= max_steps {max_steps}")
    decay_start = 0
    if cfg.kind == "wsd":
        if cfg.align_decay_to_last_phase:
            if last_phase_start_step is None or last_phase_start_step <= 0:
                raise ValueError(
                    "scheduler.align_decay_to_last_phase: the plan has a single phase; "
                    "use decay_fraction instead"
                )
            decay_start = last_phase_start_step
        else:
            decay_start = max_steps - max(1, round(cfg.decay_fraction * max_steps))
        decay_start = max(decay_start, cfg.warmup_steps)
    elif cfg.align_decay_to_last_phase:
        raise ValueError(f"scheduler.align_decay_to_last_phase: only for kind 'wsd', got {cfg.kind!r}")
    return Schedule(
        kind=cfg.kind,
        max_steps=max_steps,
        peak_lr=peak_lr,
        final_lr=cfg.final_lr,
        warmup_steps=cfg.warmup_steps,
        warmup_start_lr=cfg.warmup_start_lr,
        decay_start=decay_start,
        decay_shape=cfg.decay_shape,
    )


def plot_schedule(schedule: Schedule, path: Path, *, phase_starts: list[int] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(range(1, schedule.max_steps + 1))
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(steps, [schedule.lr_at(s) for s in steps])
    for start in phase_starts or []:
        ax.axvline(start, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="optimizer step", ylabel="learning rate", title=f"LR schedule ({schedule.kind})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
