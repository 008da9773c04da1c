"""A within-phase difficulty curriculum acts: on real GSM8K, batches get harder through the phase.

Difficulty is a simple proxy written into the curated metadata the way curation does
(``difficulty_tier``): the number of calculator steps (``<<...>>``) in the solution. Tokenization
carries it beside the shards; the loader, configured from a TrainConfig (``data.curriculum: auto``
and a plan whose ``tier`` is set), streams the math documents easiest first while general text
stays interleaved. The test measures difficulty from the batches' decoded text, not from the keys.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from shared_data import GSM8K, LLAMA, WIKITEXT, gsm8k_rows, needs_shared, write_curated

from training.tokenize import TokenizeConfig, tokenize_curated
from training.trainer import setup
from training.trainer.testing import tiny_train_config, write_test_plan


def steps(text: str) -> int:
    return text.count("<<")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("curriculum")
    rows = gsm8k_rows(600)
    texts = [f"Question: {r['question']}\nAnswer: {r['answer']}" for r in rows]
    write_curated(root / "cur", "math", texts, [{"difficulty_tier": steps(t)} for t in texts])
    general = [line for line in WIKITEXT.read_text().split("\n") if len(line) > 200]
    write_curated(root / "cur", "general", general[:300])
    tokenize_curated(root / "cur", root / "tokens", TokenizeConfig(tokenizer=str(LLAMA)))
    return root


def batch_difficulty(workspace, curriculum: str) -> tuple[list[float], list[float]]:
    """Per micro-batch: mean calculator steps per math question, and the math share of rows."""
    from tokenizers import Tokenizer

    phases = [{"math": 96, "general": 32}]
    write_test_plan(
        workspace / "plan.parquet",
        {"math": "math", "general": "general"},
        phases,
        [256],
        tiers={"math": 2.0, "general": 0.0},
    )
    cfg = tiny_train_config(
        workspace, tokens_dir=workspace / "tokens", micro_batch_size=8, data={"curriculum": curriculum}
    )
    plan = pl.read_parquet(workspace / "plan.parquet")
    loader = setup.make_loader(cfg, plan, rank=0, world_size=1)
    tok = Tokenizer.from_file(str(LLAMA))
    means, shares = [], []
    for batch in loader:
        rows = [i for i, s in enumerate(batch.sources) if s == "math"]
        text = "".join(tok.decode(batch.input_ids[i].tolist(), skip_special_tokens=False) for i in rows)
        questions = max(text.count("Question:"), 1)
        means.append(steps(text) / questions)
        shares.append(len(rows) / len(batch.sources))
    return means, shares


def rank_correlation(values: list[float]) -> float:
    ranks = np.argsort(np.argsort(values))
    return float(np.corrcoef(np.arange(len(values)), ranks)[0, 1])


@needs_shared
def test_difficulty_rises_through_the_phase_with_the_curriculum(workspace):
    means, shares = batch_difficulty(workspace, "auto")
    assert len(means) == 16
    assert rank_correlation(means) > 0.8, means
    quarter = len(means) // 4
    assert np.mean(means[-quarter:]) > 2 * np.mean(means[:quarter]), means
    assert all(0.5 <= s <= 1.0 for s in shares)  # general text still interleaved in every batch
    off, _ = batch_difficulty(workspace, "off")
    assert abs(rank_correlation(off)) < 0.6, off  # without it, no trend


@needs_shared
def test_tokenize_writes_per_document_difficulty_beside_the_shards(workspace):
    shard = sorted((workspace / "tokens" / "math").glob("*.ds"))[0]
    values = np.fromfile(f"{shard}.difficulty", dtype="<f4")
    expected = [steps(f"Question: {r['question']}\nAnswer: {r['answer']}") for r in gsm8k_rows(600)]
    assert values.tolist() == expected
    assert not list((workspace / "tokens" / "general").glob("*.difficulty"))  # no metadata, no file
    assert GSM8K.is_file()
