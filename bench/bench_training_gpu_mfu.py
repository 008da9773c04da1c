"""GPU MFU of the trainer: a ~1.1B Llama (TinyLlama shape) in bf16 with FSDP2 (+ torch.compile) on one GPU.

Anchors (REFERENCE.md section 7): OLMo-core 7B on H100 47-48% MFU, torchtitan Llama 3.1 8B
33-39%, LitGPT TinyLlama 1.1B 52% (A100). MFU = (6 N + 12 L H Q T) tokens/s / peak (989 TFLOP/s
bf16 dense on H100), computed by training/trainer/metrics.py.

    python bench/bench_training_gpu_mfu.py [--compile] [--ac] [--steps 30] [--micro 4] [--seq-len 2048]
    torchrun --nproc_per_node 8 bench/bench_training_gpu_mfu.py --compile      # one node
    python bench/bench_training_gpu_mfu.py --smoke                             # CPU check of the script
    python bench/bench_training_gpu_mfu.py --matrix [--out bench/results/gpu_mfu.json]  # the one GPU run
    python bench/bench_training_gpu_mfu.py --matrix --smoke                    # its CPU-side check

``--matrix`` is the whole GPU proof in one process: the ~1.1B Llama in bf16 with FSDP2 at seq_len
2048 and 8192 (same tokens per micro batch: micro 4 and 1), torch.compile off/on x activation
checkpointing off/on (8 runs: tokens/s/GPU, MFU, peak memory; an OOM is recorded, not fatal), then
a bit-exact resume check (8 steps with an async DCP save at step 4, killed after step 6, resumed:
steps 5-8 must log the same losses as the uninterrupted run). ``--smoke`` runs the same code on
CPU with a tiny model (compile is left out on CPU).

Synthetic token shards (no download); the model is built from a config (random init).
"""

from __future__ import annotations

import argparse
import contextlib
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


class _Killed(Exception):
    pass


def _workspace(root: Path, *, vocab: int, seq_len: int, sequences: int) -> None:
    from training.trainer.testing import write_tiny_workspace

    if not (root / "plan.parquet").is_file():
        write_tiny_workspace(
            root,
            vocab_size=vocab,
            phases=[{"web": sequences // 2, "code": sequences - sequences // 2}],
            seq_len=seq_len,
            num_docs=max(200, sequences),
        )


def _config(
    root: Path, run: str, model: dict, *, micro: int, global_tokens: int, steps: int, smoke: bool, **kw
):
    from training.config import TrainConfig

    return TrainConfig(
        run_dir=root / run,
        tokens_dir=root / "tokens",
        plan_path=root / "plan.parquet",
        model={"tiny": model},
        micro_batch_size=micro,
        global_batch_tokens=global_tokens,
        max_steps=steps,
        optimizer={"lr": 3e-4},
        scheduler={"kind": "constant"},
        log_every=1,
        device="cpu" if smoke else "auto",
        progress=False,
        **kw,
    )


def _summary(result, *, warmup: int, world: int) -> dict:
    from training.trainer.testing import read_metrics

    rows = read_metrics(result.metrics_path)[warmup:]
    return {
        "tokens_per_s_per_gpu": statistics.median(r["tokens_per_s"] for r in rows) / world,
        "mfu": statistics.median(r["mfu"] for r in rows),
        "peak_memory_gb": max(r["memory_gb"] for r in rows),
    }


def matrix(args) -> None:
    """Every GPU figure the trainer needs, in one process (see the module docstring)."""
    import torch

    from training.trainer import train
    from training.trainer.callbacks import Callback
    from training.trainer.loop import default_callbacks

    smoke = args.smoke
    vocab, model = (256, SMOKE) if smoke else (32000, LLAMA_1B)
    tokens_per_micro = 256 if smoke else 8192
    seq_lens = (64, 128) if smoke else (2048, 8192)
    compiles = (False,) if smoke else (False, True)
    steps, warmup = (4, 1) if smoke else (args.steps, args.warmup)
    base = Path(os.environ.get("MIDTRAIN_BENCH_DIR", tempfile.gettempdir())) / "midtrain_gpu_matrix"
    device = "cpu" if smoke else torch.cuda.get_device_name(0)
    results = {"device": device, "torch": torch.__version__, "runs": [], "resume": None}
    for seq_len in seq_lens:
        micro = tokens_per_micro // seq_len
        global_tokens = micro * seq_len * args.accum
        root = base / f"seq{seq_len}"
        _workspace(root, vocab=vocab, seq_len=seq_len, sequences=(steps + 10) * global_tokens // seq_len)
        for compile_ in compiles:
            for ac in (False, True):
                name = f"seq{seq_len}_compile{int(compile_)}_ac{int(ac)}"
                row = {
                    "seq_len": seq_len,
                    "micro": micro,
                    "compile": compile_,
                    "activation_checkpointing": ac,
                }
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                cfg = _config(
                    root,
                    name,
                    model,
                    micro=micro,
                    global_tokens=global_tokens,
                    steps=steps,
                    smoke=smoke,
                    checkpoint={"resume": False, "final_export": False},
                    parallel={"compile": compile_, "activation_checkpointing": ac},
                )
                try:
                    row.update(_summary(train(cfg), warmup=warmup, world=1))
                except torch.cuda.OutOfMemoryError as err:
                    row["error"] = f"OOM: {str(err).splitlines()[0][:160]}"
                results["runs"].append(row)
                print(json.dumps(row), flush=True)

    class KillAt(Callback):
        def on_step_end(self, trainer, metrics):
            if trainer.step == 6:
                raise _Killed

    seq_len = seq_lens[0]
    micro = tokens_per_micro // seq_len
    root = base / f"seq{seq_len}"
    common = dict(micro=micro, global_tokens=micro * seq_len * args.accum, steps=8, smoke=smoke)
    full = train(
        _config(root, "resume_full", model, checkpoint={"resume": False, "final_export": False}, **common)
    )
    part_cfg = _config(
        root,
        "resume_part",
        model,
        checkpoint={"every_steps": 4, "async_save": True, "final_export": False},
        **common,
    )
    import shutil

    shutil.rmtree(part_cfg.run_dir, ignore_errors=True)
    with contextlib.suppress(_Killed):
        train(part_cfg, callbacks=[*default_callbacks(part_cfg), KillAt()])
    resumed = train(part_cfg)
    from training.trainer.testing import read_metrics

    a = [r["loss"] for r in read_metrics(full.metrics_path)]
    b = [r["loss"] for r in read_metrics(resumed.metrics_path)]
    results["resume"] = {"losses_full": a, "losses_resumed": b, "bit_exact": a == b, "steps": len(b)}
    print(json.dumps(results["resume"]), flush=True)
    print(f"\n{device}: tokens/s/GPU, MFU, peak memory (1 GPU, bf16, FSDP2)")
    for r in results["runs"]:
        what = f"seq {r['seq_len']:>5} compile {int(r['compile'])} AC {int(r['activation_checkpointing'])}"
        if "error" in r:
            print(f"  {what}: {r['error']}")
        else:
            print(
                f"  {what}: {r['tokens_per_s_per_gpu']:>9,.0f} tok/s  MFU {r['mfu']:.1%}  {r['peak_memory_gb']:.1f} GB"
            )
    print(f"  resume after an async DCP save: bit-exact {results['resume']['bit_exact']}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.out}")


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
    parser.add_argument("--matrix", action="store_true", help="the full GPU proof (see the docstring)")
    parser.add_argument("--out", default=None, help="--matrix: write the results JSON here")
    args = parser.parse_args()
    if args.matrix:
        return matrix(args)
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
