"""The trainer for real runs on CPU: logging on (metrics.jsonl + TensorBoard + W&B offline, every
step), averaging while training, and the loader's share of a step, against the plain loop.

Same model, batches and timing as bench_training_trainer.py (3.1M Llama of REFERENCE s.8, 16 x 128
tokens a step, 1 torch thread, timed after 3 warm-up steps, alternating repeats, best of each):

1. tokens per CPU-second: plain transformers loop vs `training.train` with every tracker on;
2. the same with `averaging: {last_steps: <all>}` (an update after every step: the worst case),
   and the averager's own time per update as a share of the step;
3. the loader's share of the step: time inside PlanLoader.__next__ / step time.

    nice -n 10 python bench/bench_training_realrun.py [--steps 30] [--repeats 3]
    nice -n 10 python bench/bench_training_realrun.py --loader-mask   # 4. the loader's cost of loss masking

W&B offline runs its service as a separate process; its CPU time is not in this process's
figure (the wall-clock column includes it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_training_trainer import GLOBAL_SEQ, MICRO, MODEL, SEQ_LEN, _Clock, _rates, run_plain  # noqa: E402

from training.data import PlanLoader  # noqa: E402
from training.trainer import Trainer  # noqa: E402
from training.trainer.loop import default_callbacks  # noqa: E402
from training.trainer.parallel import shutdown  # noqa: E402
from training.trainer.testing import tiny_train_config, write_tiny_workspace  # noqa: E402


class TimedLoader(PlanLoader):
    """PlanLoader that adds the wall time spent making each batch to `TimedLoader.seconds`."""

    seconds = 0.0
    batches = 0

    def __iter__(self):
        it = super().__iter__()
        while True:
            t0 = time.perf_counter()
            batch = next(it, None)
            TimedLoader.seconds += time.perf_counter() - t0
            if batch is None:
                return
            TimedLoader.batches += 1
            yield batch


def run_ours(root: Path, steps: int, run: str, *, averaging: bool, tracking: bool = True) -> dict:
    cfg = tiny_train_config(
        root,
        run_dir=root / run,
        model={"tiny": MODEL},
        micro_batch_size=MICRO,
        global_batch_tokens=GLOBAL_SEQ * SEQ_LEN,
        max_steps=steps,
        optimizer={"lr": 1e-3},
        checkpoint={"resume": False, "final_export": False},
        log_every=1,
        tracking={"tensorboard": True, "wandb": {"project": "bench", "mode": "offline"}} if tracking else {},
        averaging={"last_steps": steps} if averaging else None,
    )
    clock = _Clock()
    TimedLoader.seconds, TimedLoader.batches = 0.0, 0
    trainer = Trainer.build(cfg, callbacks=[*default_callbacks(cfg), clock], loader_factory=TimedLoader)
    trainer.fit()
    shutdown(trainer.dist)
    wall, cpu = _rates(clock.start, clock.end, steps)
    step_s = GLOBAL_SEQ * SEQ_LEN / wall
    out = {"wall": wall, "cpu": cpu, "loader_share": TimedLoader.seconds / (step_s * steps)}
    averager = [c for c in trainer.callbacks if type(c).__name__ == "WeightAverager"]
    if averager:
        out["avg_s_per_update"] = averager[0].seconds / max(len(averager[0].steps), 1)
        out["avg_share"] = out["avg_s_per_update"] / step_s
    return out


def loader_mask_cost(repeats: int) -> None:
    """PlanLoader micro-batches/s with and without `loss_mask: response` on half the sources."""
    import numpy as np
    import polars as pl

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tokens, plan_path = write_tiny_workspace(
            root, phases=[{"web": 2048, "code": 2048}], seq_len=SEQ_LEN, num_docs=2000
        )
        n = np.fromfile(tokens / "code" / "000.ds.index", dtype="<u8")[-1]
        np.random.default_rng(0).integers(0, 2, int(n), dtype=np.uint8).tofile(
            tokens / "code" / "000.ds.mask"
        )
        plan = pl.read_parquet(plan_path)
        rates = {}
        for name, kw in (("no mask", {}), ("loss_mask: response", {"loss_mask": {"code": "response"}})):
            best = 0.0
            for _ in range(repeats):
                loader = PlanLoader(tokens, plan, micro_batch_size=MICRO, **kw)
                t0 = time.process_time()
                count = sum(1 for _ in loader)
                best = max(best, count / (time.process_time() - t0))
            rates[name] = best
            print(f"  loader, {name}: {best:,.0f} micro-batches of {MICRO}x{SEQ_LEN} per CPU-second")
        print(f"  mask cost: {rates['no mask'] / rates['loss_mask: response']:.2f}x the loader's time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loader-mask", action="store_true", help="only the loader's cost of loss masking")
    args = parser.parse_args()
    if args.loader_mask:
        return loader_mask_cost(args.repeats)
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = (args.steps + 2) * GLOBAL_SEQ
        write_tiny_workspace(
            root, phases=[{"web": n // 2, "code": n - n // 2}], seq_len=SEQ_LEN, num_docs=400
        )
        os.environ["MIDTRAIN_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
        plain, jsonl, logged, averaged = [], [], [], []
        for i in range(args.repeats):
            plain.append(dict(zip(("wall", "cpu"), run_plain(root, args.steps), strict=True)))
            jsonl.append(run_ours(root, args.steps, f"jsonl{i}", averaging=False, tracking=False))
            logged.append(run_ours(root, args.steps, f"log{i}", averaging=False))
            averaged.append(run_ours(root, args.steps, f"avg{i}", averaging=True))
            print(
                f"repeat {i}: tok/CPU-s plain {plain[-1]['cpu']:.0f}, metrics.jsonl only {jsonl[-1]['cpu']:.0f}, "
                f"+trackers {logged[-1]['cpu']:.0f}, "
                f"logging+averaging {averaged[-1]['cpu']:.0f}; tok/s wall {plain[-1]['wall']:.0f}, "
                f"{logged[-1]['wall']:.0f}, {averaged[-1]['wall']:.0f}; averaging "
                f"{averaged[-1]['avg_s_per_update'] * 1e3:.2f} ms/update ({averaged[-1]['avg_share']:.2%}); "
                f"loader {logged[-1]['loader_share']:.3%} of a step",
                flush=True,
            )
    best = lambda runs, k: max(r[k] for r in runs)  # noqa: E731
    low = lambda runs, k: min(r[k] for r in runs)  # noqa: E731
    print(f"\nbest of {args.repeats}, {args.steps} steps of {GLOBAL_SEQ}x{SEQ_LEN} tokens, 1 thread")
    for k, unit in (("cpu", "tokens per CPU-second"), ("wall", "tokens/s wall")):
        p = best(plain, k)
        print(
            f"  {unit}: plain {p:.0f}; midtrain, metrics.jsonl only {best(jsonl, k):.0f} ({best(jsonl, k) / p:.2f}x); "
            f"+ TensorBoard + W&B {best(logged, k):.0f} "
            f"({best(logged, k) / p:.2f}x); + averaging every step {best(averaged, k):.0f} "
            f"({best(averaged, k) / p:.2f}x)"
        )
    print(
        f"  averaging update: {low(averaged, 'avg_s_per_update') * 1e3:.2f} ms per step "
        f"({low(averaged, 'avg_share') * 100:.2f}% of a step)"
    )
    print(f"  loader share of a step: {low(logged, 'loader_share') * 100:.3f}% (target < 2%)")


if __name__ == "__main__":
    main()
