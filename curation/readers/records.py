"""Read raw records from one unit (file or dataset shard), never raising on a bad record.

Each record comes back as ``Record(line, data, error)``: ``error`` is a short reason
(``malformed_json``, ``non_utf8``, ``not_an_object``) when the record cannot be used, so the
reader can count it, log it to ``rejects/`` and go on.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson


@dataclass
class Record:
    line: int  # 1-based line (jsonl), row index (parquet/HF), 0 for a whole text file
    data: dict = field(default_factory=dict)
    error: str | None = None
    raw: bytes = b""  # the offending bytes, for the rejects log


def _open_binary(path: str):
    import fsspec

    if path.endswith(".zst"):  # fsspec's zstd stream cannot iterate lines; buffer it ourselves
        import io

        import zstandard

        raw = open(path, "rb")  # noqa: SIM115 - closed with the reader
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))

    return fsspec.open(path, "rb", compression="infer").open()


def iter_jsonl(path: str) -> Iterator[Record]:
    with _open_binary(path) as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                yield Record(line_no, error="non_utf8", raw=raw[:200])
                continue
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                yield Record(line_no, error="malformed_json", raw=raw[:200])
                continue
            if not isinstance(data, dict):
                yield Record(line_no, error="not_an_object", raw=raw[:200])
                continue
            yield Record(line_no, data)


def iter_parquet(path: str, columns: list[str] | None, limit_rows: int | None = None) -> Iterator[Record]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    cols = [c for c in columns or [] if c in names] or None
    row = 0
    for batch in pf.iter_batches(batch_size=1024, columns=cols):
        for data in batch.to_pylist():
            row += 1
            yield Record(row, data)
            if limit_rows and row >= limit_rows:
                return
    if row == 0 and columns and cols is None:
        yield Record(0, {k: None for k in names})


def iter_text(path: str) -> Iterator[Record]:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        yield Record(0, error="non_utf8", raw=raw[:200])
        return
    yield Record(0, {"text": text})


def iter_hf(unit, split: str, limit_rows: int | None = None) -> Iterator[Record]:
    import datasets

    if unit.format == "hf_disk":
        ds = datasets.load_from_disk(unit.path)
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ValueError(f"{unit.path}: no split {split!r} (splits: {list(ds)})")
            ds = ds[split]
    else:
        ds = datasets.load_dataset(unit.path, split=split, streaming=True)
    rows = itertools.islice(enumerate(ds), unit.shard, limit_rows, unit.num_shards)
    for index, data in rows:
        yield Record(index + 1, dict(data))


def iter_records(
    unit,
    *,
    text_key: str = "text",
    id_key: str | None = None,
    split: str = "train",
    limit_rows: int | None = None,
) -> Iterator[Record]:
    """Records of one unit; ``text`` files yield their content under ``text_key``."""
    if unit.format == "jsonl":
        yield from itertools.islice(iter_jsonl(unit.path), limit_rows)
    elif unit.format == "parquet":
        yield from iter_parquet(unit.path, [text_key] + ([id_key] if id_key else []), limit_rows)
    elif unit.format == "text":
        for record in iter_text(unit.path):
            if record.error is None:
                record.data = {text_key: record.data["text"]}
            yield record
    elif unit.format in ("hf_disk", "hf_hub"):
        yield from iter_hf(unit, split, limit_rows)
    else:
        raise AssertionError(f"unknown unit format {unit.format}")
