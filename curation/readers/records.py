"""Read raw records from one unit (file or dataset shard), never raising on bad input.

Each record comes back as ``Record(line, data, error)``: ``error`` is a short reason
(``malformed_json``, ``non_utf8``, ``not_an_object``, ``binary_file``, ...) when the record cannot
be used, so the reader can count it, log it to ``rejects/`` and go on. A file that breaks while
it is read (a truncated or corrupt ``.gz``/``.zst``, a damaged parquet file) ends with one
``corrupt_file`` record whose ``detail`` names the file, the error and how many records were read
before it; the records before the break are kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson


@dataclass
class Record:
    line: int  # 1-based line (jsonl, first line of a text piece), 1-based row (parquet/HF)
    data: dict = field(default_factory=dict)
    error: str | None = None
    raw: bytes = b""  # the offending bytes, for the rejects log
    detail: str = ""  # what went wrong and the fix, for errors about a whole file


def _zstd_lines(path: str) -> Iterator[bytes]:
    """Lines of a (multi-frame) zstd file; EOFError when it ends inside a frame (truncated).

    zstandard's stream reader returns what it has at a cut and says nothing, so the frames are
    decoded here and the end is checked.
    """
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    dobj, in_frame, pending = dctx.decompressobj(), False, b""
    with open(path, "rb") as raw:
        while chunk := raw.read(1 << 20):
            while chunk:
                pending += dobj.decompress(chunk)
                in_frame = not dobj.eof
                chunk = dobj.unused_data if dobj.eof else b""
                if dobj.eof:
                    dobj = dctx.decompressobj()
            *lines, pending = pending.split(b"\n")
            yield from (line + b"\n" for line in lines)
    if in_frame:
        raise EOFError("zstd stream ended inside a frame (truncated file)")
    if pending:
        yield pending


def _binary_lines(path: str) -> Iterator[bytes]:
    if path.endswith(".zst"):
        yield from _zstd_lines(path)
        return
    import fsspec

    with fsspec.open(path, "rb", compression="infer") as f:
        yield from f


def iter_jsonl(path: str) -> Iterator[Record]:
    for line_no, raw in enumerate(_binary_lines(path), start=1):
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
    columns: list[str] | None = None,
    split_by: str = "whole",
    split_pattern: str | None = None,
    max_bytes: int | None = None,
) -> Iterator[Record]:
    """Records of one unit; ``text`` files yield their pieces under ``text_key``.

    ``columns`` are the keys a parquet file must read (default ``text_key`` and ``id_key``);
    ``split_by``/``split_pattern``/``max_bytes`` cut text files (see curation/readers/text.py).
    """
    if unit.format == "jsonl":
        records = itertools.islice(iter_jsonl(unit.path), limit_rows)
    elif unit.format == "parquet":
        wanted = columns or [text_key]
        records = iter_parquet(unit.path, wanted + ([id_key] if id_key else []), limit_rows)
    elif unit.format == "text":
        records = itertools.islice(
            _text_records(unit.path, text_key, split_by, split_pattern, max_bytes), limit_rows
        )
    elif unit.format in ("hf_disk", "hf_hub"):
        yield from iter_hf(unit, split, limit_rows)  # errors here are about the dataset: preflight's
        return
    else:
        raise AssertionError(f"unknown unit format {unit.format}")
    yield from _until_broken(records, unit.path)


def _text_records(path, text_key, split_by, split_pattern, max_bytes) -> Iterator[Record]:
    from curation.readers.text import iter_text

    for record in iter_text(path, split_by=split_by, split_pattern=split_pattern, max_bytes=max_bytes):
        if record.error is None:
            record.data = {text_key: record.data["text"]}
        yield record


def _broken_file_errors() -> tuple[type[BaseException], ...]:
    import zlib

    import zstandard

    from curation.gzip_io import BROKEN_STREAM_ERRORS

    errors: list[type[BaseException]] = [
        EOFError,
        OSError,
        zlib.error,
        zstandard.ZstdError,
        *BROKEN_STREAM_ERRORS,
    ]
    try:
        import pyarrow

        errors.append(pyarrow.ArrowException)
    except ImportError:  # parquet support is optional
        pass
    return tuple(errors)


def _until_broken(records: Iterator[Record], path: str) -> Iterator[Record]:
    """``records``, then one ``corrupt_file`` record if reading the file fails part-way."""
    num_read, last_line = 0, 0
    try:
        for record in records:
            num_read += record.error is None
            last_line = max(last_line, record.line)
            yield record
    except _broken_file_errors() as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else "read error"
        got = (
            f"after {num_read} records (up to line {last_line}), which are kept"
            if num_read
            else "at the start"
        )
        detail = f"{path}: {type(error).__name__}: {message}; broke {got}; re-download or re-create the file"
        yield Record(last_line + 1, error="corrupt_file", detail=detail)
