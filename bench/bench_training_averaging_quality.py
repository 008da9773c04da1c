"""Does averaging while training help at toy scale? Final weights vs RUN/hf/average on held-out data.

A 0.4M-param Llama trained on the tiny synthetic workspace (two domains) with a WSD schedule
(decay over the last 30 %), once per seed; `averaging: {last_steps: decay}` (uniform mean over the
decay window) and `{last_steps: decay, ema_decay: 0.9}` are exported beside the final weights and
all three are scored on held-out sequences of the same generator (another seed's documents).
``--constant``: constant LR instead, averaging the last 30 % (averaging in place of a decay, WSM).

    nice -n 10 python bench/bench_training_averaging_quality.py [--steps 60] [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import polars as pl
import torch

from training.data import PlanLoader
from training.trainer import train
from training.trainer.testing import tiny_train_config, write_tiny_workspace


def heldout_loss(folder: Path, tokens: Path, plan: Path) -> float:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    total = count = 0.0
    with torch.no_grad():
        for b in PlanLoader(tokens, pl.read_parquet(plan), micro_batch_size=16):
            logits = model(input_ids=b.input_ids, position_ids=b.position_ids, use_cache=False).logits
            targets = b.labels[:, 1:]
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="sum"
            )
            total += float(loss)
            count += float((targets != -100).sum())
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--constant",
        action="store_true",
        help="constant LR, averaging the last 30%% (averaging in place of a decay)",
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = args.steps * 8
        write_tiny_workspace(root / "train", phases=[{"web": n // 2, "code": n // 2}], num_docs=400, seed=0)
        held_tokens, held_plan = write_tiny_workspace(
            root / "held", phases=[{"web": 64, "code": 64}], num_docs=200, seed=1
        )
        for seed in range(args.seeds):
            out = {}
            window = int(0.3 * args.steps) if args.constant else "decay"
            for name, averaging in (
                ("mean", {"last_steps": window}),
                ("ema", {"last_steps": window, "ema_decay": 0.9}),
            ):
                cfg = tiny_train_config(
                    root / "train",
                    run_dir=root / f"{name}{seed}",
                    seed=seed,
                    max_steps=args.steps,
                    scheduler={"kind": "constant"}
                    if args.constant
                    else {"kind": "wsd", "decay_fraction": 0.3},
                    checkpoint={"final_export": True, "resume": False},
                    averaging=averaging,
                )
                result = train(cfg)
                out["final"] = heldout_loss(result.final_hf_dir, held_tokens, held_plan)
                out[name] = heldout_loss(cfg.run_dir / "hf" / "average", held_tokens, held_plan)
            rows.append(out)
            print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in out.items()), flush=True)
    for key in ("final", "mean", "ema"):
        values = [r[key] for r in rows]
        print(
            f"{key:>5}: held-out loss {statistics.mean(values):.4f} (seeds {', '.join(f'{v:.4f}' for v in values)})"
        )
    gain = [r["final"] - r["mean"] for r in rows]
    print(f"final - mean over the decay window: {statistics.mean(gain):+.4f} nats (per seed {gain})")


if __name__ == "__main__":
    main()
