"""Synthesis on the CPU path: throughput vs a plain ``model.generate`` loop, runner overhead,
the cost of checkpoints + request cache, resume after a crash, and grader agreement.

One process, the same prompts (real WikiText-2 paragraphs under the WRAP wiki-rephrase prompt) and
the same tiny random Llama (tokenizer trained here on the same text; nothing downloaded):

1. ``generate`` loop: one prompt at a time, greedy, ``max_new_tokens`` each (the baseline).
2. batched ``generate``: the same, ``--batch`` prompts at a time (what the local server does).
3. midtrain: datatrove's ``InferenceRunner`` with the local backend (``custom`` server), no
   checkpoints; then with checkpoints + request cache; then a rerun of the finished run; then a
   run that crashes at half (``MIDTRAIN_SYNTH_FAIL_AFTER``) and its resume.
4. grading: the deterministic ``rule:edu_grade`` grader over real paragraphs, distilled into
   fastText; Spearman and F1 against the grader on held-out paragraphs.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_curation_synth.py [--docs 96] [--new-tokens 32]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREADS = 1
sys.path.insert(0, str(ROOT))


def _paragraphs(n: int) -> list[str]:
    from curation.real_sets import find_shared_data, paragraphs

    data = find_shared_data()
    if data is None:
        raise SystemExit("needs the shared data folder (../shared/data, see its README)")
    out = [p for p in paragraphs(data / "wikitext2_valid.txt") if 300 <= len(p) <= 1200]
    return out[:n]


def _plain(model_dir: Path, prompts: list[str], new_tokens: int, batch: int) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    generated = 0
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(prompts), batch):
            enc = tok(prompts[i : i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
            out = model.generate(
                **enc, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id
            )
            generated += int((out[:, enc["input_ids"].shape[1] :] != tok.pad_token_id).sum())
    return time.perf_counter() - start, generated


def _runner(work: Path, model_dir: Path, new_tokens: int, batch: int, *, checkpoints: bool) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from curation.stats.merge import load_stage_stats
    from curation.synth.backend import SynthRunner, inference_config
    from curation.synth.config import BackendConfig, GenerationConfig
    from curation.synth.steps import SynthRollout

    backend = BackendConfig(
        kind="local", model=str(model_dir), batch_size=batch, max_concurrent=batch * 2, threads=THREADS
    )
    generation = GenerationConfig(max_new_tokens=new_tokens, temperature=0.0)
    rollout = SynthRollout(
        output_source="bench",
        template="{text}",
        style=None,
        chat=False,
        max_input_chars=100_000,
        min_output_chars=0,
        keep_truncated=True,
    )
    runner = SynthRunner(
        rollout,
        inference_config(backend, generation),
        JsonlWriter(str(work / "out"), output_filename="${rank}_chunk_${chunk_index}.jsonl.gz"),
        checkpoints_local_dir=str(work / "ckpt") if checkpoints else None,
        records_per_chunk=16,
    )
    reader = JsonlReader(str(work.parent / "prompts"), glob_pattern="*.jsonl.gz", add_file_path=False)
    start = time.perf_counter()
    error = None
    try:
        LocalPipelineExecutor([reader, runner], tasks=1, workers=1, logging_dir=str(work / "logs")).run()
    except Exception as e:  # the simulated crash
        error = type(e).__name__
    wall = time.perf_counter() - start
    stats = load_stage_stats(work / "logs")
    inference_s = completion = 0.0
    for step in stats.stats if stats else []:
        if "inference_time" in step.stats:
            inference_s = float(step.stats["inference_time"]["total"])
            completion = float(step.stats.get("completion_tokens", {}).get("total", 0))
    return {"wall_s": wall, "inference_s": inference_s, "completion_tokens": completion, "error": error}


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _window(path: Path, skip: int) -> float:
    """Seconds from the first batch start to the last batch end among lines after ``skip``
    (the server's count file): generation time without the server's start."""
    spans = [tuple(map(float, line.split())) for line in path.read_text().splitlines()[skip:]]
    return max(e for _, e in spans) - min(s for s, _ in spans)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=96)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved repeats; medians are printed")
    parser.add_argument("--grade-sample", type=int, default=800)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, baseline and server alike")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    global THREADS
    THREADS = args.threads
    from curation.synth.prompts import PROMPTS, render
    from curation.synth.tiny import write_tiny_generator

    texts = _paragraphs(args.docs)
    template = PROMPTS["rephrase_wiki"][1]
    prompts = [render(template, text=t, max_chars=6000) for t in texts]
    tmp = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    model_dir = write_tiny_generator(tmp / "gen", texts, vocab_size=2000, hidden_size=128, num_layers=4)
    num_params = sum(
        p.numel()
        for p in __import__("transformers").AutoModelForCausalLM.from_pretrained(model_dir).parameters()
    )
    (tmp / "prompts").mkdir()
    with gzip.open(tmp / "prompts" / "00000.jsonl.gz", "wt") as f:
        for i, p in enumerate(prompts):
            f.write(json.dumps({"id": f"p{i}", "text": p}) + "\n")
    n, k = len(prompts), args.new_tokens
    print(
        f"# {platform.node()} {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(
        f"# {n} WikiText-2 paragraphs, wiki-rephrase prompt, tiny Llama {num_params:,} params, greedy {k} new tokens"
    )
    rows = []
    counter = tmp / "count.txt"
    os.environ["MIDTRAIN_SYNTH_COUNT_FILE"] = str(counter)
    runs: dict[str, list[tuple[float, float]]] = {"loop": [], "batched": [], "nock": [], "ck": []}
    walls: dict[str, list[float]] = {"nock": [], "ck": []}
    for r in range(args.repeat):  # interleaved, so a change in machine load hits every variant
        runs["loop"].append(_plain(model_dir, prompts, k, 1))
        runs["batched"].append(_plain(model_dir, prompts, k, args.batch))
        for key, ck in (("nock", False), ("ck", True)):
            skip = _count(counter)
            res = _runner(tmp / f"run_{key}{r}", model_dir, k, args.batch, checkpoints=ck)
            runs[key].append((_window(counter, skip), res["completion_tokens"]))
            walls[key].append(res["wall_s"])
    med = {key: sorted(v)[len(v) // 2] for key, v in runs.items()}  # median by seconds
    spread = {key: f"{min(s for s, _ in v):.1f}-{max(s for s, _ in v):.1f} s" for key, v in runs.items()}
    names = {
        "loop": "generate loop (1 prompt at a time)",
        "batched": f"batched generate ({args.batch} at a time)",
        "nock": "midtrain runner (local backend), no checkpoints",
        "ck": "midtrain runner (local backend), checkpoints + request cache",
    }
    for key, (sec, tokens) in med.items():
        note = f"range {spread[key]}"
        if key in walls:
            note += f"; wall {sorted(walls[key])[len(walls[key]) // 2]:.1f} s with server start"
        rows.append((names[key], sec, n / sec, tokens / sec, note))
    loop_s, b_s = med["loop"][0], med["batched"][0]
    plain = {"gen_s": med["nock"][0], "wall_s": sorted(walls["nock"])[len(walls["nock"]) // 2]}
    ck = {"gen_s": med["ck"][0]}
    (tmp / "run_ck").mkdir()
    _runner(tmp / "run_ck", model_dir, k, args.batch, checkpoints=True)
    before = _count(counter)
    (tmp / "run_ck" / "logs" / "completions" / "00000").unlink()
    rerun = _runner(tmp / "run_ck", model_dir, k, args.batch, checkpoints=True)
    rows.append(
        (
            "rerun of the finished run (marker removed)",
            rerun["wall_s"],
            None,
            None,
            f"{_count(counter) - before} generations",
        )
    )
    os.environ["MIDTRAIN_SYNTH_FAIL_AFTER"] = str(n // 2)
    before = _count(counter)
    crash = _runner(tmp / "run_crash", model_dir, k, args.batch, checkpoints=True)
    first = _count(counter) - before
    del os.environ["MIDTRAIN_SYNTH_FAIL_AFTER"]
    before = _count(counter)
    resume = _runner(tmp / "run_crash", model_dir, k, args.batch, checkpoints=True)
    second = _count(counter) - before
    rows.append(
        (
            f"crash after {n // 2} generations, then resume",
            crash["wall_s"] + resume["wall_s"],
            None,
            None,
            f"{first} + {second} generations for {n} docs ({crash['error']}); "
            f"regenerated: {first + second - n} (in flight at the crash)",
        )
    )
    print("\n| run | wall s | docs/s | generated tokens/s | note |\n|---|---|---|---|---|")
    for name, wall, dps, tps, note in rows:
        fmt = lambda v, f: f.format(v) if v is not None else "-"  # noqa: E731
        print(f"| {name} | {wall:.1f} | {fmt(dps, '{:.2f}')} | {fmt(tps, '{:.0f}')} | {note} |")
    loop_rate = n / loop_s
    print(f"\n(medians of {args.repeat} interleaved repeats; load average now {os.getloadavg()[0]:.1f})")
    print(
        f"\nrunner vs generate loop: {n / plain['gen_s'] / loop_rate:.2f}x docs/s; "
        f"runner vs batched generate: {n / plain['gen_s'] / (n / b_s):.2f}x; "
        f"checkpoints + cache cost: {ck['gen_s'] / plain['gen_s'] - 1:+.1%} generation time; "
        f"server start + set-up: {plain['wall_s'] - plain['gen_s']:.1f} s per task"
    )
    del os.environ["MIDTRAIN_SYNTH_COUNT_FILE"]
    _grade(tmp, args.grade_sample)


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _grade(tmp: Path, sample: int) -> None:
    from curation.real_sets import find_shared_data, paragraphs
    from curation.synth.grade import run_grading
    from curation.synth.grade_config import GradeConfig

    data = find_shared_data()
    texts = [p for p in paragraphs(data / "wikitext2_valid.txt") if len(p) >= 200]
    texts += [p for p in paragraphs(data / "tinyshakespeare.txt") if len(p) >= 200]
    (tmp / "grade_in").mkdir()
    with gzip.open(tmp / "grade_in" / "00000.jsonl.gz", "wt") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"g{i}", "text": t}) + "\n")
    config = GradeConfig.model_validate(
        {
            "backend": {"kind": "local", "model": "rule:edu_grade", "max_concurrent": 32},
            "inputs": [str(tmp / "grade_in")],
            "sample": sample,
            "threshold": 1,
            "max_grade": 5,
            "fasttext": {"balance": True},
        }
    )
    start = time.perf_counter()
    r = run_grading(config, tmp / "grade")
    print(
        f"\ngrading ({len(texts)} WikiText-2 + Shakespeare paragraphs, {r.num_graded} graded by rule:edu_grade, "
        f"threshold {r.threshold}, {time.perf_counter() - start:.1f} s): histogram {r.grade_histogram}; "
        f"distilled fastText on {r.num_train}, held out {r.num_heldout}: Spearman {_f(r.spearman)}, "
        f"precision {_f(r.precision)}, recall {_f(r.recall)}, F1 {_f(r.f1)}"
    )


if __name__ == "__main__":
    main()
