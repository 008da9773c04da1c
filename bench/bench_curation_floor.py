"""The floor under 10 MB/s/core: what the standard pipeline pays per document before any filter runs.

The standard pipeline reads every document twice and writes it twice. The filter stage reads the
sources and writes the filtered work shard (dedup must see every signature before it can drop a
document); the write stage reads that shard back and writes the curated output. On the corpus of
``bench_curation_throughput.py`` (the real sets of ``../shared/data`` grown with fresh variants,
10 % planted duplicates), this bench measures, in one process:

- **lean Python I/O**: the same two passes as a plain loop (``orjson``, one datatrove
  ``Document`` per record), no executor and no step: the least any Python pipeline pays to move
  the documents; once with no compression at all, once gzipped as the pipeline does (levels 1
  for the work shard and 3 for the output, through ISA-L: ``curation/gzip_io.py``);
- **pipeline I/O**: the pipeline's own readers and writers (``SourcesReader`` ->
  ``GzipJsonlWriter`` level 1; ``ShardReader`` -> ``GzipJsonlWriter`` level 3) under datatrove's
  ``LocalPipelineExecutor``, nothing between them;
- **pipeline I/O + 12 steps**: the same with 12 pass-through steps between them (the standard
  pipeline has 9 in the filter stage and 3 in the write stage): **bare** steps only hand each
  document on (datatrove's generator chain); **counted** ones also time a block and count one
  stat and the document stats through ``BatchedStats``, as midtrain's steps do;
- **stock datatrove I/O**: ``JsonlReader`` -> ``JsonlWriter`` for both passes, for reference;
- **components**: the per-document computations alone, compiled as the pipeline runs them
  (``bench_curation_ceiling.components``: Gopher quality and repetition, decontamination,
  difficulty, MinHash, cleanliness, exact hash), no framework;
- **whole pipeline**: ``run_curation`` with the throughput bench's config, ``tasks: 1``.

Each is run on the whole corpus and on its first quarter, ``--repeat`` times, alternating. The
**marginal cost per document**, ``(CPU(full) - CPU(quarter)) / (docs(full) - docs(quarter))``,
is what a run of any size pays per document: fixed costs (executor start, imports, numba caches,
the report's plot) drop out. It is set against the budget 10 MB/s/core leaves per document:
``mean document bytes / 10 MB/s``.

    nice -n 10 .venv/bin/python bench/bench_curation_floor.py --mb 20 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_MB_PER_S = 10.0
PASS_STEPS = (9, 3)  # pass-through steps per stage: the standard pipeline's filter and write stages


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _open(path: Path, mode: str, level: int):
    """The pipeline's gzip (ISA-L at levels 1-3, ``curation/gzip_io.py``), or a plain file at 0."""
    from isal import igzip

    from curation.gzip_io import gzip_writer

    if not level:
        return open(path, mode)  # noqa: SIM115 - the caller's with closes it
    return gzip_writer(open(path, mode), level) if "w" in mode else igzip.open(path, mode)  # noqa: SIM115


def lean_io(files: list[Path], work: Path, levels: tuple[int, int] = (1, 3)) -> None:
    """Both passes as a plain loop: read, make a Document, write JSONL gzipped at ``levels``
    (work shard, output; 0: not compressed); no datatrove executor or step."""
    import orjson
    from datatrove.data import Document

    shard = work / "lean_filtered.jsonl"
    with _open(shard, "wb", levels[0]) as out:
        for path in files:
            with open(path, "rb") as lines:
                for line in lines:
                    record = orjson.loads(line)
                    doc = Document(text=record["text"], id=record["id"], metadata={"source": path.stem})
                    out.write(
                        orjson.dumps({"text": doc.text, "id": doc.id, "metadata": doc.metadata}) + b"\n"
                    )
    with _open(shard, "rb", levels[0]) as lines, _open(work / "lean_curated.jsonl", "wb", levels[1]) as out:
        for line in lines:
            record = orjson.loads(line)
            doc = Document(text=record["text"], id=record["id"], metadata=record["metadata"])
            out.write(orjson.dumps({"text": doc.text, "id": doc.id, "metadata": doc.metadata}) + b"\n")


def _execute(steps: list, logs: Path) -> None:
    from datatrove.executor import LocalPipelineExecutor

    LocalPipelineExecutor(steps, tasks=1, workers=1, logging_dir=str(logs), skip_completed=False).run()


def pipeline_io(
    sources: list, work: Path, pass_steps: tuple[int, int] = (0, 0), counted: bool = True
) -> None:
    """The pipeline's readers and writers, ``pass_steps`` pass-through steps in each stage."""
    from bench.curation_pass_steps import BareStep, CountedStep
    from curation.annotate import ShardReader
    from curation.readers import SourcesReader
    from curation.writers import OUTPUT_LEVEL, WORK_LEVEL, GzipJsonlWriter

    step = CountedStep if counted else BareStep
    _execute(
        [
            SourcesReader(sources, str(work / "rejects")),
            *[step() for _ in range(pass_steps[0])],
            GzipJsonlWriter(str(work / "filtered"), "${rank}.jsonl.gz", level=WORK_LEVEL),
        ],
        work / "logs_filter",
    )
    _execute(
        [
            ShardReader(str(work / "filtered")),
            *[step() for _ in range(pass_steps[1])],
            GzipJsonlWriter(str(work / "curated"), "${source}/${rank}.jsonl.gz", level=OUTPUT_LEVEL),
        ],
        work / "logs_write",
    )


