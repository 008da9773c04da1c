"""Find the files of a source and check them before any work starts.

A source is cut into *units*: one input file, or one of ``world_size`` row shards of a
HuggingFace dataset. Units of all sources, in source order, are dealt to tasks round-robin
(``units[rank::world_size]``), like datatrove deals files. ``preflight_source`` opens the first
record of each file and fails with the file, line and key when ``text_key`` (or a
``text_template`` field) is missing, or when an ``instruction`` source's first record is not a
usable conversation, so a typo costs seconds, not a run.
"""

from __future__ import annotations

import glob as globlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from curation.config import SourceConfig
from curation.readers.records import iter_records
from curation.readers.template import template_fields

_JSONL = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst", ".ndjson")
_PARQUET = (".parquet",)
_TEXT = (".txt", ".md", ".text")


@dataclass(frozen=True)
class SourceUnit:
    source: str  # source name
    format: str  # jsonl | parquet | text | hf_disk | hf_hub
    path: str  # file path, or dataset path/name
    shard: int = 0  # row shard of a HF dataset (0 for files)
    num_shards: int = 1


def detect_format(path: str) -> str | None:
    lower = path.lower()
    if lower.endswith(_JSONL):
        return "jsonl"
    if lower.endswith(_PARQUET):
        return "parquet"
    if lower.endswith(_TEXT):
        return "text"
    return None


def source_files(source: SourceConfig) -> list[str]:
    """Sorted files of a file-based source; FileNotFoundError naming the source when none."""
    path = source.path
    if any(ch in path for ch in "*?["):
        files = [p for p in globlib.glob(path, recursive=True) if Path(p).is_file()]
    elif Path(path).is_file():
        files = [path]
    elif Path(path).is_dir():
        pattern = source.glob or "**/*"
        files = [str(p) for p in Path(path).glob(pattern) if p.is_file() and not p.name.startswith(".")]
        if source.format == "auto" and not source.glob:
            files = [f for f in files if detect_format(f)]
    else:
        raise FileNotFoundError(f"source {source.name!r}: path {path!r} does not exist")
    if not files:
        raise FileNotFoundError(f"source {source.name!r}: no input files match {path!r}")
    return sorted(files)


def _is_hf_disk(path: str) -> bool:
    p = Path(path)
    return p.is_dir() and ((p / "dataset_info.json").is_file() or (p / "dataset_dict.json").is_file())


def source_format(source: SourceConfig) -> str:
    if source.format != "auto":
        return source.format
    if _is_hf_disk(source.path):
        return "hf_disk"
    return "file"  # per-file detection


def list_units(source: SourceConfig, world_size: int) -> list[SourceUnit]:
    fmt = source_format(source)
    if fmt in ("hf_disk", "hf_hub"):
        return [SourceUnit(source.name, fmt, source.path, k, world_size) for k in range(world_size)]
    units = []
    for f in source_files(source):
        file_fmt = fmt if fmt != "file" else detect_format(f)
        if file_fmt is None:
            raise ValueError(
                f"source {source.name!r}: cannot tell the format of {f!r}; set `format:` "
                "(jsonl, parquet, text) or `glob:`"
            )
        units.append(SourceUnit(source.name, file_fmt, f))
    return units


