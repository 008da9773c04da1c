"""A tiny, instant training workspace (tokenizer, token shards, plan) for tests, benches and demos.

`write_tiny_workspace(root)` writes `root/tokens/tokenizer.json` (a word-level tokenizer with an
`<|endoftext|>` EOS), `root/tokens/<source>/000.ds(.index)` in datatrove's shard format, and
`root/plan.parquet` with the plan columns the loader reads. Token ids are seeded random
documents, so losses are reproducible. Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

EOS = "<|endoftext|>"


def write_tokenizer(path: Path, vocab_size: int) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {f"w{i}": i for i in range(vocab_size - 1)}
    vocab[EOS] = vocab_size - 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens([EOS])
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def write_shard(folder: Path, docs: list[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.concatenate(docs).astype("<u2").tofile(folder / "000.ds")
    np.cumsum([len(d) for d in docs]).astype("<u8").tofile(folder / "000.ds.index")


def write_tiny_workspace(
    root: Path,
    *,
    vocab_size: int = 256,
    sources: dict[str, str] | None = None,
    phases: list[dict[str, int]] | None = None,
    seq_len: int | list[int] = 32,
    num_docs: int = 200,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write tokens/ and plan.parquet under root; return (tokens_dir, plan_path).

    sources maps source -> domain; phases lists {source: num_sequences} per phase; seq_len is one
    value or one per phase. Each source's documents draw from its own token range, so domains differ.
    """
    root = Path(root)
    sources = sources or {"web": "general", "code": "code"}
    phases = phases or [{s: 32 for s in sources}]
    seq_lens = seq_len if isinstance(seq_len, list) else [seq_len] * len(phases)
    tokens_dir = root / "tokens"
    write_tokenizer(tokens_dir / "tokenizer.json", vocab_size)
    rng = np.random.default_rng(seed)
    eos = vocab_size - 1
    for k, source in enumerate(sources):
        lo = 1 + k * (eos - 1) // (2 * len(sources))
        docs = []
        for _ in range(num_docs):
            n = int(rng.integers(4, 3 * max(seq_lens) // 2))
            # a bigram-ish stream: learnable, so loss visibly falls in a few steps
            start = int(rng.integers(lo, lo + (eos - 1) // 2))
            body = (start + np.arange(n) * (k + 1)) % (eos - 1) + 1
            docs.append(np.append(body, eos))
        write_shard(tokens_dir / source, docs)
    rows, token_cursor = [], 0
    for p, counts in enumerate(phases):
        total = sum(counts.values())
        for order, (source, n) in enumerate(counts.items()):
            rows.append(
                dict(
                    phase=p,
                    phase_name=f"phase{p}",
                    source=source,
                    domain=sources[source],
                    num_tokens=n * seq_lens[p],
                    num_sequences=n,
                    share=n / total,
                    epochs=0.0,
                    effective_tokens=0.0,
                    order=order,
                    phase_start_token=token_cursor,
                    phase_end_token=token_cursor + total * seq_lens[p],
                    phase_start_step=0,
                    phase_end_step=0,
                    seq_len=seq_lens[p],
                )
            )
        token_cursor += total * seq_lens[p]
    plan_path = root / "plan.parquet"
    pl.DataFrame(rows).write_parquet(plan_path)
    (root / "plan.json").write_text(json.dumps({"note": "tiny test plan"}))
    return tokens_dir, plan_path


def tiny_train_config(root: Path, **overrides):
    """A TrainConfig for the tiny workspace: ~0.1M-param Llama, 512-token steps, quiet."""
    from training.config import TrainConfig

    root = Path(root)
    if not (root / "plan.parquet").is_file():
        write_tiny_workspace(root)
    base = dict(
        run_dir=root / "run",
        tokens_dir=root / "tokens",
        plan_path=root / "plan.parquet",
        model={"tiny": {"hidden_size": 64, "intermediate_size": 176}},
        micro_batch_size=4,
        global_batch_tokens=256,
        optimizer={"lr": 3e-3},
        scheduler={"kind": "constant"},
        checkpoint={"final_export": False},
        log_every=1,
        progress=False,
    )
    base.update(overrides)
    return TrainConfig.model_validate(base)


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
