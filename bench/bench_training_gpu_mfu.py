"""GPU MFU of the trainer: a ~1.1B Llama (TinyLlama shape) in bf16 with FSDP2 (+ torch.compile) on one GPU.

Anchors (REFERENCE.md section 7): OLMo-core 7B on H100 47-48% MFU, torchtitan Llama 3.1 8B
33-39%, LitGPT TinyLlama 1.1B 52% (A100). MFU = (6 N + 12 L H Q T) tokens/s / peak (989 TFLOP/s
bf16 dense on H100), computed by training/trainer/metrics.py.

    python bench/bench_training_gpu_mfu.py [--compile] [--ac] [--steps 30] [--micro 4] [--seq-len 2048]
    torchrun --nproc_per_node 8 bench/bench_training_gpu_mfu.py --compile      # one node
    python bench/bench_training_gpu_mfu.py --smoke                             # CPU check of the script

Synthetic token shards (no download); the model is built from a config (random init).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

LLAMA_1B = {
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 22,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
}
SMOKE = {
    "hidden_size": 64,
    "intermediate_size": 176,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10, help="steps left out of the MFU median")
    parser.add_argument("--micro", type=int, default=4, help="sequences per micro batch per GPU")
    parser.add_argument("--accum", type=int, default=2, help="micro batches per step per GPU")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--compile", action="store_true", help="torch.compile each block")
    parser.add_argument("--ac", action="store_true", help="activation checkpointing per block")
    parser.add_argument("--smoke", action="store_true", help="tiny model on CPU, to check the script runs")
    args = parser.parse_args()
    from training.config import TrainConfig
    from training.trainer import train
    from training.trainer.testing import read_metrics, write_tiny_workspace

    world = int(os.environ.get("WORLD_SIZE", 1))
    vocab, model = (256, SMOKE) if args.smoke else (32000, LLAMA_1B)
    seq_len = 64 if args.smoke else args.seq_len
    steps, warmup = (6, 2) if args.smoke else (args.steps, args.warmup)
    global_tokens = args.micro * args.accum * seq_len * world
    root = Path(os.environ.get("MIDTRAIN_BENCH_DIR", tempfile.gettempdir())) / "midtrain_gpu_mfu"
    if int(os.environ.get("RANK", 0)) == 0 and not (root / "plan.parquet").is_file():
        n = steps * global_tokens // seq_len + world
        write_tiny_workspace(
            root,
            vocab_size=vocab,
            phases=[{"web": n // 2, "code": n - n // 2}],
            seq_len=seq_len,
            num_docs=max(200, 2 * n),
        )
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if not args.smoke else "gloo")
        dist.barrier()
    cfg = TrainConfig(
        run_dir=root / f"run_w{world}{'_compile' if args.compile else ''}",
        tokens_dir=root / "tokens",
        plan_path=root / "plan.parquet",
        model={"tiny": model},
        micro_batch_size=args.micro,
        global_batch_tokens=global_tokens,
        max_steps=steps,
        optimizer={"lr": 3e-4},
        scheduler={"kind": "constant"},
        checkpoint={"resume": False, "final_export": False},
        parallel={"compile": args.compile, "activation_checkpointing": args.ac},
        log_every=1,
        device="cpu" if args.smoke else "auto",
        progress=False,
    )
    result = train(cfg)
    if int(os.environ.get("RANK", 0)) != 0:
        return
    rows = read_metrics(result.metrics_path)[warmup:]
    summary = {
        "model_params": json.loads((result.run_dir / "config.json").read_text())["num_params"],
        "gpus": world,
        "seq_len": seq_len,
        "global_batch_tokens": global_tokens,
        "compile": args.compile,
        "activation_checkpointing": args.ac,
        "tokens_per_s_per_gpu": statistics.median(r["tokens_per_s"] for r in rows) / world,
        "mfu": statistics.median(r["mfu"] for r in rows),
        "peak_memory_gb": max(r["memory_gb"] for r in rows),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
