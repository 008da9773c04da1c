"""A real 32k Llama tokenizer end to end (tokenize, train, export, load, generate), and uint32 shards.

The Llama tokenizer and GSM8K come from ../shared/data (CI has it; a fresh clone does not, so
those tests skip). The >65,536-token vocabulary is built here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from shared_data import LLAMA, gsm8k_rows, needs_shared, write_curated

from training.tokenize import TokenizeConfig, tokenize_curated
from training.trainer.testing import assert_export_agrees_and_stops_at_eos, write_test_plan


def shard_docs(folder: Path) -> tuple[list[np.ndarray], int]:
    """Documents of one source's shards, and bytes per token."""
    docs, width = [], 0
    for ds in sorted(folder.glob("*.ds")):
        ends = np.fromfile(f"{ds}.index", dtype="<u8").astype(np.int64)
        width = ds.stat().st_size // int(ends[-1])
        tokens = np.fromfile(ds, dtype="<u2" if width == 2 else "<u4")
        docs += np.split(tokens, ends[:-1])
    return docs, width


@needs_shared
@pytest.mark.slow
def test_llama_tokenizer_tokenize_train_export_generate(tmp_path):
    from tokenizers import Tokenizer

    from training.trainer import train
    from training.trainer.testing import tiny_train_config

    texts = [f"Question: {r['question']}\nAnswer: {r['answer']}" for r in gsm8k_rows(160)]
    write_curated(tmp_path / "cur", "math", texts)
    counts = tokenize_curated(tmp_path / "cur", tmp_path / "tokens", TokenizeConfig(tokenizer=str(LLAMA)))
    meta = json.loads((tmp_path / "tokens" / "tokenize.json").read_text())
    assert (meta["bos_token"], meta["bos_token_id"], meta["eos_token"], meta["eos_token_id"]) == (
        "<s>",
        1,
        "</s>",
        2,
    )
    assert meta["vocab_size"] == 32003
    docs, width = shard_docs(tmp_path / "tokens" / "math")
    assert width == 2 and len(docs) == counts["num_docs"][0] == len(texts)
    llama = Tokenizer.from_file(str(LLAMA))
    for text, doc in zip(texts[:20], docs, strict=False):
        # the tokenizer's own encoding (which starts with <s>) then its own EOS </s>, nothing else
        assert doc.tolist() == llama.encode(text).ids + [2]

    write_test_plan(tmp_path / "plan.parquet", {"math": "math"}, [{"math": 64}], [64])
    cfg = tiny_train_config(
        tmp_path,
        tokens_dir=tmp_path / "tokens",
        model={"tiny": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2}},
        micro_batch_size=8,
        global_batch_tokens=512,
        checkpoint={"final_export": True},
    )
    result = train(cfg)
    config = json.loads((result.final_hf_dir / "config.json").read_text())
    assert (config["vocab_size"], config["bos_token_id"], config["eos_token_id"]) == (32003, 1, 2)
    prompt = llama.encode("Question: Natalia sold clips").ids
    assert_export_agrees_and_stops_at_eos(result.final_hf_dir, prompt_ids=tuple(prompt))


def test_vocabulary_over_65536_gives_uint32_shards_the_loader_reads(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    from training.data import PlanLoader

    vocab = {f"w{i}": i for i in range(70_000)}
    vocab["<|endoftext|>"] = 70_000
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(["<|endoftext|>"])
    tok.save(str(tmp_path / "big.json"))
    rng = np.random.default_rng(0)
    ids = [rng.integers(60_000, 70_000, size=int(rng.integers(5, 40))) for _ in range(30)]
    write_curated(tmp_path / "cur", "web", [" ".join(f"w{i}" for i in doc) for doc in ids])
    tokenize_curated(
        tmp_path / "cur", tmp_path / "tokens", TokenizeConfig(tokenizer=str(tmp_path / "big.json"))
    )
    docs, width = shard_docs(tmp_path / "tokens" / "web")
    assert width == 4
    assert [d.tolist() for d in docs] == [doc.tolist() + [70_000] for doc in ids]
    plan = write_test_plan(tmp_path / "plan.parquet", {"web": "general"}, [{"web": 4}], [16])
    import polars as pl

    batch = next(iter(PlanLoader(tmp_path / "tokens", pl.read_parquet(plan), micro_batch_size=4)))
    assert int(batch.input_ids.max()) > 65_535
    stream = np.concatenate([d for d in docs])
    assert set(batch.input_ids.flatten().tolist()) <= set(stream.tolist())
