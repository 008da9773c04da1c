"""Benchmark: PlanLoader throughput vs what the trainer consumes (tokens/s), in one run.

Builds synthetic token shards (3 sources, log-normal document lengths, vocab 4096) and a two-phase
plan (seq_len 128 then 256), then measures

* the loader alone: micro-batches of 16 x 128 packed, labelled, as LongTensors (samples/s, tokens/s);
* the real trainer (training.train) on the same data with the 3.1M-parameter Llama of REFERENCE.md
  section 8 (hidden 192, 4 layers, 6 heads, 2 KV heads), fp32 on CPU, step time from metrics.jsonl;
  with --no-trainer (or if the trainer cannot run) the REFERENCE figure of ~5k tokens/s is used.

and prints loader/trainer throughput (target >= 20x) and the loader's share of a step (target < 2%).

    nice -n 10 python bench/bench_training_loader.py [--tokens-per-source 4000000] [--no-trainer]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REFERENCE_TRAINER_TOKENS_PER_S = 5_000.0  # REFERENCE.md section 8, 2 CPU cores


def write_sources(root: Path, tokens_per_source: int, seed: int = 0) -> None:
    from tokenizers import Tokenizer, models

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    vocab = {"<|endoftext|>": 0, **{f"w{i}": i for i in range(1, 4096)}}
    Tokenizer(models.WordLevel(vocab=vocab, unk_token="w1")).save(str(root / "tokenizer.json"))
    for name in ("web", "math", "code"):
        folder = root / name
        folder.mkdir(parents=True)
        for shard in range(4):
            lens = rng.lognormal(5.5, 0.9, tokens_per_source // 4 // 300).astype(np.int64).clip(2, 20_000)
            tokens = rng.integers(2, 4096, int(lens.sum()), dtype=np.uint16)
            ends = np.cumsum(lens)
            tokens[ends - 1] = 0  # EOS
            tokens.tofile(folder / f"{shard:05d}_unshuffled.ds")
            ends.astype("<u8").tofile(folder / f"{shard:05d}_unshuffled.ds.index")


def make_plan(seqs0: int, seqs1: int) -> pl.DataFrame:
    rows = []
    for phase, (n, seq_len, shares) in enumerate(
        [(seqs0, 128, (0.6, 0.2, 0.2)), (seqs1, 256, (0.3, 0.4, 0.3))]
    ):
        counts = [int(round(n * s)) for s in shares]
        counts[0] += n - sum(counts)
        for order, (src, dom, share, c) in enumerate(
            zip(("web", "math", "code"), ("general", "math", "code"), shares, counts, strict=True)
        ):
            rows.append(
                (phase, f"p{phase}", src, dom, c * seq_len, c, share, 1.0, 1.0, order, 0, 0, 0, 0, seq_len)
            )
    cols = ["phase", "phase_name", "source", "domain", "num_tokens", "num_sequences", "share", "epochs",
            "effective_tokens", "order", "phase_start_token", "phase_end_token", "phase_start_step",
            "phase_end_step", "seq_len"]  # fmt: skip
    return pl.DataFrame(rows, schema=cols, orient="row")


def bench_loader(tokens: Path, plan: pl.DataFrame, *, micro: int, world: int = 1) -> dict:
    from training.data import PlanLoader

    t0 = time.perf_counter()
    loader = PlanLoader(tokens, plan, micro_batch_size=micro, dp_world_size=world)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_seq = n_tok = n_batches = 0
    for batch in loader:
        n_seq += batch.input_ids.shape[0]
        n_tok += batch.input_ids.numel()
        n_batches += 1
    elapsed = time.perf_counter() - t0
    return {"build_s": build_s, "seconds": elapsed, "batches": n_batches, "samples_per_s": n_seq / elapsed,
            "tokens_per_s": n_tok / elapsed, "ms_per_batch": 1000 * elapsed / n_batches,
            "sequences": loader.num_sequences_total}  # fmt: skip


def bench_trainer(root: Path, tokens: Path, plan: pl.DataFrame, *, micro: int, steps: int) -> float:
    """Tokens/s of the real trainer's step (data loading excluded), from metrics.jsonl."""
    from training.config import ModelConfig, TrainConfig
    from training.trainer import train

    plan_path = root / "plan.parquet"
    plan.write_parquet(plan_path)
    tiny = {"hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 4, "num_attention_heads": 6,
            "num_key_value_heads": 2, "vocab_size": 4096}  # fmt: skip
    cfg = TrainConfig(
        run_dir=root / "run", tokens_dir=tokens, plan_path=plan_path, model=ModelConfig(tiny=tiny),
        micro_batch_size=micro, global_batch_tokens=micro * 128, max_steps=steps, log_every=1,
        device="cpu", dtype="float32",
    )  # fmt: skip
    result = train(cfg)
    lines = [json.loads(x) for x in result.metrics_path.read_text().splitlines() if x.strip()]
    rates = [x["tokens_per_s"] for x in lines if "tokens_per_s" in x][3:]  # skip warm-up steps
    return float(np.median(rates))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens-per-source", type=int, default=4_000_000)
    ap.add_argument("--micro", type=int, default=16)
    ap.add_argument("--trainer-steps", type=int, default=12)
    ap.add_argument("--no-trainer", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tokens = root / "tokens"
        write_sources(tokens, args.tokens_per_source)
        plan = make_plan(24_000, 6_400)
        res = bench_loader(tokens, plan, micro=args.micro)
        res_dp = bench_loader(tokens, plan, micro=args.micro, world=2)
        big = make_plan(1_000_000, 0).filter(pl.col("num_sequences") > 0)
        t0 = time.perf_counter()
        from training.data import build_phases

        build_phases(big)
        greedy_1m = time.perf_counter() - t0
        trainer_tps, trainer_src = (
            REFERENCE_TRAINER_TOKENS_PER_S,
            "REFERENCE.md section 8 figure (not measured)",
        )
        if not args.no_trainer:
            try:
                one_phase = make_plan(args.micro * args.trainer_steps * 4, 0).filter(
                    pl.col("num_sequences") > 0
                )
                trainer_tps = bench_trainer(
                    root, tokens, one_phase, micro=args.micro, steps=args.trainer_steps
                )
                trainer_src = "measured: training.train, 3.1M Llama, fp32 CPU, 16 x 128 per step"
            except Exception as e:  # the trainer is optional for this bench
                print(f"trainer not measured ({type(e).__name__}: {e}); using the REFERENCE figure")
    step_s = args.micro * 128 / trainer_tps
    load_s = res["ms_per_batch"] / 1000  # phase mix of 128 and 256 tokens: conservative for 16 x 128
    print(f"loader: {res['samples_per_s']:,.0f} samples/s, {res['tokens_per_s']:,.0f} tokens/s, "
          f"{res['ms_per_batch']:.3f} ms per {args.micro}-sequence micro-batch, build {res['build_s']:.2f} s "
          f"for {res['sequences']:,} sequences")  # fmt: skip
    print(
        f"loader, rank 0 of 2: {res_dp['samples_per_s']:,.0f} samples/s, {res_dp['tokens_per_s']:,.0f} tokens/s"
    )
    print(f"greedy blending order for 1,000,000 sequences x 3 sources: {greedy_1m:.2f} s (once, at start)")
    print(f"trainer: {trainer_tps:,.0f} tokens/s ({trainer_src}); step {1000 * step_s:.1f} ms")
    print(f"ratio loader/trainer throughput: {res['tokens_per_s'] / trainer_tps:,.0f}x (target >= 20x)")
    print(f"loader share of a step: {100 * load_s / (load_s + step_s):.3f}% (target < 2%)")
    ref_step_s = args.micro * 128 / REFERENCE_TRAINER_TOKENS_PER_S
    print(f"vs the REFERENCE 5k tokens/s trainer: {res['tokens_per_s'] / REFERENCE_TRAINER_TOKENS_PER_S:,.0f}x, "
          f"loader share {100 * load_s / (load_s + ref_step_s):.3f}%")  # fmt: skip


if __name__ == "__main__":
    main()
