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
