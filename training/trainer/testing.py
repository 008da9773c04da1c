"""A tiny, instant training workspace (tokenizer, token shards, plan) for tests, benches and demos,
and `assert_export_agrees_and_stops_at_eos`, the check every exported model passes.

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
    plan_path = write_test_plan(root / "plan.parquet", sources, phases, seq_lens)
    return tokens_dir, plan_path


def write_test_plan(
    plan_path: Path,
    sources: dict[str, str],
    phases: list[dict[str, int]],
    seq_lens: list[int],
    *,
    tiers: dict[str, float] | None = None,
) -> Path:
    """plan.parquet (+ a plan.json) with the loader's columns: phases list {source: num_sequences};
    ``tiers`` (source -> mean difficulty) fills the curriculum's ``tier`` column."""
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
                    tier=None if tiers is None else tiers.get(source),
                )
            )
        token_cursor += total * seq_lens[p]
    pl.DataFrame(rows, schema_overrides={"tier": pl.Float64}).write_parquet(plan_path)
    within = "none" if tiers is None else "difficulty"
    meta = {"note": "tiny test plan", "config": {"curriculum": {"within_phase": within, "descending": False}}}
    plan_path.with_name("plan.json").write_text(json.dumps(meta))
    return plan_path


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


def _force_token_at(token: int, at: int, prompt_len: int):
    import torch
    from transformers import LogitsProcessor

    class ForceTokenAt(LogitsProcessor):
        """Make the model emit ``token`` as its ``at``-th new token (to see whether generation stops)."""

        def __init__(self, token: int, at: int, prompt_len: int):
            self.token, self.at, self.prompt_len = token, at, prompt_len

        def __call__(self, input_ids, scores):
            if input_ids.shape[1] - self.prompt_len == self.at:
                scores = torch.full_like(scores, -float("inf"))
                scores[:, self.token] = 0.0
            return scores

    return ForceTokenAt(token, at, prompt_len)


def assert_export_agrees_and_stops_at_eos(
    folder: Path, *, max_new_tokens: int = 24, prompt_ids: tuple[int, ...] = (3, 4, 5)
) -> None:
    """Configs and tokenizer name the same ids; generate() stops exactly at the tokenizer's EOS."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    config = json.loads((folder / "config.json").read_text())
    generation = json.loads((folder / "generation_config.json").read_text())
    assert tok.eos_token_id is not None
    for key, tok_id in (
        ("eos_token_id", tok.eos_token_id),
        ("bos_token_id", tok.bos_token_id),
        ("pad_token_id", tok.pad_token_id),
    ):
        assert config.get(key) == tok_id, f"config.json {key}"
        assert generation.get(key) == tok_id, f"generation_config.json {key}"
    prompt = torch.tensor([prompt_ids])
    torch.manual_seed(0)
    forced = model.generate(
        prompt,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        logits_processor=LogitsProcessorList([_force_token_at(tok.eos_token_id, 5, prompt.shape[1])]),
    )
    new = forced[0, prompt.shape[1] :].tolist()
    assert new[-1] == tok.eos_token_id and len(new) == 6, new  # stopped right at the forced EOS
    # Sampling freely: a sequence ends early only at the tokenizer's EOS, never at another token.
    sampled = model.generate(
        prompt.repeat(16, 1), max_new_tokens=max_new_tokens, do_sample=True, pad_token_id=tok.pad_token_id
    )
    for row in sampled[:, prompt.shape[1] :].tolist():
        ended = [i for i, t in enumerate(row) if t == tok.eos_token_id]
        if ended:
            assert all(t == tok.pad_token_id for t in row[ended[0] + 1 :])
        else:
            assert len(row) == max_new_tokens
