"""Decontamination: own n-gram index and filter; drop or flag; hits name the eval item."""

import json

import pytest
from datatrove.data import Document

from curation.config import DecontConfig, EvalSetConfig
from curation.decont import DecontIndexer, NGramDecontFilter

QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?"
)


def _index(tmp_path, n=8):
    ev = tmp_path / "gsm.jsonl"
    ev.write_text(
        json.dumps({"question": QUESTION, "answer": "72"})
        + "\n"
        + json.dumps(
            {
                "question": "Completely different item about trains leaving stations at noon "
                "and arriving late in the evening",
                "answer": "5",
            }
        )
        + "\n"
    )
    cfg = DecontConfig(eval_sets=[EvalSetConfig(name="gsm8k", path=str(ev), format="gsm8k")], n=n)
    indexer = DecontIndexer(cfg, str(tmp_path / "idx"))
    list(indexer.run(rank=0, world_size=1))
    return cfg


def test_drop_mode_reports_item(tmp_path):
    cfg = _index(tmp_path)
    step = NGramDecontFilter(str(tmp_path / "idx"), str(tmp_path / "hits"), n=cfg.n, mode="drop")
    docs = [
        Document(
            text="Intro. " + QUESTION.upper().replace(",", " ,") + " The end.",
            id="leak",
            metadata={"source": "m"},
        ),
        Document(
            text="Natalia sold clips to friends. Nothing else here at all.",
            id="clean",
            metadata={"source": "m"},
        ),
    ]
    kept = list(step.run(iter(docs)))
    assert [d.id for d in kept] == ["clean"]
    hits = [json.loads(x) for x in (tmp_path / "hits" / "00000.jsonl").read_text().splitlines()]
    assert hits == [
        {
            "doc_id": "leak",
            "source": "m",
            "eval_set": "gsm8k",
            "item_id": "1",
            # the question's 31 words give 31 - 8 + 1 = 24 distinct 8-grams, all in the document;
            # the answer "72" is under min_item_words and not indexed
            "num_ngrams": 24,
            "action": "drop",
        }
    ]


def test_flag_mode_keeps_and_labels(tmp_path):
    cfg = _index(tmp_path)
    step = NGramDecontFilter(str(tmp_path / "idx"), str(tmp_path / "hits"), n=cfg.n, mode="flag")
    kept = list(step.run(iter([Document(text=QUESTION, id="leak", metadata={"source": "m"})])))
    assert kept[0].metadata["contaminated"] == ["gsm8k:1"]


# 40 distinct letter-only words: an eval item and filler that share no word with it
ITEM_WORDS = [f"item{c}{d}" for c in "abcdefgh" for d in "pqrst"]
FILLER = [f"fill{c}{d}" for c in "abcdefgh" for d in "klmno"]


@pytest.mark.parametrize("n", [13, 8])
def test_ngram_size_boundary(tmp_path, n):
    """A document sharing n-1 consecutive words with an eval item is kept; one sharing n is dropped."""
    item_words = [w.replace("item", "") for w in ITEM_WORDS]  # letters only: words() keeps them whole
    item = " ".join(item_words)
    ev = tmp_path / "eval.jsonl"
    ev.write_text(json.dumps({"text": item, "id": "q1"}) + "\n")
    cfg = DecontConfig(eval_sets=[EvalSetConfig(name="ev", path=str(ev))], n=n)
    list(DecontIndexer(cfg, str(tmp_path / "idx")).run(rank=0, world_size=1))
    filler = [w.replace("fill", "zz") for w in FILLER]

    def doc(k: int, doc_id: str) -> Document:
        shared = item_words[5 : 5 + k]
        return Document(
            text=" ".join(filler[:10] + shared + filler[10:20]), id=doc_id, metadata={"source": "s"}
        )

    step = NGramDecontFilter(str(tmp_path / "idx"), str(tmp_path / "hits"), n=n, mode="drop")
    kept = [d.id for d in step.run(iter([doc(n - 1, "n-1"), doc(n, "n"), doc(n + 1, "n+1")]))]
    assert kept == ["n-1"]
    hits = [json.loads(x) for x in (tmp_path / "hits" / "00000.jsonl").read_text().splitlines()]
    assert [(h["doc_id"], h["num_ngrams"]) for h in hits] == [("n", 1), ("n+1", 2)]


@pytest.mark.parametrize("table_bits", [24, 2], ids=["default_table", "every_hash_in_4_slots"])
def test_hits_are_exact_whatever_the_lookup_table_size(tmp_path, monkeypatch, table_bits):
    """The low-bits table only skips n-grams that cannot be in the index: with 4 slots every
    n-gram collides with an index hash, and the hits must still be exactly the shared n-grams."""
    import numpy as np

    from curation.decont import filter as decont_filter
    from curation.decont.ngrams import ngram_hashes

    monkeypatch.setattr(decont_filter, "_MAX_TABLE_BITS", table_bits)
    words = QUESTION.split()
    ev = tmp_path / "gsm.jsonl"
    items = [
        {"question": QUESTION, "answer": "72"},
        {"question": "Completely different item about trains leaving stations at noon", "answer": "5"},
        # shares its first 10 words (3 of the 8-grams) with the first item
        {"question": " ".join(words[:10]) + " but kept the rest for her sister", "answer": "24"},
    ]
    ev.write_text("".join(json.dumps(x) + "\n" for x in items))
    cfg = DecontConfig(eval_sets=[EvalSetConfig(name="gsm8k", path=str(ev), format="gsm8k")], n=8)
    list(DecontIndexer(cfg, str(tmp_path / "idx")).run(rank=0, world_size=1))
    step = NGramDecontFilter(str(tmp_path / "idx"), str(tmp_path / "hits"), n=cfg.n, mode="drop")
    texts = [
        "Nothing here is shared with any eval item at all, not one run of eight words in a row.",
        " ".join(words[:9]) + " and then something else entirely happened to the clips",  # 2 shared 8-grams
        "Intro text. " + QUESTION,
        " ".join(words[3:10]),  # 7 words: fewer than n, no n-gram at all
    ]
    index = np.load(tmp_path / "idx" / "index.npz")
    for text in texts:
        shared = set(ngram_hashes(text, cfg.n).tolist()) & set(index["hashes"].tolist())
        expected = {}
        for h in shared:
            for row in set(index["items"][index["hashes"] == h].tolist()):
                expected[row] = expected.get(row, 0) + 1
        assert step.matches(text) == expected, text
    assert step.matches(texts[1]) == {0: 2, 2: 2}  # an n-gram of two items counts for both
    assert step.matches(texts[2])[0] == len(words) - 7  # every 8-gram of the question
    assert step.matches(texts[0]) == {}
