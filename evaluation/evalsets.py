"""Read local benchmark files (jsonl) and check every line has the fields its format needs.

Formats (one JSON object per line):

- GSM8K: ``question`` (str), ``answer`` (str ending in ``#### <number>``).
- HumanEval: ``prompt``, ``test``, ``entry_point`` (str); ``task_id`` and ``canonical_solution`` optional.
- Multiple choice: ``question`` (str), ``choices`` (list of str, >= 2), ``answer`` (int index).

A bad line is a ValueError naming file, line and key, raised before any model runs.
"""

from __future__ import annotations

from pathlib import Path

from evaluation.heldout import iter_json_lines

FORMATS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "gsm8k": {"question": str, "answer": str},
    "humaneval": {"prompt": str, "test": str, "entry_point": str},
    "mc": {"question": str, "choices": list, "answer": int},
}


def read_evalset(path: str | Path, kind: str, *, limit: int | None = None) -> list[dict]:
    """Records of ``path`` checked against ``FORMATS[kind]``; at most ``limit`` of them."""
    path = Path(path)
    fields = FORMATS[kind]
    if not path.is_file():
        raise FileNotFoundError(f"{kind} file {path}: not found")
    records: list[dict] = []
    for line_no, record in iter_json_lines(path):
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
        for key, kind_type in fields.items():
            if key not in record:
                raise ValueError(
                    f"{path}:{line_no}: missing key {key!r} ({kind} format needs {list(fields)})"
                )
            if not isinstance(record[key], kind_type) or isinstance(record[key], bool):
                raise ValueError(
                    f"{path}:{line_no}: key {key!r} must be {kind_type.__name__}, "
                    f"got {type(record[key]).__name__}"
                )
        if kind == "mc":
            choices = record["choices"]
            if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
                raise ValueError(f"{path}:{line_no}: key 'choices' must be a list of >= 2 strings")
            if not 0 <= record["answer"] < len(choices):
                raise ValueError(
                    f"{path}:{line_no}: key 'answer' = {record['answer']} is not an index "
                    f"into {len(choices)} choices"
                )
        record.setdefault("_line", line_no)
        records.append(record)
        if limit is not None and len(records) >= limit:
            break
    if not records:
        raise ValueError(f"{path}: no items")
    return records


def item_text(record: dict) -> str:
    """The text an item shows a model (used by the contamination audit)."""
    for key in ("question", "prompt", "text"):
        if isinstance(record.get(key), str):
            return record[key]
    raise ValueError(f"item at line {record.get('_line')}: no 'question', 'prompt' or 'text' to audit")


def evalset_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name
