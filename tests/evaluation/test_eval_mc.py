"""Multiple choice by log-likelihood picks the choice the model scores highest."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import write_jsonl

from evaluation.benchmarks.multiple_choice import build_context, loglikelihoods, run_multiple_choice


def _direct_loglik(loaded, context: str, continuation: str) -> float:
    tok = loaded.tokenizer
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    cont = tok(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = loaded.model(input_ids=torch.tensor([ctx + cont])).logits[0]
    logprobs = F.log_softmax(logits.float(), dim=-1)
    return sum(float(logprobs[len(ctx) - 1 + i, t]) for i, t in enumerate(cont))


def test_batched_logliks_match_one_at_a_time(loaded_base):
    pairs = [
        ("Question: what flows?\nAnswer:", " the river"),
        ("Question: 2 + 2?\nAnswer:", " 4"),
        ("Q:", " a much longer continuation with several more tokens in it"),
    ]
    batched = loglikelihoods(loaded_base, pairs, batch_size=3)
    assert batched == pytest.approx([_direct_loglik(loaded_base, c, k) for c, k in pairs], rel=1e-4, abs=1e-4)


def test_mc_picks_the_max_loglik_choice(tmp_path, loaded_base):
    choices = ["the river", "apples", "def add(a, b)", "green hills and a quiet valley"]
    question = "What flows past the old mill?"
    scores = [_direct_loglik(loaded_base, build_context(question), " " + c) for c in choices]
    best = max(range(4), key=scores.__getitem__)
    worst = min(range(4), key=scores.__getitem__)
    path = write_jsonl(
        tmp_path / "mc.jsonl",
        [
            {"question": question, "choices": choices, "answer": best},
            {"question": question, "choices": choices, "answer": worst},
        ],
    )
    rows, samples = run_multiple_choice(loaded_base, [path], limit=None, batch_size=3)
    assert [s["pred"] for s in samples] == [best, best]
    acc = next(r for r in rows if r["metric"] == "acc")
    assert acc == {"task": "mc:mc", "metric": "acc", "value": 0.5, "n": 2}
