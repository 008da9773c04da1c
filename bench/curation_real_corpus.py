"""A curation benchmark corpus of a chosen size from the real sets in ``../shared/data``.

Sources are the real sets as ``curation.real_sets.write_real_sources`` lays them out (WikiText
articles, Shakespeare paragraphs, GSM8K question+answer, HumanEval, Flask files, the Common Crawl
sample with planted junk), each its own source with its domain, so the filter profiles apply as
for a user. To reach a size larger than the sets (about 7.3 MB of text), each set is repeated as
*fresh variants*: every word of 5+ letters outside the 300 most frequent is mapped through a
per-round permutation of the set's vocabulary within its length (capitals kept), so a variant has
the real text's lines, punctuation, numbers, stop words and word lengths but its own 5-grams.
Then duplicates are planted at ``dup_rate``: three quarters near copies (a run of 5 % of the
words replaced), one quarter exact copies.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

_LONG_WORD = re.compile(r"[A-Za-z]{5,}")


def _variant_maker(texts: list[str], rng: random.Random):
    counts = Counter(w.lower() for t in texts for w in _LONG_WORD.findall(t))
    frequent = {w for w, _ in counts.most_common(300)}
    by_length: dict[int, list[str]] = {}
    for w in sorted(counts):
        if w not in frequent:
            by_length.setdefault(len(w), []).append(w)

    def make():
        mapping = {}
        for words in by_length.values():
            shuffled = words[:]
            rng.shuffle(shuffled)
            mapping.update(zip(words, shuffled, strict=True))

        def sub(m: re.Match) -> str:
            word = m.group(0)
            new = mapping.get(word.lower())
            if new is None:
                return word
            if word.isupper():
                return new.upper()
            return new.capitalize() if word[0].isupper() else new

        return lambda text: _LONG_WORD.sub(sub, text)

    return make


def _near_copy(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    k = max(1, len(words) // 20)
    at = rng.randrange(max(1, len(words) - k))
    words[at : at + k] = ["planted"] * k
    return " ".join(words)


def build_sources(
    data: Path, out: Path, *, target_mb: float, dup_rate: float = 0.1, seed: int = 0
) -> dict[str, Path]:
    """Write one jsonl per real set under ``out`` (about ``target_mb`` MB of text in all)."""
    from curation.real_sets import plant_web_junk, real_documents

    rng = random.Random(seed)
    sets = real_documents(data)
    sets["web"], _ = plant_web_junk(sets["web"])
    base_mb = sum(len(d["text"].encode()) for docs in sets.values() for d in docs) / 1e6
    rounds = max(1, round(target_mb / (base_mb * (1 + dup_rate))))
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, docs in sets.items():
        make = _variant_maker([d["text"] for d in docs], rng)
        rows = [dict(d) for d in docs]
        for r in range(1, rounds):
            variant = make()
            rows += [{"id": f"{d['id']}~v{r}", "text": variant(d["text"])} for d in docs]
        planted = []
        for i in range(round(len(rows) * dup_rate)):
            src = rng.choice(rows)
            if i % 4 == 3:
                planted.append({"id": f"{src['id']}~exact{i}", "text": src["text"]})
            else:
                planted.append({"id": f"{src['id']}~near{i}", "text": _near_copy(src["text"], rng)})
        rows += planted
        rng.shuffle(rows)
        paths[name] = out / f"{name}.jsonl"
        with open(paths[name], "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    return paths


def subset_sources(paths: dict[str, Path], out: Path, fraction: float) -> dict[str, Path]:
    """The first ``fraction`` of every source (the stock datatrove run cannot take the whole corpus)."""
    out.mkdir(parents=True, exist_ok=True)
    sub = {}
    for name, path in paths.items():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        sub[name] = out / path.name
        sub[name].write_text("".join(lines[: max(1, int(len(lines) * fraction))]), encoding="utf-8")
    return sub


def require_real_sets(data: Path) -> None:
    """Stop a benchmark with one line when the real sets are not beside the checkout."""
    if not (data / "gsm8k_train.jsonl").is_file():
        raise SystemExit(f"{data}: the real sets are absent (see ../shared/data/README.md)")


def write_gsm8k_eval(data: Path, work: Path, items: int = 300) -> Path:
    """The benchmarks' decontamination eval set: the first ``items`` GSM8K problems.

    They are also in the corpus's GSM8K source, so every run has contaminated documents to drop.
    """
    path = work / "gsm8k_eval.jsonl"
    lines = (data / "gsm8k_train.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:items]), encoding="utf-8")
    return path


def curation_config(sources: dict[str, Path], eval_gsm8k: Path, data: Path) -> dict:
    """The standard pipeline on ``sources`` as a config dict: each real set its own source with its
    domain (``web`` with the web profile), decontamination against ``eval_gsm8k`` and HumanEval,
    ``tasks: 1, workers: 1``."""
    from curation.real_sets import REAL_SETS as DOMAINS

    return {
        "sources": [
            {"name": n, "path": str(p), "domain": DOMAINS[n], **({"kind": "web"} if n == "web" else {})}
            for n, p in sources.items()
        ],
        "decontamination": {
            "eval_sets": [
                {"name": "gsm8k", "path": str(eval_gsm8k), "format": "gsm8k"},
                {"name": "humaneval", "path": str(data / "humaneval.jsonl.gz"), "format": "humaneval"},
            ]
        },
        "executor": {"tasks": 1, "workers": 1},
    }


def standard_config(sources: dict[str, Path], data: Path, work: Path):
    """:func:`curation_config` validated, its GSM8K eval file written into ``work``."""
    from curation import CurationConfig

    return CurationConfig.model_validate(curation_config(sources, write_gsm8k_eval(data, work), data))


def corpus_texts(sources: dict[str, Path]) -> list[str]:
    """Every document's text, source after source."""
    return [
        json.loads(x)["text"] for p in sources.values() for x in p.read_text(encoding="utf-8").splitlines()
    ]
