"""`tokenize_curated`: curated/<source>/ files -> tokens/<source>/*.ds shards, exact counts.

One datatrove pipeline per source, one task per curated file (datatrove never splits a file):
text sources go through `CuratedTextTokenizer` (training/tokenize/text_shards.py: batched
encoding, numpy writes, the files datatrove's DocumentTokenizer wrote), instruction sources
through training/tokenize/instruct.py. Documents keep their curated order in the shards: the loader
shuffles document order per epoch with its own seed, so the shards need no shuffling here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from training.tokenize.config import TokenizeConfig
from training.tokenize.instruct import is_instruction_source, record_text, tokenize_instruction_source
from training.tokenize.text_shards import CuratedTextTokenizer, open_curated
from training.tokenize.tokenizer import TokenizerInfo, resolve_tokenizer

COUNTS_SCHEMA = {"source": pl.String(), "num_docs": pl.Int64(), "num_tokens": pl.Int64()}
PATTERNS = ("*.jsonl.gz", "*.jsonl", "*.jsonl.zst", "*.parquet")


def find_sources(curated_dir: Path) -> dict[str, tuple[Path, str]]:
    """Map source name -> (folder, glob pattern) for every folder with curated files."""
    root = curated_dir / "curated" if (curated_dir / "curated").is_dir() else curated_dir
    if not root.is_dir():
        raise FileNotFoundError(f"{curated_dir}: no such folder (expected DIR/curated/<source>/*.jsonl.gz)")
    sources = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        pattern = next((pat for pat in PATTERNS if any(folder.glob(pat))), None)
        if pattern is not None:
            sources[folder.name] = (folder, pattern)
    if not sources:
        raise FileNotFoundError(f"{root}: no <source>/*.jsonl.gz (or .jsonl/.parquet) files to tokenize")
    return sources


def iter_texts(folder: Path, pattern: str, *, text_key: str, max_chars: int) -> Iterator[str]:
    """Texts of one source's curated files, stopping after about ``max_chars`` characters."""
    seen = 0
    for path in sorted(folder.glob(pattern)):
        if pattern == "*.parquet":
            if text_key in pl.read_parquet_schema(path):
                texts = pl.read_parquet(path, columns=[text_key])[text_key].to_list()
            else:  # instruction records: the fallback rendering (tokenizer training only)
                texts = [record_text(r, text_key) for r in pl.read_parquet(path).to_dicts()]
        else:
            with open_curated(path) as f:
                texts = [record_text(json.loads(line), text_key) for line in f if line.strip()]
        for text in texts:
            yield text
            seen += len(text)
            if seen >= max_chars:
                return


def _tokenize_source(
    name: str, folder: Path, pattern: str, out_dir: Path, info: TokenizerInfo, config: TokenizeConfig
) -> None:
    from datatrove.executor import LocalPipelineExecutor

    # task i tokenizes file i, as datatrove's readers shard
    files = sorted(str(p) for p in folder.glob(pattern))
    target = out_dir / name
    # A stale shard from an earlier run would be read as data: start from an empty folder, and
    # run every task (datatrove's skip_completed ignores config changes).
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(out_dir / "_logs" / name, ignore_errors=True)
    step = CuratedTextTokenizer(
        files,
        str(target),
        str(info.path),
        eos_token=info.eos_token,
        # the tokenizer's own template (e.g. Llama's <s> $A) is replaced by BOS + $A + EOS
        bos_token=info.bos_token if info.add_bos else None,
        bos_token_id=info.bos_token_id if info.add_bos else None,
        text_key=config.text_key,
        batch_size=config.batch_size,
    )
    LocalPipelineExecutor(
        [step],
        tasks=len(files),
        workers=min(config.num_workers, len(files)),
        logging_dir=str(out_dir / "_logs" / name),
        skip_completed=False,
    ).run()


