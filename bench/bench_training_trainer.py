"""Trainer overhead and FSDP2 memory on CPU.

1. tokens/s of `training.train` (FSDP2 on a 1-rank gloo group, metrics, per-domain loss) vs a plain
   transformers + torch loop (same model, same seed, same batches from the same PlanLoader, AdamW,
   grad clipping, model(labels=...) loss). Timed from the end of warm-up step 3 to the last step,
   alternating runs (best of --repeats) because the machine is shared.
2. param + optimizer bytes held per rank with FSDP2 over 2 gloo ranks (torchrun) vs 1 rank.

    nice -n 10 python bench/bench_training_trainer.py [--steps 30] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import torch

from training.trainer import Trainer
from training.trainer.callbacks import Callback, MetricsLogger
from training.trainer.parallel import shutdown
from training.trainer.testing import tiny_train_config, write_tiny_workspace

# REFERENCE.md section 8's toy model: 3.1M params Llama, seq 128, 16 sequences per step
MODEL = {
    "hidden_size": 192,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
}
SEQ_LEN, MICRO, GLOBAL_SEQ, WARMUP = 128, 16, 16, 3


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _rates(start, end, steps) -> tuple[float, float]:
    """(tokens per wall second, tokens per CPU second of this process)."""
    tokens = (steps - WARMUP) * GLOBAL_SEQ * SEQ_LEN
    return tokens / (end[0] - start[0]), tokens / (end[1] - start[1])


class _Clock(Callback):
    def on_step_end(self, trainer, metrics):
        if trainer.step == WARMUP:
            self.start = _now()
        self.end = _now()


def run_trainer(root: Path, steps: int, run: str) -> tuple[float, float]:
    cfg = tiny_train_config(
        root,
        run_dir=root / run,
        model={"tiny": MODEL},
        micro_batch_size=MICRO,
        global_batch_tokens=GLOBAL_SEQ * SEQ_LEN,
        max_steps=steps,
        optimizer={"lr": 1e-3},
        checkpoint={"resume": False, "final_export": False},
    )
    clock = _Clock()
    trainer = Trainer.build(cfg, callbacks=[MetricsLogger(), clock])
    trainer.fit()
    shutdown(trainer.dist)
    return _rates(clock.start, clock.end, steps)


def run_plain(root: Path, steps: int) -> tuple[float, float]:
    """The baseline: what a user would write with transformers + torch alone."""
    import polars as pl
    from transformers import AutoModelForCausalLM

    from training.data import PlanLoader
    from training.models import tiny_llama_config

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_llama_config(256, **MODEL), attn_implementation="sdpa")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    loader = PlanLoader(root / "tokens", pl.read_parquet(root / "plan.parquet"), micro_batch_size=MICRO)
    batches = iter(loader)
    for step in range(1, steps + 1):
        batch = next(batches)
        out = model(
            input_ids=batch.input_ids, position_ids=batch.position_ids, labels=batch.labels, use_cache=False
        )
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        _ = out.loss.item()
        if step == WARMUP:
            start = _now()
    return _rates(start, _now(), steps)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from training.config import TrainConfig
    from training.trainer import Trainer
    from training.trainer.metrics import memory_gb, state_bytes
    from training.trainer.parallel import shutdown
    from training.trainer.callbacks import MetricsLogger
    t = Trainer.build(TrainConfig.from_yaml(sys.argv[1]), callbacks=[MetricsLogger()])
    t.fit()
    print("STATE", json.dumps({"rank": t.dist.rank, "state_bytes": state_bytes(t.model, t.optimizer),
                               "max_rss_gb": memory_gb(t.dist.device)}), flush=True)
    shutdown(t.dist)
    """
)


def memory(root: Path, nproc: int) -> list[dict]:
    import yaml

    cfg = tiny_train_config(
        root,
        run_dir=root / f"mem{nproc}",
        model={"tiny": MODEL},
        micro_batch_size=MICRO // nproc,
        global_batch_tokens=GLOBAL_SEQ * SEQ_LEN,
        max_steps=2,
        checkpoint={"resume": False, "final_export": False},
    )
    (root / "mem.yaml").write_text(yaml.safe_dump(json.loads(cfg.model_dump_json())))
    (root / "mem.py").write_text(MEMORY_SCRIPT)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(root / "mem.py"),
        str(root / "mem.yaml"),
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    return sorted(
        (json.loads(line[6:]) for line in out.stdout.splitlines() if line.startswith("STATE ")),
        key=lambda r: r["rank"],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = (args.steps + 2) * GLOBAL_SEQ
        write_tiny_workspace(
            root, phases=[{"web": n // 2, "code": n - n // 2}], seq_len=SEQ_LEN, num_docs=400
        )
        # one thread each: on a shared machine CPU time per token is the stable figure
        os.environ["MIDTRAIN_NUM_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)
        plain, ours = [], []
        for i in range(args.repeats):
            plain.append(run_plain(root, args.steps))
            ours.append(run_trainer(root, args.steps, f"run{i}"))
            print(
                f"repeat {i}: plain {plain[-1][0]:.0f} tok/s wall, {plain[-1][1]:.0f} tok/CPU-s; "
                f"midtrain {ours[-1][0]:.0f} tok/s wall, {ours[-1][1]:.0f} tok/CPU-s",
                flush=True,
            )
        one, two = memory(root, 1), memory(root, 2)
    best = lambda runs, k: max(r[k] for r in runs)  # noqa: E731
    print(
        f"\nthroughput (best of {args.repeats}, {args.steps} steps of {GLOBAL_SEQ}x{SEQ_LEN} tokens, "
        f"3.1M-param Llama, {args.threads} thread(s))"
    )
    for k, unit in ((0, "tokens/s (wall)"), (1, "tokens per CPU-second")):
        print(
            f"  {unit}: plain loop {best(plain, k):.0f}, midtrain {best(ours, k):.0f}, "
            f"ratio {best(ours, k) / best(plain, k):.2f}x"
        )
    print("FSDP2 param+optimizer state per rank")
    print(f"  1 rank: {one[0]['state_bytes'] / 1e6:.2f} MB (max RSS {one[0]['max_rss_gb']:.2f} GB)")
    for r in two:
        print(
            f"  2 ranks, rank {r['rank']}: {r['state_bytes'] / 1e6:.2f} MB = {r['state_bytes'] / one[0]['state_bytes']:.3f}x "
            f"(max RSS {r['max_rss_gb']:.2f} GB)"
        )


if __name__ == "__main__":
    main()
