"""`tokenize_curated` vs raw `tokenizers` batch encoding, per core, on real curated text, one run.

Corpus: the real sets in ``../shared/data`` (prose: WikiText, Shakespeare, Common Crawl; math:
GSM8K; code: HumanEval, Flask), grown to ``--mb`` with fresh variants
(``bench/curation_real_corpus.py``) and written as curation writes them:
``curated/<source>/NNNNN.jsonl.gz`` records ``{text, id, metadata}`` with ``difficulty_tier`` and
``quality_score`` in the metadata, ``--file-mb`` of text per file. The real 32k Llama tokenizer.

Every side runs in its own subprocess with ``RAYON_NUM_THREADS=1`` set before ``tokenizers`` is
imported, so both are single-threaded per worker and CPU seconds are per core:

- **raw**: a plain script: ``Tokenizer.from_file``, read each file (gzip + ``json.loads``),
  ``encode_batch`` in batches of 1,000 (the tokenizer's own template adds ``<s>``), append EOS,
  write the ids (uint16) and the document ends with numpy;
- **raw fast**: the same with ``encode_batch_fast`` (no offsets), for reference;
- **now**: ``tokenize_curated`` of this checkout, ``num_workers: 1``;
- **before**: ``tokenize_curated`` of ``--baseline`` (the training package extracted with
  ``git archive``; default: the commit before the batched writer).

The headline is tokens per CPU-second (``getrusage`` of the process and its children, so the
datatrove manager process counts) of the work itself, after the imports; the whole-process figure
(interpreter start and imports included: transformers is imported by ``resolve_tokenizer``) is
printed too. Each side runs ``--repeats`` times, interleaved, best kept (the machine is shared).
The token files of every side are compared: raw vs now (tokens and document ends, every document)
and now vs before (every file, byte for byte).

    nice -n 10 .venv/bin/python bench/bench_training_tokenize.py [--mb 20]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/NAME.py` from the root
# midtrain before the batched writer: datatrove's JsonlReader -> DocumentTokenizer pipeline
BASELINE = "1d8b1b7"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path

def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

args = json.loads(sys.argv[1])
curated, out = Path(args["curated"]), Path(args["out"])
if args["mode"] in ("now", "before"):
    from training.tokenize import TokenizeConfig, tokenize_curated
    from transformers import PreTrainedTokenizerFast  # imported by resolve_tokenizer
    from datatrove.executor import LocalPipelineExecutor
else:
    import gzip
    from itertools import chain
    import numpy as np
    from tokenizers import Tokenizer
startup, cpu0, wall0 = cpu(), cpu(), time.perf_counter()
if args["mode"] in ("now", "before"):
    config = TokenizeConfig(tokenizer=args["tokenizer"], num_workers=1)
    tokens = int(tokenize_curated(curated, out, config)["num_tokens"].sum())
else:
    tok = Tokenizer.from_file(args["tokenizer"])
    encode = tok.encode_batch_fast if args["mode"] == "raw_fast" else tok.encode_batch
    eos = tok.token_to_id(args["eos"])
    tokens = 0
    for path in sorted((curated / "curated").glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f if line.strip()]
        docs = []
        for i in range(0, len(texts), 1000):
            docs += [e.ids + [eos] for e in encode(texts[i : i + 1000])]
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        target = out / path.parent.name
        target.mkdir(parents=True, exist_ok=True)
        stem = path.name.removesuffix(".jsonl.gz")
        np.fromiter(chain.from_iterable(docs), dtype="<u2", count=int(lengths.sum())).tofile(target / f"{stem}.ds")
        np.cumsum(lengths).astype("<u8").tofile(target / f"{stem}.ds.index")
        tokens += int(lengths.sum())
work, wall = cpu() - cpu0, time.perf_counter() - wall0
Path(args["result"]).write_text(json.dumps(
    {"tokens": tokens, "cpu_s": work, "wall_s": wall, "startup_cpu_s": startup, "process_cpu_s": cpu()}
))
"""


def child(spec: dict, pythonpath: Path) -> dict:
    result = Path(spec["out"]).with_suffix(".result.json")
    result.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "RAYON_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({**spec, "result": str(result)})],
        env=env,
        cwd=str(pythonpath),
        capture_output=True,  # datatrove logs every task
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{spec['mode']} side failed:\n{proc.stderr[-3000:]}")
    return json.loads(result.read_text())


def baseline_tree(commit: str, dest: Path) -> Path:
    """The training package at ``commit`` (read from git, the checkout is not touched)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", commit, "training"], cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def write_curated(sources: dict[str, Path], curated: Path, file_mb: float) -> tuple[int, float]:
    """Curation's layout and metadata for each source; returns (documents, MB of text)."""
    from curation.real_sets import REAL_SETS

    docs, size = 0, 0.0
    for name, path in sources.items():
        folder = curated / name
        folder.mkdir(parents=True)
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        parts, written = [[]], 0.0
        for i, row in enumerate(rows):
            meta = {"source": name, "domain": REAL_SETS[name], "difficulty_tier": i % 3, "quality_score": 0.5}
            parts[-1].append(
                json.dumps({"text": row["text"], "id": row["id"], "metadata": meta}, ensure_ascii=False)
            )
            written += len(row["text"].encode()) / 1e6
            size += len(row["text"].encode()) / 1e6
            if written >= file_mb and i + 1 < len(rows):
                parts.append([])
                written = 0.0
        for part, lines in enumerate(parts):
            with gzip.open(folder / f"{part:05d}.jsonl.gz", "wt", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in lines)
        docs += len(rows)
    return docs, size


