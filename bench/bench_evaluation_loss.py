"""Held-out loss throughput: midtrain's packed evaluation vs a plain transformers loop, same model.

Both score the same documents with the same model in one process, alternating runs:

- midtrain: ``evaluation.loss.domain_losses`` (documents packed into seq_len windows with EOS,
  position ids reset per document, lm head only on scored positions, inference mode).
- baseline: the usual loop: documents in batches, right-padded to the longest in the batch with an
  attention mask, ``model(input_ids, attention_mask, labels=...)``, under ``torch.no_grad()``.

Prints tokens/s (scored tokens) for each and the ratio. Run with ``nice -n 10`` on a shared machine.

    python bench/bench_evaluation_loss.py [--docs 400] [--seq-len 512] [--batch-size 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "evaluation"))
from conftest import DOMAINS, tiny_llama, train_tokenizer  # noqa: E402

from evaluation.loss import domain_losses  # noqa: E402


def make_docs(num_docs: int, seed: int = 0) -> list[str]:
    """Documents of varied length (1-12 sentences), as held-out slices are."""
    rng = random.Random(seed)
    pool = [t for texts in DOMAINS.values() for t in texts]
    return [" ".join(rng.choice(pool) for _ in range(rng.randint(1, 12))) for _ in range(num_docs)]


@torch.no_grad()
def baseline_loss(model, tokenizer, texts: list[str], *, batch_size: int, seq_len: int) -> tuple[float, int]:
    eos = tokenizer.eos_token_id
    docs = [(tokenizer(t, add_special_tokens=False)["input_ids"] + [eos])[:seq_len] for t in texts]
    total, count = 0.0, 0
    for i in range(0, len(docs), batch_size):
        chunk = docs[i : i + batch_size]
        width = max(len(d) for d in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, d in enumerate(chunk):
            ids[row, : len(d)] = torch.tensor(d)
            mask[row, : len(d)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
        scored = int((labels[:, 1:] != -100).sum())
        total += float(loss) * scored
        count += scored
    return total / count, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=4000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    tokenizer = train_tokenizer(vocab_size=args.vocab)
    model = tiny_llama(
        max(len(tokenizer), args.vocab),
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 8 // 3,
        num_hidden_layers=args.layers,
        num_attention_heads=6,
        num_key_value_heads=2,
    )
    model.to(args.device).eval()
    texts = make_docs(args.docs)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"model: {params / 1e6:.2f}M params, vocab {model.config.vocab_size}, {args.docs} docs, seq_len {args.seq_len}, "
        f"batch {args.batch_size}, device {args.device}, torch threads {torch.get_num_threads()}"
    )

    def ours():
        rows = domain_losses(
            model,
            tokenizer,
            {"all": texts},
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            seq_len=args.seq_len,
            batch_size=args.batch_size,
            max_tokens_per_domain=None,
        )
        return rows[0]["value"], rows[0]["n"]

    def plain():
        return baseline_loss(model, tokenizer, texts, batch_size=args.batch_size, seq_len=args.seq_len)

    ours(), plain()  # warm-up (allocator, kernels)
    times = {"midtrain": [], "baseline": []}
    results = {}
    for _ in range(args.repeats):
        for name, fn in (("midtrain", ours), ("baseline", plain)):
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    rates = {}
    for name, (loss, count) in results.items():
        best = min(times[name])
        rates[name] = count / best
        print(
            f"{name:9s} loss {loss:.5f} on {count} tokens: best {best:.3f}s of {args.repeats} "
            f"-> {rates[name]:,.0f} tokens/s"
        )
    print(f"ratio midtrain / baseline: {rates['midtrain'] / rates['baseline']:.2f}x")


if __name__ == "__main__":
    main()
