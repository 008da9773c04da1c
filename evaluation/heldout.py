"""Read the held-out slices curation sets aside: ``heldout/<source>/*.jsonl.gz``.

Each line is ``{"text": str, "metadata": {"domain": str, ...}}`` (curation/schema.py). Documents
are grouped by ``metadata.domain``, not by source, because loss is reported per domain. A line
without those keys is a ValueError naming file, line and key.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path


def resolve_heldout_dir(path: str | Path) -> Path:
    """Accept either a curation output folder (holding ``heldout/``) or ``heldout/`` itself."""
    path = Path(path)
    if (path / "heldout").is_dir():
        path = path / "heldout"
    if not path.is_dir():
        raise FileNotFoundError(f"heldout_dir: {path} is not a folder; point it at curation's output")
    return path


def heldout_files(heldout_dir: str | Path) -> list[Path]:
    root = resolve_heldout_dir(heldout_dir)
    files = sorted(root.glob("*/*.jsonl.gz")) + sorted(root.glob("*/*.jsonl"))
    if not files:
        raise FileNotFoundError(f"{root}: no held-out slices (expected heldout/<source>/*.jsonl.gz)")
    return files


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def iter_json_lines(path: Path):
    """``(line_no, record)`` for each non-blank line of a jsonl(.gz) file; a bad line is a
    ValueError naming file and line (the one reader evaluation's held-out, eval-set and
    reference-set loaders share)."""
    with _open(Path(path)) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({error.msg})") from None


def read_heldout(heldout_dir: str | Path) -> dict[str, list[str]]:
    """Return ``{domain: [text, ...]}`` in a stable order (files sorted, lines in order)."""
    by_domain: dict[str, list[str]] = defaultdict(list)
    for path in heldout_files(heldout_dir):
        for line_no, record in iter_json_lines(path):
            text = record.get("text") if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise ValueError(f"{path}:{line_no}: missing key 'text' (a string)")
            domain = (record.get("metadata") or {}).get("domain")
            if not isinstance(domain, str) or not domain:
                raise ValueError(f"{path}:{line_no}: missing key 'metadata.domain' (a string)")
            if text:
                by_domain[domain].append(text)
    return dict(sorted(by_domain.items()))
