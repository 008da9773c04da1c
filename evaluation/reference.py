"""Read reference sets: held-out text of the model's original distribution, to measure retention on.

A reference set (``EvalConfig.reference_sets``) is scored like a held-out domain, under the domain
name ``reference:<name>``. Accepted files (a folder means every such file in it, sorted):

- ``.jsonl`` / ``.jsonl.gz`` / ``.json``: one object per line, text under ``text_key``;
- ``.parquet``: a string column ``text_key``;
- ``.txt`` / ``.md``: split into documents by ``split_by`` (``file``, ``paragraph`` = blank lines,
  ``line``).

With ``domain`` set, records must carry ``metadata.domain`` and only that domain is kept; with
``domain`` alone, the documents come from the held-out slices (``heldout_dir``). Evaluation does
not import curation: this reader is small on purpose and accepts the formats curation writes.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from evaluation.config import ReferenceSetConfig
from evaluation.heldout import iter_json_lines

PREFIX = "reference:"
_JSONL = (".jsonl", ".jsonl.gz", ".json")
_TEXT = (".txt", ".md")


def reference_domain(name: str) -> str:
    return f"{PREFIX}{name}"


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"reference_sets: {path} is neither a file nor a folder")
    found = sorted(
        p for p in path.rglob("*") if p.is_file() and p.name.endswith((*_JSONL, ".parquet", *_TEXT))
    )
    if not found:
        raise FileNotFoundError(f"reference_sets: {path} holds no .jsonl(.gz), .parquet, .txt or .md files")
    return found


def _jsonl(path: Path, ref: ReferenceSetConfig) -> list[str]:
    texts = []
    for line_no, record in iter_json_lines(path):
        text = record.get(ref.text_key) if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise ValueError(f"{path}:{line_no}: missing key {ref.text_key!r} (a string); set `text_key`")
        if ref.domain is not None and (record.get("metadata") or {}).get("domain") != ref.domain:
            continue
        texts.append(text)
    return texts


def _parquet(path: Path, ref: ReferenceSetConfig) -> list[str]:
    frame = pl.read_parquet(path)
    if ref.text_key not in frame.columns:
        raise ValueError(f"{path}: no column {ref.text_key!r} (columns: {frame.columns}); set `text_key`")
    if ref.domain is not None:
        if "metadata" not in frame.columns:
            raise ValueError(f"{path}: `domain` is set but the file has no 'metadata' column")
        frame = frame.filter(pl.col("metadata").struct.field("domain") == ref.domain)
    return [t for t in frame[ref.text_key].to_list() if isinstance(t, str)]


def _text(path: Path, ref: ReferenceSetConfig) -> list[str]:
    body = path.read_text(encoding="utf-8")
    if ref.split_by == "file":
        return [body]
    pieces = body.splitlines() if ref.split_by == "line" else re.split(r"\n\s*\n", body)
    return [p.strip() for p in pieces if p.strip()]


def read_reference(ref: ReferenceSetConfig, *, name: str) -> list[str]:
    """The documents of one reference set (non-empty), in a stable order."""
    texts: list[str] = []
    for path in _files(Path(ref.path)):
        if path.name.endswith(_JSONL):
            texts += _jsonl(path, ref)
        elif path.suffix == ".parquet":
            texts += _parquet(path, ref)
        else:
            texts += _text(path, ref)
    texts = [t for t in texts if t]
    if not texts:
        where = f" with metadata.domain {ref.domain!r}" if ref.domain else ""
        raise ValueError(f"reference_sets.{name}: no documents{where} in {ref.path}")
    return texts


def read_references(
    references: dict[str, ReferenceSetConfig], heldout: dict[str, list[str]] | None
) -> dict[str, list[str]]:
    """``{reference:<name>: [text, ...]}`` for every configured set; ``domain`` alone reads ``heldout``."""
    out: dict[str, list[str]] = {}
    for name, ref in references.items():
        if ref.path is None:
            if not heldout or ref.domain not in heldout:
                have = sorted(heldout or {})
                raise ValueError(
                    f"reference_sets.{name}: domain {ref.domain!r} not in the held-out slices {have}"
                )
            out[reference_domain(name)] = list(heldout[ref.domain])
        else:
            out[reference_domain(name)] = read_reference(ref, name=name)
    return out
