"""Benchmark corpus for curation: real prose (WikiText-2, Shakespeare) and GSM8K math, shuffled.

Reads ``../shared/data`` (or ``--data``) when present; documents are runs of consecutive
paragraphs/lines, so heuristics see real text. A few percent are planted near-duplicates
(a word run replaced) and exact copies, so dedup has work to do.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


_WIKI_FIXES = (
    (" @-@ ", "-"),
    (" @,@ ", ","),
    (" @.@ ", "."),
    (" , ", ", "),
    (" . ", ". "),
    (" 's", "'s"),
    ("( ", "("),
    (" )", ")"),
    (" ;", ";"),
    (" :", ":"),
    (" .\n", ".\n"),
    ("<unk>", "thing"),
)


def _detok(text: str) -> str:
    """Undo WikiText's tokenisation so the heuristics see ordinary prose."""
    for old, new in _WIKI_FIXES:
        text = text.replace(old, new)
    return text.rstrip(" .") + "." if text.rstrip().endswith(" .") else text


def _pieces(data: Path) -> list[str]:
    wiki = [
        _detok(p.strip())
        for p in (data / "wikitext2_valid.txt").read_text().split("\n \n")
        if len(p.split()) > 20
    ]
    shakespeare = (data / "tinyshakespeare.txt").read_text().split("\n\n")
    gsm = [json.loads(x) for x in (data / "gsm8k_train.jsonl").read_text().splitlines()]
    gsm = [f"Question: {r['question']}\nAnswer: {r['answer']}" for r in gsm]
    return wiki, shakespeare, gsm


def build_corpus(path: Path, num_docs: int, *, seed: int = 0, data: Path = DEFAULT_DATA) -> Path:
    rng = random.Random(seed)
    wiki, shakespeare, gsm = _pieces(data)
    docs = []
    for i in range(num_docs):
        kind = rng.random()
        if kind < 0.6:
            start = rng.randrange(len(wiki))
            text = "\n\n".join(wiki[start : start + rng.randint(1, 4)])
        elif kind < 0.8:
            start = rng.randrange(len(shakespeare))
            text = "\n\n".join(shakespeare[start : start + rng.randint(2, 8)])
        else:
            text = "\n\n".join(rng.sample(gsm, rng.randint(1, 3)))
        docs.append({"id": f"d{i}", "text": text})
    for i in range(num_docs // 50):  # 2% near copies, 1% exact copies
        src = rng.choice(docs)["text"].split(" ")
        k = max(1, len(src) // 20)
        at = rng.randrange(max(1, len(src) - k))
        src[at : at + k] = ["planted"] * k
        docs.append({"id": f"near{i}", "text": " ".join(src)})
    for i in range(num_docs // 100):
        docs.append({"id": f"exact{i}", "text": rng.choice(docs)["text"]})
    rng.shuffle(docs)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.writelines(json.dumps(d) + "\n" for d in docs)
    return path