def shard_tokens(folder: Path) -> tuple[bytes, bytes]:
    """(all token bytes, per-document lengths) of a tokens folder, sources and files in order."""
    import numpy as np

    tokens, lengths = [], []
    for ds in sorted(folder.glob("*/*.ds")):
        tokens.append(ds.read_bytes())
        ends = np.fromfile(f"{ds}.index", dtype="<u8").astype(np.int64)
        lengths.append(np.diff(ends, prepend=0))
    return b"".join(tokens), np.concatenate(lengths).tobytes()


def token_files(folder: Path) -> dict[str, bytes]:
    """Every token file by relative path; ``.ds.metadata`` names the tokenizer by its path under
    the output folder, which differs between sides, so that prefix is masked."""
    prefix = str(folder).encode()
    return {
        str(p.relative_to(folder)): p.read_bytes().replace(prefix, b"<out>")
        for p in sorted(folder.glob("*/*.ds*"))
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0, help="corpus size (MB of text)")
    parser.add_argument("--file-mb", type=float, default=4.0, help="MB of text per curated file")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", default=BASELINE, help="commit for the 'before' side ('' to skip)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "training_tokenize.json")
    args = parser.parse_args()
    tokenizer = args.data / "llama_tokenizer.json"
    if not (tokenizer.is_file() and (args.data / "gsm8k_train.jsonl").is_file()):
        raise SystemExit(
            f"{args.data}: the real sets or llama_tokenizer.json are absent (see ../shared/data/README.md)"
        )
    from bench.curation_real_corpus import build_sources

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_tok_"))
    sources = build_sources(args.data, work / "sources", target_mb=args.mb, dup_rate=0.0)
    num_docs, mb = write_curated(sources, work / "run" / "curated", args.file_mb)
    num_files = len(list((work / "run" / "curated").glob("*/*.jsonl.gz")))
    print(
        f"corpus: {num_docs:,} docs, {mb:.1f} MB of text, {len(sources)} sources, {num_files} files",
        flush=True,
    )
    sides = {"raw": ROOT, "raw_fast": ROOT, "now": ROOT}
    if args.baseline:
        sides["before"] = baseline_tree(args.baseline, work / "baseline")
    best: dict[str, dict] = {}
    for rep in range(args.repeats):
        for name, tree in sides.items():
            out = work / "out" / name
            shutil.rmtree(out, ignore_errors=True)
            spec = {"mode": name, "curated": str(work / "run"), "out": str(out)}
            load = os.getloadavg()[0]
            res = child({**spec, "tokenizer": str(tokenizer), "eos": "</s>"}, tree) | {"load_avg_1min": load}
            print(
                f"  {name:>8} run {rep + 1}: {res['tokens']:,} tokens, cpu {res['cpu_s']:.2f} s (load {load:.1f})"
            )
            if name not in best or res["cpu_s"] < best[name]["cpu_s"]:
                best[name] = res
    raw_tokens = shard_tokens(work / "out" / "raw")
    same_tokens = shard_tokens(work / "out" / "now") == raw_tokens
    assert best["now"]["tokens"] == best["raw"]["tokens"], (best["now"]["tokens"], best["raw"]["tokens"])
    assert same_tokens, "midtrain's tokens differ from raw encode_batch + EOS"
    same_bytes = None
    if "before" in best:
        same_bytes = token_files(work / "out" / "now") == token_files(work / "out" / "before")
        assert same_bytes, "token files differ from the baseline's"

    for res in best.values():
        res["tokens_per_cpu_s"] = res["tokens"] / res["cpu_s"]
        res["tokens_per_process_cpu_s"] = res["tokens"] / res["process_cpu_s"]
        res["tokens_per_wall_s"] = res["tokens"] / res["wall_s"]
    raw = best["raw"]
    print("\nRAYON_NUM_THREADS=1 on every side: single-threaded per worker, CPU seconds = core seconds")
    print(
        f"{'side':>9} {'tokens/s/core':>14} {'incl. imports':>14} {'tokens/s wall':>14} {'cpu s':>7} {'startup s':>10}"
    )
    for name, res in best.items():
        print(
            f"{name:>9} {res['tokens_per_cpu_s']:>14,.0f} {res['tokens_per_process_cpu_s']:>14,.0f} "
            f"{res['tokens_per_wall_s']:>14,.0f} {res['cpu_s']:>7.2f} {res['startup_cpu_s']:>10.2f}"
        )
    ratios = {
        f"{name}_vs_raw": {
            "work": res["tokens_per_cpu_s"] / raw["tokens_per_cpu_s"],
            "process": res["tokens_per_process_cpu_s"] / raw["tokens_per_process_cpu_s"],
            "wall": res["tokens_per_wall_s"] / raw["tokens_per_wall_s"],
        }
        for name, res in best.items()
        if name != "raw"
    }
    for key, r in ratios.items():
        print(
            f"{key}: {r['work']:.2f}x per core (target >= 0.9x), {r['process']:.2f}x incl. imports, {r['wall']:.2f}x wall"
        )
    print(
        f"tokens identical to raw encode_batch + EOS: {same_tokens} ({best['raw']['tokens']:,} tokens, {num_docs:,} docs)"
    )
    if same_bytes is not None:
        print(f"token files byte-identical to {args.baseline}: {same_bytes}")
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "baseline_commit": args.baseline or None,
        "corpus": {"docs": num_docs, "mb": mb, "sources": sorted(sources), "files": num_files},
        "tokenizer": str(tokenizer),
        "rayon_num_threads": 1,
        "tokens_identical_to_raw": same_tokens,
        "files_identical_to_baseline": same_bytes,
        "ratios": ratios,
        "runs": best,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
