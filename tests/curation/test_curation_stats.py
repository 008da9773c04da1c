"""Token counting and per-source sums for the inventory."""

import json

from datatrove.data import Document
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from curation.stats import SourceStats


def _docs():
    return [
        Document(text="a b c d", id="1", metadata={"source": "x", "difficulty_tier": 2, "domain": "math"}),
        Document(text="a b", id="2", metadata={"source": "x", "difficulty_tier": 0, "quality_score": 0.5}),
        Document(text="hello world!", id="3", metadata={"source": "y"}),
    ]


def test_exact_token_counts_with_tokenizer_json(tmp_path):
    tok = Tokenizer(WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    step = SourceStats(str(tmp_path / "s"), str(tmp_path / "tokenizer.json"), batch_size=2)
    assert len(list(step.run(iter(_docs())))) == 3
    payload = json.loads((tmp_path / "s" / "00000.json").read_text())
    assert payload["estimated"] is False
    x = payload["sources"]["x"]
    assert (x["num_docs"], x["num_tokens"], x["difficulty_sum"], x["num_quality"]) == (2, 6, 2.0, 1)
    assert payload["sources"]["y"]["num_tokens"] == 3  # hello, world, !
    assert x["domains"] == {"math": 1, "general": 1}


def test_estimated_tokens_are_flagged(tmp_path):
    step = SourceStats(str(tmp_path / "s"))
    list(step.run(iter(_docs())))
    payload = json.loads((tmp_path / "s" / "00000.json").read_text())
    assert payload["estimated"] is True
    assert payload["sources"]["y"]["num_tokens"] == len("hello world!") // 4
