"""Decontamination: own n-gram index and filter; drop or flag; hits name the eval item."""

import json

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
            "num_ngrams": hits[0]["num_ngrams"],
            "action": "drop",
        }
    ]
    assert hits[0]["num_ngrams"] > 10


def test_flag_mode_keeps_and_labels(tmp_path):
    cfg = _index(tmp_path)
    step = NGramDecontFilter(str(tmp_path / "idx"), str(tmp_path / "hits"), n=cfg.n, mode="flag")
    kept = list(step.run(iter([Document(text=QUESTION, id="leak", metadata={"source": "m"})])))
    assert kept[0].metadata["contaminated"] == ["gsm8k:1"]
