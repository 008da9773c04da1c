"""Tokenization: curated jsonl.gz -> datatrove shards with EOS, exact counts, inventory update."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from tokenizers import Tokenizer

from training.data import PlanLoader
from training.tokenize import TokenizeConfig, tokenize_curated

WORDS = [
    "the",
    "of",
    "a",
    "model",
    "train",
    "data",
    "token",
    "loss",
    "step",
    "math",
    "code",
    "sum",
    "proof",
    "def",
    "return",
    "x",
    "y",
    "1",
    "2",
    "3",
    "+",
]


def _write_curated(root: Path) -> dict[str, list[str]]:
    rng = random.Random(0)
    texts = {}
    for source, num_files, num_docs in (("general", 2, 40), ("math", 1, 30)):
        folder = root / "curated" / source
        folder.mkdir(parents=True)
        texts[source] = []
        for f in range(num_files):
            with gzip.open(folder / f"{f:05d}.jsonl.gz", "wt") as fh:
                for i in range(num_docs):
                    text = " ".join(rng.choices(WORDS, k=rng.randint(3, 60)))
                    if i == 0:
                        text += "\nünïcødé ✓ 数学"  # byte-level BPE must round-trip any UTF-8
                    texts[source].append(text)
                    fh.write(json.dumps({"text": text, "id": f"{source}-{f}-{i}", "metadata": {}}) + "\n")
    inventory = pl.DataFrame(
        {
            "source": ["general", "math", "untokenized"],
            "domain": ["general", "math", "code"],
            "num_docs": [80, 30, 5],
            "num_tokens": [999, 999, 123],
            "num_tokens_estimated": [True, True, True],
            "mean_quality": [None, None, None],
            "mean_difficulty": [0.0, 0.0, 0.0],
            "path": ["x", "y", "z"],
        },
        schema_overrides={"mean_quality": pl.Float64},
    )
    inventory.write_parquet(root / "inventory.parquet")
    return texts


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    texts = _write_curated(root / "run")
    counts = tokenize_curated(root / "run", root / "tokens", TokenizeConfig(vocab_size=300))
    return root, texts, counts


def _shard_docs(folder: Path) -> list[np.ndarray]:
    docs = []
    for ds in sorted(folder.glob("*.ds")):
        tokens = np.fromfile(ds, dtype="<u2")
        ends = np.fromfile(ds.with_name(ds.name + ".index"), dtype="<u8")
        docs += np.split(tokens, ends[:-1].astype(np.int64))
    return docs


def test_round_trip_with_trained_tokenizer_eos_and_exact_counts(tokenized):
    root, texts, counts = tokenized
    tok = Tokenizer.from_file(str(root / "tokens" / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    assert tok.get_vocab_size() == 300 and tok.token_to_id("<|pad|>") is not None
    for source, expected in texts.items():
        docs = _shard_docs(root / "tokens" / source)
        assert len(docs) == len(expected)
        for doc, text in zip(docs, expected, strict=True):  # curated order is kept, one EOS closes each doc
            assert doc[-1] == eos and eos not in doc[:-1]
            assert tok.decode(doc[:-1].tolist()) == text
        row = counts.filter(pl.col("source") == source).row(0, named=True)
        exact = sum(len(tok.encode(t).ids) + 1 for t in expected)
        assert (row["num_docs"], row["num_tokens"]) == (len(expected), exact)
    assert pl.read_parquet(root / "tokens" / "counts.parquet").equals(counts)


def test_inventory_gets_exact_counts_and_keeps_other_rows(tokenized):
    root, _, counts = tokenized
    inv = pl.read_parquet(root / "tokens" / "inventory.parquet")  # found beside curated/
    assert inv["source"].to_list() == ["general", "math", "untokenized"]
    merged = inv.join(counts, on="source", suffix="_c")
    assert (merged["num_tokens"] == merged["num_tokens_c"]).all()
    assert inv["num_tokens_estimated"].to_list() == [False, False, True]
    assert inv.filter(pl.col("source") == "untokenized")["num_tokens"].item() == 123
    assert pl.read_parquet(root / "run" / "inventory.parquet")["num_tokens"][0] == 999  # original untouched


def test_given_tokenizer_file_or_folder_gives_same_tokens(tokenized, tmp_path):
    root, _, counts = tokenized
    for spec in (root / "tokens" / "tokenizer.json", root / "tokens"):
        out = tmp_path / spec.name
        again = tokenize_curated(root / "run" / "curated", out, TokenizeConfig(tokenizer=str(spec)))
        assert again.equals(counts)
        for a, b in zip(_shard_docs(root / "tokens" / "math"), _shard_docs(out / "math"), strict=True):
            np.testing.assert_array_equal(a, b)


def test_loader_reads_tokenized_output(tokenized):
    root, _, counts = tokenized
    meta = json.loads((root / "tokens" / "tokenize.json").read_text())
    plan = pl.DataFrame(
        {"phase": [0, 0], "source": ["general", "math"], "domain": ["general", "math"],
         "num_sequences": [6, 2], "share": [0.75, 0.25], "order": [0, 1],
         "phase_start_step": [0, 0], "phase_end_step": [2, 2], "seq_len": [32, 32]}
    )  # fmt: skip
    loader = PlanLoader(root / "tokens", plan, micro_batch_size=4)
    loader.check_vocab(meta["vocab_size"])
    batches = list(loader)
    assert [b.sources.count("math") for b in batches] == [1, 1]
    with pytest.raises(ValueError, match="token id .* >= model vocab_size 10"):
        loader.check_vocab(10)


def test_errors(tmp_path, tokenized):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        tokenize_curated(tmp_path / "nothing", tmp_path / "out", TokenizeConfig())
    (tmp_path / "empty" / "curated" / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no <source>"):
        tokenize_curated(tmp_path / "empty", tmp_path / "out", TokenizeConfig())
    with pytest.raises(FileNotFoundError, match="no such file"):
        tokenize_curated(
            tokenized[0] / "run", tmp_path / "out", TokenizeConfig(tokenizer="missing/tokenizer.json")
        )
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tokenize_curated(
            tokenized[0] / "run",
            tmp_path / "out",
            TokenizeConfig(tokenizer=str(tokenized[0] / "tokens" / "tokenizer.json"), eos_token="<nope>"),
        )
    with pytest.raises(ValueError, match="extra"):
        TokenizeConfig(vocab=5)


def test_cli_command_table_and_errors(tokenized, tmp_path):
    import typer
    from typer.testing import CliRunner

    from training.tokenize import tokenize_command

    app = typer.Typer()
    app.command("tokenize")(tokenize_command)
    app.callback()(lambda: None)  # keep `tokenize` as a subcommand
    root = tokenized[0]
    spec = str(root / "tokens" / "tokenizer.json")
    ok = CliRunner().invoke(
        app, ["tokenize", str(root / "run"), "--out", str(tmp_path / "t"), "--tokenizer", spec]
    )
    assert ok.exit_code == 0, ok.output
    assert "math" in ok.output and "total" in ok.output and "counts.parquet" in ok.output
    assert (tmp_path / "t" / "inventory.parquet").is_file()
    bad = CliRunner().invoke(
        app, ["tokenize", str(root / "run"), "--out", str(tmp_path / "u"), "--tokenizer", "x.json"]
    )
    assert bad.exit_code == 2 and "no such file" in bad.output