def preflight_source(source: SourceConfig, *, max_doc_bytes: int | None = None) -> int:
    """Check that every file opens and its first record has the text key (or every
    ``text_template`` field); return the file count. A file that turns out corrupt is left to the
    reader, which counts it and goes on with the other files. With ``max_doc_bytes``, text files
    that ``split_by: whole`` would reject as too large are announced now with a warning."""
    units = list_units(source, 1)
    if max_doc_bytes and source.split_by == "whole":
        _warn_large_text_files(source, [u.path for u in units if u.format == "text"], max_doc_bytes)
    fields = template_fields(source.text_template) if source.text_template else None
    formats = {unit.format for unit in units}
    if source.instruction is not None and "text" in formats:
        raise ValueError(
            f"source {source.name!r}: instruction needs records with fields (jsonl, parquet, HF), but "
            f"{next(u.path for u in units if u.format == 'text')} is a plain-text file; remove instruction"
        )
    if fields is not None and "text" in formats:
        raise ValueError(
            f"source {source.name!r}: text_template needs records with fields (jsonl, parquet, HF), but "
            f"{next(u.path for u in units if u.format == 'text')} is a plain-text file; remove text_template"
        )
    if source.split_by != "whole" and "text" not in formats:
        warnings.warn(
            f"source {source.name!r}: split_by: {source.split_by} has no effect: it cuts plain-text files "
            f"and this source has only {sorted(formats)} input",
            stacklevel=2,
        )
    for unit in units:
        if unit.format == "text":
            if not Path(unit.path).is_file() or not _readable(unit.path):
                raise FileNotFoundError(f"source {source.name!r}: cannot read {unit.path}")
            continue
        try:
            columns = source.instruction.record_keys() if source.instruction else fields
            for record in iter_records(
                unit, text_key=source.text_key, split=source.split, limit_rows=50, columns=columns
            ):
                if record.error is None:
                    _check_keys(source, unit, record, fields)
                    break
        except OSError as error:
            raise FileNotFoundError(f"source {source.name!r}: cannot read {unit.path}: {error}") from error
        except (ValueError, FileNotFoundError):
            raise
        except Exception as error:  # datasets raises its own types for a missing/offline dataset
            raise ValueError(
                f"source {source.name!r}: cannot open {unit.format} dataset {unit.path!r}: "
                f"{type(error).__name__}: {error}"
            ) from error
    return len(units)


def _warn_large_text_files(source: SourceConfig, paths: list[str], max_doc_bytes: int) -> None:
    large = [
        (p, os.path.getsize(p)) for p in paths if os.path.isfile(p) and os.path.getsize(p) > max_doc_bytes
    ]
    if large:
        path, size = large[0]
        warnings.warn(
            f"source {source.name!r}: {len(large)} of {len(paths)} text files are over max_doc_bytes="
            f"{max_doc_bytes:,} and will be rejected whole (file_too_large), e.g. {path} ({size:,} bytes); "
            "set `split_by: paragraphs` (or `lines`, or `split_pattern: REGEX`) for this source",
            stacklevel=3,
        )


def _check_keys(source: SourceConfig, unit: SourceUnit, record, fields: list[str] | None) -> None:
    where = f"source {source.name!r}: {unit.path}:{record.line}"
    keys = sorted(record.data)[:12]
    if unit.format == "parquet":  # only the wanted columns were read: list the file's own
        import pyarrow.parquet as pq

        keys = sorted(pq.read_schema(unit.path).names)[:12]
    if source.instruction is not None:
        from curation.readers.instruct import InstructionError, conversation_of, key_field

        missing = [key for key in source.instruction.record_keys() if key not in record.data]
        if missing:  # named here with the file's own keys (a parquet record holds only the wanted ones)
            spec = source.instruction
            raise ValueError(
                f"{where}: no key {missing[0]!r} (keys: {keys}); name it with `instruction: "
                f"{{format: {spec.format}, {key_field(spec, missing[0])}: <key>}}` for this source"
            )
        try:
            conversation_of(record.data, source.instruction)
        except InstructionError as error:
            raise ValueError(f"{where}: {error} (instruction: {source.instruction.format})") from None
        return
    if fields is None:
        if source.text_key not in record.data:
            raise ValueError(
                f"{where}: no key {source.text_key!r} (keys: {keys}); set `text_key` for this source"
            )
        return
    missing = [name for name in fields if name not in record.data]
    if missing:
        raise ValueError(
            f"{where}: text_template field {missing[0]!r} is not in the record (keys: {keys}); "
            "correct text_template for this source"
        )


def _readable(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False
