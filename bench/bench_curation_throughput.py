"""Throughput and agreement: midtrain curation vs stock datatrove (spaCy tokenizer), same steps.

Standard pipeline = Gopher quality + Gopher repetition + C4 + FineWeb filters, then MinHash
dedup (5-grams, 14 buckets x 8 hashes) and, for midtrain, exact dedup. Both run one worker
process (``workers=1``), so docs/s is docs/s per core. Stock spaCy runs ~100 docs/s, so it is
timed on a subset (``--stock-docs``); midtrain on the full corpus and on the same subset.
Agreement: share of subset documents with the same final keep/drop decision.

    nice -n 10 python bench/bench_curation_throughput.py --docs 50000 --stock-docs 5000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def kept_ids(folder: Path) -> set[str]:
    ids = set()
    for f in folder.rglob("*.jsonl.gz"):
        with gzip.open(f, "rt") as fh:
            ids |= {json.loads(x)["id"] for x in fh}
    return ids


def run_midtrain(corpus: Path, out: Path, tokenizer: str = "fast") -> tuple[float, set[str]]:
    from curation import CurationConfig, run_curation

    cfg = CurationConfig.model_validate(
        {
            "sources": [{"name": "web", "path": str(corpus), "kind": "web"}],  # stock datatrove's filters
            "heldout": {"fraction": 0.0},
            "executor": {"tasks": 1, "workers": 1},
            "word_tokenizer": tokenizer,
        }
    )
    start = time.perf_counter()
    run_curation(cfg, out)
    return time.perf_counter() - start, kept_ids(out / "curated")


def run_stock(corpus: Path, out: Path) -> tuple[float, set[str]]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    cfg = MinhashConfig()
    filters = [
        GopherQualityFilter(),
        GopherRepetitionFilter(),
        C4QualityFilter(filter_curly_bracket=False),
        FineWebQualityFilter(),
    ]
    start = time.perf_counter()
    LocalPipelineExecutor(
        [
            JsonlReader(str(corpus.parent), glob_pattern=corpus.name),
            *filters,
            JsonlWriter(str(out / "filtered")),
            MinhashDedupSignature(str(out / "sigs"), config=cfg),
        ],
        tasks=1,
        workers=1,
        logging_dir=str(out / "l1"),
    ).run()
    LocalPipelineExecutor(
        [MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=cfg)],
        tasks=cfg.num_buckets,
        workers=1,
        logging_dir=str(out / "l2"),
    ).run()
    LocalPipelineExecutor(
        [MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=cfg)],
        tasks=1,
        workers=1,
        logging_dir=str(out / "l3"),
    ).run()
    LocalPipelineExecutor(
        [
            JsonlReader(str(out / "filtered")),
            MinhashDedupFilter(str(out / "remove")),
            JsonlWriter(str(out / "kept")),
        ],
        tasks=1,
        workers=1,
        logging_dir=str(out / "l4"),
    ).run()
    return time.perf_counter() - start, kept_ids(out / "kept")


def filter_agreement(corpus: Path, limit: int) -> dict:
    """Per filter: share of docs where the fast and spaCy tokenizers give the same decision."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    from curation.filters import FastWordTokenizer

    rows = [json.loads(x) for x in corpus.read_text().splitlines()[:limit]]
    out = {}
    for cls, kw in (
        (GopherQualityFilter, {}),
        (GopherRepetitionFilter, {}),
        (C4QualityFilter, {"filter_curly_bracket": False}),
        (FineWebQualityFilter, {}),
    ):
        fast, spacy = cls(language=FastWordTokenizer(), **kw), cls(language="en", **kw)
        same = 0
        for r in rows:
            a = fast.filter(Document(text=r["text"], id=r["id"]))
            b = spacy.filter(Document(text=r["text"], id=r["id"]))
            same += (a is True) == (b is True)
        out[cls.__name__] = same / len(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--stock-docs", type=int, default=5_000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "curation_throughput.json"
    )
    args = parser.parse_args()
    from bench.curation_corpus import build_corpus

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_cur_"))
    big = build_corpus(work / "big" / "corpus.jsonl", args.docs)
    small = build_corpus(work / "small" / "corpus.jsonl", args.stock_docs, seed=1)
    n_big = len(big.read_text().splitlines())
    n_small = len(small.read_text().splitlines())
    results = {"docs_full": n_big, "docs_subset": n_small}
    t_stock, stock_kept = run_stock(small, work / "stock")
    t_mid_small, mid_kept = run_midtrain(small, work / "mid_small")
    t_spacy_small, spacy_kept = run_midtrain(small, work / "mid_small_spacy", "spacy")
    t_mid_big, _ = run_midtrain(big, work / "mid_big")
    all_ids = {json.loads(x)["id"] for x in small.read_text().splitlines()}
    agree = sum((i in stock_kept) == (i in mid_kept) for i in all_ids) / len(all_ids)
    agree_tok = sum((i in spacy_kept) == (i in mid_kept) for i in all_ids) / len(all_ids)
    results.update(
        {
            "stock_subset_s": t_stock,
            "stock_docs_per_s": n_small / t_stock,
            "midtrain_subset_s": t_mid_small,
            "midtrain_subset_docs_per_s": n_small / t_mid_small,
            "midtrain_spacy_subset_docs_per_s": n_small / t_spacy_small,
            "midtrain_full_s": t_mid_big,
            "midtrain_full_docs_per_s": n_big / t_mid_big,
            "speedup_subset": t_stock / t_mid_small,
            "speedup_full_rate": (n_big / t_mid_big) / (n_small / t_stock),
            "agreement_vs_stock": agree,
            "agreement_fast_vs_spacy_midtrain": agree_tok,
            "kept_stock": len(stock_kept),
            "kept_midtrain": len(mid_kept),
        }
    )
    results["per_filter_agreement_fast_vs_spacy"] = filter_agreement(small, n_small)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
