"""Contamination share on planted overlaps."""

from __future__ import annotations

import pytest
from conftest import write_jsonl

from evaluation.contamination import contaminated_items, contamination_rows

ITEMS = [
    "Janet has sixteen ducks that lay eggs every single morning and she sells the rest at the market",
    "A train leaves the station at noon travelling at sixty miles per hour toward the distant city limits",
    "How many marbles remain if Carl gives away a third of his forty two marbles to his younger sister",
    "Write a function that returns the sum of the squares of all odd numbers in a list of integers",
]


def test_share_counts_items_with_a_shared_ngram():
    train = [
        "blog post: JANET has sixteen ducks that lay eggs, every single morning; and she sells the rest!",  # item 0
        "unrelated text about ducks and trains and marbles in no particular order at all, none of it copied",
        "Write a function that returns the sum of the squares of all odd numbers",  # item 3, 14 words
    ]
    hits = contaminated_items({"set": ITEMS}, train, n=13)
    assert hits == {"set": {0, 3}}
    assert contaminated_items({"set": ITEMS}, train, n=15) == {"set": {0}}  # 14 copied words < 15


def test_short_items_match_as_a_whole():
    hits = contaminated_items(
        {"short": ["What is 2 + 2?", "Name a colour"]}, ["so what is 2 + 2 anyway"], n=13
    )
    assert hits == {"short": {0}}


def test_rows_from_files(tmp_path):
    evalset = write_jsonl(tmp_path / "gsm.jsonl", [{"question": q, "answer": "#### 1"} for q in ITEMS])
    write_jsonl(
        tmp_path / "out" / "curated" / "web" / "00000.jsonl.gz",
        [{"text": "prefix " + ITEMS[1] + " suffix", "metadata": {"domain": "general"}}],
    )
    from evaluation.evalsets import read_evalset

    rows, _ = contamination_rows([evalset], {evalset: read_evalset(evalset, "gsm8k")}, tmp_path / "out", n=13)
    share = next(r for r in rows if r["metric"] == "share")
    assert share["task"] == "contamination/gsm" and share["value"] == pytest.approx(0.25) and share["n"] == 4
