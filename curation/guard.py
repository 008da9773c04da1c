"""The guard: say so, loudly, before a source is lost.

``source_warnings`` reads a funnel and returns one warning per problem, each naming the source,
the step, how much it took, its top reason with a short example, and where the dropped documents
are (``removed/<source>/<step>/``):

- one step drops more than ``max_drop_fraction`` of the documents of a source that reach it;
- a source ends with 0 curated documents;
- a source has no held-out slice (its held-out loss cannot be measured, and a "general" loss
  would silently become another source's loss).

``FinalizeReport`` writes them to ``reports/warnings.json``; ``run_curation`` prints them, and
with ``guard.strict`` raises ``CurationGuardError`` before ``inventory.parquet`` is written.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from curation.funnel import source_steps


class CurationGuardError(ValueError):
    """``guard.strict`` and at least one source would be lost (the message lists them)."""


def source_warnings(
    funnel: dict, *, max_drop_fraction: float, heldout_expected: bool, removed_dir: Path | None = None
) -> list[dict]:
    warnings = []
    for source, row in funnel["by_source"].items():
        for st in source_steps(funnel, source):
            if not st["input"] or not st["dropped"]:
                continue
            share = st["dropped"] / st["input"]
            if share <= max_drop_fraction:
                continue
            reason, count = max(st["reasons"].items(), key=lambda kv: kv[1]) if st["reasons"] else ("?", 0)
            where = "rejects/" if st["step"] == "read" else f"removed/{source}/{st['step']}/"
            example = _example(removed_dir, source, st["step"], reason) if st["step"] != "read" else None
            msg = (
                f"source {source!r}: {st['step']} dropped {st['dropped']} of {st['input']} documents "
                f"({share:.0%} > guard.max_drop_fraction {max_drop_fraction:g}); top reason {reason} ({count})"
            )
            if example:
                msg += f', e.g. "{example}"'
            msg += f"; see {where}"
            if st["step"] not in ("read", "dedup", "decontamination"):
                msg += f"; if this source is not web crawl, check its `kind` (profile {row.get('profile')})"
            warnings.append(
                {
                    "source": source,
                    "step": st["step"],
                    "kind": "step_drop",
                    "dropped": st["dropped"],
                    "input": st["input"],
                    "top_reason": reason,
                    "message": msg,
                }
            )
        if row.get("input", 0) and not row.get("curated", 0):
            warnings.append(
                {
                    "source": source,
                    "step": None,
                    "kind": "empty",
                    "message": (
                        f"source {source!r}: 0 documents left of {row.get('input', 0)} read "
                        "(nothing of it reaches training)"
                    ),
                }
            )
        elif not row.get("input", 0):
            warnings.append(
                {
                    "source": source,
                    "step": "read",
                    "kind": "empty",
                    "message": (
                        f"source {source!r}: no document could be read (empty, binary or all rejected; see rejects/)"
                    ),
                }
            )
        if heldout_expected and row.get("input", 0) and not row.get("heldout", 0):
            warnings.append(
                {
                    "source": source,
                    "step": "heldout",
                    "kind": "no_heldout",
                    "message": (
                        f"source {source!r}: no held-out slice ({row.get('curated', 0)} documents left); its "
                        "held-out loss cannot be measured"
                    ),
                }
            )
    return warnings


def _example(removed_dir: Path | None, source: str, step: str, reason: str, width: int = 100) -> str | None:
    """The start of one removed document of ``source`` at ``step`` with ``reason``."""
    if removed_dir is None:
        return None
    for path in sorted((Path(removed_dir) / source / step).glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for k, line in enumerate(f):
                record = json.loads(line)
                if (record.get("metadata") or {}).get("filter_reason", reason) == reason:
                    text = " ".join(record.get("text", "").split())
                    return text[:width] + ("..." if len(text) > width else "")
                if k > 2000:
                    break
    return None


def removed_examples(removed_dir: Path, per_reason: int = 1, width: int = 200) -> list[dict]:
    """For the report: per (source, step, reason), the first ``per_reason`` removed documents."""
    out, seen = [], {}
    for path in sorted(Path(removed_dir).glob("*/*/*.jsonl.gz")):
        source, step = path.parent.parent.name, path.parent.name
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for k, line in enumerate(f):
                record = json.loads(line)
                reason = (record.get("metadata") or {}).get("filter_reason", "unspecified")
                key = (source, step, reason)
                if seen.get(key, 0) >= per_reason:
                    if k > 2000:
                        break
                    continue
                seen[key] = seen.get(key, 0) + 1
                out.append(
                    {
                        "source": source,
                        "step": step,
                        "reason": reason,
                        "doc_id": record.get("id"),
                        "excerpt": record.get("text", "")[:width],
                    }
                )
    return out


def format_warnings(warnings: list[dict]) -> str:
    return "\n".join(f"WARNING {w['message']}" for w in warnings)