def stock_io(folder: Path, work: Path) -> None:
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    _execute([JsonlReader(str(folder), glob_pattern="*.jsonl"), JsonlWriter(str(work / "f"))], work / "l1")
    _execute([JsonlReader(str(work / "f")), JsonlWriter(str(work / "c"))], work / "l2")


def measure(fn, work: Path) -> float:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        return _cpu(lambda: fn(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0, help="corpus size asked of the corpus builder")
    parser.add_argument("--dup-rate", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of every part at each size, alternating")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curation_floor.json")
    args = parser.parse_args()
    from bench.curation_real_corpus import (
        build_sources,
        corpus_texts,
        require_real_sets,
        standard_config,
        subset_sources,
    )

    require_real_sets(args.data)
    from loguru import logger

    logger.disable("datatrove")
    from bench.bench_curation_ceiling import components
    from curation import run_curation

    tmp = Path(tempfile.mkdtemp(prefix="bench_floor_"))
    try:
        full = build_sources(args.data, tmp / "full", target_mb=args.mb, dup_rate=args.dup_rate)
        corpora = {"full": full, "quarter": subset_sources(full, tmp / "quarter", 0.25)}
        texts = {size: corpus_texts(srcs) for size, srcs in corpora.items()}
        sizes = {size: (len(t), sum(len(x.encode()) for x in t)) for size, t in texts.items()}
        configs = {size: standard_config(srcs, args.data, tmp) for size, srcs in corpora.items()}
        with warnings.catch_warnings():  # numba loads its kernel caches on a first run: not timed
            warnings.simplefilter("ignore")
            run_curation(configs["quarter"], tmp / "warm")
        shutil.rmtree(tmp / "warm", ignore_errors=True)

        def parts(size: str) -> dict:
            srcs, config = corpora[size], configs[size]
            folder = next(iter(srcs.values())).parent
            return {
                "lean Python I/O, no compression": lambda w: lean_io(list(srcs.values()), w, (0, 0)),
                "lean Python I/O, gzip 1 and 3 (ISA-L)": lambda w: lean_io(list(srcs.values()), w),
                "pipeline I/O (2 passes)": lambda w: pipeline_io(config.sources, w),
                "pipeline I/O + 12 bare steps": lambda w: pipeline_io(
                    config.sources, w, PASS_STEPS, counted=False
                ),
                "pipeline I/O + 12 counted steps": lambda w: pipeline_io(config.sources, w, PASS_STEPS),
                "stock datatrove I/O (2 passes)": lambda w: stock_io(folder, w),
                "components alone (no framework)": lambda w: components(
                    texts[size], config.decontamination, w
                ),
                "whole pipeline (run_curation)": lambda w: run_curation(config, w / "out"),
            }

        cpu: dict[str, dict[str, list[float]]] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for rep in range(args.repeat):
                order = ("quarter", "full") if rep % 2 == 0 else ("full", "quarter")
                for name in parts("full"):
                    for size in order:
                        seconds = measure(parts(size)[name], tmp / "run")
                        cpu.setdefault(name, {}).setdefault(size, []).append(seconds)
                    print(
                        f"  round {rep + 1}: {name:<40} quarter {cpu[name]['quarter'][-1]:6.2f} s"
                        f"  full {cpu[name]['full'][-1]:6.2f} s",
                        flush=True,
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    docs = sizes["full"][0] - sizes["quarter"][0]
    mean_bytes = sizes["full"][1] / sizes["full"][0]
    budget_us = mean_bytes / TARGET_MB_PER_S  # bytes / (MB/s) = microseconds
    rows = {}
    for name, runs in cpu.items():
        marginal = [(f - q) / docs for f, q in zip(runs["full"], runs["quarter"], strict=True)]
        us = statistics.median(marginal) * 1e6
        rows[name] = {
            "cpu_s_full": runs["full"],
            "cpu_s_quarter": runs["quarter"],
            "marginal_us_per_doc": us,
            "marginal_us_per_doc_every_round": [m * 1e6 for m in marginal],
            "marginal_mb_per_cpu_s": mean_bytes / us,
            "times_the_budget": us / budget_us,
        }
    print(
        f"\ncorpus: {sizes['full'][0]:,} documents, {sizes['full'][1] / 1e6:.2f} MB, {mean_bytes:.0f} bytes per document;"
        f" quarter {sizes['quarter'][0]:,}. Budget at {TARGET_MB_PER_S:g} MB/s/core: {budget_us:.1f} us per document."
        f" (load {os.getloadavg()[0]:.1f})\n"
    )
    print(f"{'part (marginal cost, median of rounds)':<42} {'us/doc':>8} {'MB/s/core':>10} {'x budget':>9}")
    for name, row in rows.items():
        print(
            f"{name:<42} {row['marginal_us_per_doc']:8.1f} {row['marginal_mb_per_cpu_s']:10.2f}"
            f" {row['times_the_budget']:9.2f}"
        )
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores",
        "load_avg_1min_end": os.getloadavg()[0],
        "docs": {k: v[0] for k, v in sizes.items()},
        "bytes": {k: v[1] for k, v in sizes.items()},
        "budget_us_per_doc": budget_us,
        "parts": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