def count_shards(source_dir: Path) -> tuple[int, int]:
    """(documents, tokens) of one source's shards, from the ``.ds.index`` files."""
    num_docs = num_tokens = 0
    for index in sorted(source_dir.glob("*.ds.index")):
        ends = np.fromfile(index, dtype="<u8")
        num_docs += len(ends)
        num_tokens += int(ends[-1]) if len(ends) else 0
    return num_docs, num_tokens


def update_inventory(inventory_path: Path, counts: pl.DataFrame) -> pl.DataFrame:
    """Inventory with exact ``num_tokens`` (EOS included) for every tokenized source."""
    if not inventory_path.is_file():
        raise FileNotFoundError(f"{inventory_path}: no inventory here; run `midtrain curate` first")
    inv = pl.read_parquet(inventory_path)
    missing = [c for c in ("source", "num_tokens", "num_tokens_estimated") if c not in inv.columns]
    if missing:
        raise ValueError(f"{inventory_path}: missing column(s) {missing} (written by `midtrain curate`)")
    exact = counts.select("source", pl.col("num_tokens").alias("_exact"))
    return (
        inv.join(exact, on="source", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("_exact", pl.col("num_tokens").cast(pl.Int64)).alias("num_tokens"),
            (pl.col("_exact").is_null() & pl.col("num_tokens_estimated")).alias("num_tokens_estimated"),
        )
        .drop("_exact")
    )


def tokenize_curated(
    curated_dir: str | Path,
    out_dir: str | Path,
    config: TokenizeConfig | None = None,
    *,
    inventory: str | Path | None = None,
) -> pl.DataFrame:
    """Tokenize every curated source into ``out_dir/<source>/*.ds``; return exact counts.

    ``curated_dir`` is a curation run folder (with ``curated/``) or the ``curated/`` folder
    itself. ``inventory`` (default: ``inventory.parquet`` beside ``curated/`` when it exists)
    is copied to ``out_dir/inventory.parquet`` with exact token counts; the original is left as is.
    Returns ``source, num_docs, num_tokens`` (tokens include one EOS per document).
    """
    config = config or TokenizeConfig()
    curated_dir, out_dir = Path(curated_dir), Path(out_dir)
    sources = find_sources(curated_dir)
    if (
        inventory is None
        and (curated_dir / "curated").is_dir()
        and (curated_dir / "inventory.parquet").is_file()
    ):
        inventory = curated_dir / "inventory.parquet"

    texts = None
    if config.tokenizer is None:
        per_source = max(config.train_max_chars // len(sources), 1)
        texts = (
            t
            for folder, pattern in sources.values()
            for t in iter_texts(folder, pattern, text_key=config.text_key, max_chars=per_source)
        )
    info = resolve_tokenizer(config, out_dir, texts)

    rows = []
    for name, (folder, pattern) in sources.items():
        if is_instruction_source(folder, pattern):  # prompt/response or messages: chat template + mask
            tokenize_instruction_source(name, folder, pattern, out_dir, info)
        else:
            _tokenize_source(name, folder, pattern, out_dir, info, config)
        rows.append((name, *count_shards(out_dir / name)))
    counts = pl.DataFrame(rows, schema=COUNTS_SCHEMA, orient="row")
    counts.write_parquet(out_dir / "counts.parquet")
    meta = {
        "tokenizer": info.origin,
        "bos_token": info.bos_token if info.add_bos else None,
        "bos_token_id": info.bos_token_id if info.add_bos else None,
        "eos_token": info.eos_token,
        "eos_token_id": info.eos_token_id,
        "pad_token": info.pad_token,
        "pad_token_id": info.pad_token_id,
        "vocab_size": info.vocab_size,
        "config": config.model_dump(),
        "curated_dir": str(curated_dir.resolve()),
    }
    (out_dir / "tokenize.json").write_text(json.dumps(meta, indent=2) + "\n")
    if inventory is not None:
        update_inventory(Path(inventory), counts).write_parquet(out_dir / "inventory.parquet")
    return counts
