"""How fast the standard curation pipeline could be per core, from the cost of its parts.

On the corpus of ``bench_curation_throughput.py`` (the real sets of ``../shared/data`` with 10 %
planted duplicates), each part alone, in one process, per CPU-second:

- **components**: every per-document computation of the pipeline called directly in a loop over
  the texts, in pipeline order (Gopher quality with its word tokenizer, Gopher repetition,
  decontamination n-grams + index lookup, difficulty signals, MinHash signature, cleanliness,
  exact hash), no datatrove around them;
- **framework**: datatrove's ``JsonlReader`` alone; the reader with 8 pass-through steps that
  keep per-document stats as midtrain's steps do; the reader with midtrain's gzip writer;
- **pipeline**: ``run_curation`` with the throughput bench's config (``tasks: 1, workers: 1``).

It prints each rate and the ceilings they imply: a pass that runs every component once with no
framework cost runs at ``1 / sum(1 / rate)``; so does the framework alone. When the components
alone sum to less than 10 MB/s, the target needs faster components (one shared decode and word
segmentation for all of them), not only less framework.

    nice -n 10 .venv/bin/python bench/bench_curation_ceiling.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _timed(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def components(texts: list[str], decont_config, work: Path) -> dict[str, float]:
    """CPU seconds of each per-document computation over ``texts``; ``decont_config``: the run's
    ``decontamination`` section (its index is built in ``work``, untimed)."""
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    from curation.classifiers.difficulty import difficulty_signals
    from curation.decont import DecontIndexer, NGramDecontFilter
    from curation.dedup.cleanliness_fast import cleanliness_score
    from curation.dedup.fast_minhash import FastMinhash
    from curation.dedup.signature import exact_hash
    from curation.filters import make_word_tokenizer
    from curation.filters.gopher_fast import FastGopherQualityFilter, FastGopherRepetitionFilter
    from curation.filters.profiles import BUILTIN_PROFILES

    language = make_word_tokenizer("fast", "en")
    options = BUILTIN_PROFILES["curated"]
    quality = FastGopherQualityFilter(**options["gopher_quality"], language=language)
    rep_options = {**options["gopher_repetition"], "top_n_grams": (), "dup_n_grams": ((5, 0.3), (10, 0.25))}
    assert [list(x) for x in rep_options["dup_n_grams"]] == options["gopher_repetition"]["dup_n_grams"]
    repetition = FastGopherRepetitionFilter(**rep_options, language=language)
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    list(DecontIndexer(decont_config, str(work / "decont")).run(rank=0, world_size=1))
    decont = NGramDecontFilter(str(work / "decont"), str(work / "hits"), n=decont_config.n)

    signer = FastMinhash(MinhashConfig(), language, str(work / "sigs"))
    # warm every compiled kernel on a few texts first (numba loads its cache on first call)
    for t in texts[:50]:
        quality.filter(Document(text=t, id="w"))
        signer.signature(t)
        cleanliness_score(t)
        decont.matches(t)
    return {
        "Gopher quality (incl. word tokenizer)": _timed(lambda: [quality.filter(d) for d in docs]),
        "Gopher repetition": _timed(lambda: [repetition.filter(d) for d in docs]),
        "decontamination n-grams + lookup": _timed(lambda: [decont.matches(t) for t in texts]),
        "difficulty signals": _timed(lambda: [difficulty_signals(t) for t in texts]),
        "MinHash signature": _timed(lambda: [signer.signature(t) for t in texts]),
        "cleanliness": _timed(lambda: [cleanliness_score(t) for t in texts]),
        "exact hash": _timed(lambda: [exact_hash(t) for t in texts]),
    }


def framework(sources: Path, work: Path) -> dict[str, float]:
    """CPU seconds of datatrove's reader, per-document step overhead and midtrain's writer."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader

    from bench.curation_pass_steps import CountedStep
    from curation.writers import GzipJsonlWriter

    def run(steps) -> float:
        shutil.rmtree(work / "fw", ignore_errors=True)
        reader = JsonlReader(str(sources), glob_pattern="*.jsonl")
        executor = LocalPipelineExecutor(
            [reader, *steps], tasks=1, workers=1, logging_dir=str(work / "fw" / "logs"), skip_completed=False
        )
        return _timed(executor.run)

    return {
        "reader": run([]),
        "reader + 8 counted steps": run([CountedStep() for _ in range(8)]),
        "reader + gzip writer (level 1)": run(
            [GzipJsonlWriter(str(work / "fw" / "out"), "${rank}.jsonl.gz", level=1)]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_ceiling.json")
    args = parser.parse_args()
    from bench.curation_real_corpus import build_sources, corpus_texts, require_real_sets, standard_config

    require_real_sets(args.data)
    from loguru import logger

    logger.disable("datatrove")
    from curation import run_curation

    work = Path(tempfile.mkdtemp(prefix="bench_ceiling_"))
    try:
        sources = build_sources(args.data, work / "sources", target_mb=1, dup_rate=0.1)
        texts = corpus_texts(sources)
        mb = sum(len(t.encode()) for t in texts) / 1e6
        config = standard_config(sources, args.data, work)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_curation(config, work / "warm")  # loads the numba kernels' caches: not timed
            pipeline = _timed(lambda: run_curation(config, work / "run"))
        parts = {
            "components": components(texts, config.decontamination, work),
            "framework": framework(work / "sources", work),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"corpus: {len(texts):,} documents, {mb:.2f} MB (load {os.getloadavg()[0]:.1f})\n")
    print(f"{'part':<42} {'CPU s':>7} {'MB/s/core':>10}")
    result = {
        "docs": len(texts),
        "mb": mb,
        "load_avg_1min": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    for group, costs in parts.items():
        print(f"-- {group}")
        for name, cpu in costs.items():
            print(f"  {name:<40} {cpu:7.2f} {mb / cpu:10.1f}")
        result[group] = {name: {"cpu_s": cpu, "mb_per_cpu_s": mb / cpu} for name, cpu in costs.items()}
    comp = sum(parts["components"].values())
    result["ceiling_components_mb_per_cpu_s"] = mb / comp
    result["pipeline_cpu_s"] = pipeline
    result["pipeline_mb_per_cpu_s"] = mb / pipeline
    print(
        f"\ncomponents once each, no framework: {comp:.2f} CPU s = {mb / comp:.1f} MB/s/core (the ceiling of a fused pass)"
    )
    print(f"the pipeline (run_curation, tasks 1):  {pipeline:.2f} CPU s = {mb / pipeline:.2f} MB/s/core")
    print(f"share of the pipeline's CPU in the components: {comp / pipeline:.0%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
