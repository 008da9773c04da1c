"""The real public sets in ``shared/data`` as curation inputs, and junk planted into web text.

midtrain's defaults are chosen and checked on real data, not on the demo corpus (which was built
to suit the pipeline). This module turns the files described in ``shared/data/README.md`` into
jsonl sources the way a user would lay them out (WikiText split into articles, Shakespeare into
paragraphs, GSM8K and HumanEval as question+answer / prompt+solution documents, one Flask file per
document, web pages as they are), and plants known junk into the web sample so a filter profile's
recall can be measured. ``bench/bench_curation_real.py`` and the real-data tests both use it.

Nothing here downloads: when the folder is absent, :func:`find_shared_data` returns None and the
callers skip with a reason.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from pathlib import Path

# name -> (domain, kind) of each prepared set; kind None means "what a user writes first":
# name, path and domain only.
REAL_SETS: dict[str, str] = {
    "wikitext": "general",
    "shakespeare": "general",
    "gsm8k": "math",
    "humaneval": "code",
    "flask": "code",
    "web": "general",
}
CLEAN_SETS = ("wikitext", "shakespeare", "gsm8k", "humaneval", "flask")
_WIKI_TITLE = re.compile(r"^ = [^=].* = $")


def find_shared_data() -> Path | None:
    """``$MIDTRAIN_SHARED_DATA`` or ``../shared/data`` beside the checkout; None when absent."""
    candidates = [os.environ.get("MIDTRAIN_SHARED_DATA")]
    here = Path(__file__).resolve().parent.parent
    candidates += [str(here.parent / "shared" / "data"), str(here / "shared" / "data")]
    for c in candidates:
        if c and (Path(c) / "gsm8k_train.jsonl").is_file():
            return Path(c)
    return None


def wikitext_articles(path: Path) -> list[str]:
    """WikiText split at its top-level ``= Title =`` lines (one article per document)."""
    articles, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if _WIKI_TITLE.match(line) and any(x.strip() for x in current):
            articles.append("\n".join(current).strip("\n"))
            current = []
        current.append(line)
    if any(x.strip() for x in current):
        articles.append("\n".join(current).strip("\n"))
    return articles


def paragraphs(path: Path) -> list[str]:
    """Blank-line separated paragraphs (Shakespeare: one speech each)."""
    text = path.read_text(encoding="utf-8")
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def real_documents(data_dir: Path) -> dict[str, list[dict]]:
    """Per set, ``[{"id", "text"}]`` as a user would feed them to curation."""
    d = Path(data_dir)
    sets = {
        "wikitext": [
            {"id": f"wiki-{i}", "text": t} for i, t in enumerate(wikitext_articles(d / "wikitext2_valid.txt"))
        ],
        "shakespeare": [
            {"id": f"shk-{i}", "text": t} for i, t in enumerate(paragraphs(d / "tinyshakespeare.txt"))
        ],
        "gsm8k": [
            {"id": f"gsm-{i}", "text": f"Question: {r['question']}\nAnswer: {r['answer']}"}
            for i, r in enumerate(_jsonl(d / "gsm8k_train.jsonl"))
        ],
        "humaneval": [
            {"id": r["task_id"], "text": r["prompt"] + r["canonical_solution"]}
            for r in _jsonl(d / "humaneval.jsonl.gz")
        ],
        "flask": [{"id": r["path"], "text": r["text"]} for r in _jsonl(d / "flask_code.jsonl.gz")],
        "web": [{"id": r["id"], "text": r["text"]} for r in _jsonl(d / "web_cc_sample.jsonl")],
    }
    return sets


_MENU = ["Home", "About Us", "Contact", "Blog", "Shop", "Login", "Register", "FAQ", "Careers", "Sitemap"]
_SPAM_WORDS = ["cheap", "viagra", "casino", "bonus", "free", "win", "click", "now", "best", "deal", "$$$"]


def plant_web_junk(web: list[dict], *, per_kind: int = 10, seed: int = 0) -> tuple[list[dict], list[str]]:
    """Web pages plus ``per_kind`` documents of each junk kind; returns (docs, junk ids).

    Kinds: ``spam`` (keyword salad), ``boilerplate`` (menus, cookie and copyright lines, no prose),
    ``repeated_lines`` (one real sentence or line pasted many times), ``too_short`` (a few words).
    Each junk document is built from a real page of the sample, so it carries the sample's words.
    """
    rng = random.Random(seed)
    docs = list(web)
    junk = []
    for k in range(per_kind):
        page = web[k % len(web)]["text"]
        lines = [ln for ln in page.splitlines() if len(ln.split()) >= 6] or [page[:200]]
        spam = " ".join(rng.choice(_SPAM_WORDS) for _ in range(rng.randint(60, 200)))
        boiler = "\n".join(
            [" | ".join(rng.sample(_MENU, 6)) for _ in range(rng.randint(4, 8))]
            + ["This site uses cookies. Accept", "Copyright 2016 All rights reserved", "Follow us"]
        )
        line = rng.choice(lines)
        repeated = "\n".join([line] * rng.randint(15, 40))
        short = " ".join(page.split()[: rng.randint(2, 6)])
        for kind, text in (
            ("spam", spam),
            ("boilerplate", boiler),
            ("repeated_lines", repeated),
            ("too_short", short),
        ):
            doc_id = f"junk-{kind}-{k}"
            docs.append({"id": doc_id, "text": text})
            junk.append(doc_id)
    return docs, junk


def write_real_sources(data_dir: Path, out_dir: Path, *, junk_per_kind: int = 10) -> dict[str, Path]:
    """Write each prepared set to ``out_dir/<name>.jsonl`` (web with planted junk); name -> path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, docs in real_documents(data_dir).items():
        if name == "web":
            docs, _ = plant_web_junk(docs, per_kind=junk_per_kind)
        path = out_dir / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d) + "\n")
        paths[name] = path
    return paths
