"""Multiple choice by log-likelihood: the choice with the highest log p(choice | question) wins.

Context ``"Question: {question}\\nAnswer:"`` and continuation ``" {choice}"`` are tokenized apart and
concatenated (as lm-eval does), so a choice's tokens do not depend on the context's last token.
``acc`` uses the summed log-likelihood; ``acc_norm`` divides it by the choice's length in characters.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from evaluation.evalsets import evalset_name, read_evalset


def build_context(question: str) -> str:
    return f"Question: {question.strip()}\nAnswer:"


@torch.inference_mode()
def loglikelihoods(loaded, pairs: list[tuple[str, str]], *, batch_size: int) -> list[float]:
    """Summed log p(continuation | context) for each (context, continuation) pair."""
    tokenizer, model = loaded.tokenizer, loaded.model
    encoded = []
    for context, continuation in pairs:
        ctx = tokenizer(context, add_special_tokens=False)["input_ids"] or [loaded.eos_token_id]
        cont = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        assert cont, f"empty continuation {continuation!r}"
        encoded.append((ctx, cont))
    scores: list[float] = []
    for i in range(0, len(encoded), batch_size):
        chunk = encoded[i : i + batch_size]
        width = max(len(c) + len(k) for c, k in chunk)
        input_ids = torch.full((len(chunk), width), loaded.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (ctx, cont) in enumerate(chunk):  # right padding: positions stay 0..n-1
            ids = ctx + cont
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
        logits = model(
            input_ids=input_ids.to(loaded.device), attention_mask=attention.to(loaded.device), use_cache=False
        ).logits.float()
        logprobs = F.log_softmax(logits, dim=-1)
        for row, (ctx, cont) in enumerate(chunk):
            start = len(ctx)
            predicted = logprobs[row, start - 1 : start - 1 + len(cont)]
            gold = torch.tensor(cont, device=predicted.device)
            scores.append(float(predicted.gather(-1, gold[:, None]).sum()))
    return scores


def predict(loaded, record: dict, *, batch_size: int) -> tuple[int, int, list[float]]:
    """(argmax by loglik, argmax by length-normalised loglik, logliks) for one item."""
    context = build_context(record["question"])
    scores = loglikelihoods(loaded, [(context, " " + c) for c in record["choices"]], batch_size=batch_size)
    normed = [s / max(1, len(c)) for s, c in zip(scores, record["choices"], strict=True)]
    return (
        max(range(len(scores)), key=scores.__getitem__),
        max(range(len(normed)), key=normed.__getitem__),
        scores,
    )


def run_multiple_choice(loaded, files: list[Path], *, limit: int | None, batch_size: int):
    """Eval rows (task ``mc:<file stem>``, metrics acc and acc_norm) and per-item samples."""
    rows, samples = [], []
    for path in files:
        records = read_evalset(path, "mc", limit=limit)
        pairs = [(build_context(r["question"]), " " + c) for r in records for c in r["choices"]]
        scores = loglikelihoods(loaded, pairs, batch_size=batch_size)
        correct = correct_norm = 0
        offset = 0
        for record in records:
            k = len(record["choices"])
            item = scores[offset : offset + k]
            offset += k
            normed = [s / max(1, len(c)) for s, c in zip(item, record["choices"], strict=True)]
            pick = max(range(k), key=item.__getitem__)
            pick_norm = max(range(k), key=normed.__getitem__)
            correct += pick == record["answer"]
            correct_norm += pick_norm == record["answer"]
            samples.append(
                {
                    "file": str(path),
                    "line": record["_line"],
                    "loglik": item,
                    "pred": pick,
                    "answer": record["answer"],
                }
            )
        n = len(records)
        task = f"mc:{evalset_name(path)}"
        rows += [
            {"task": task, "metric": "acc", "value": correct / n, "n": n},
            {"task": task, "metric": "acc_norm", "value": correct_norm / n, "n": n},
        ]
    return rows, samples
