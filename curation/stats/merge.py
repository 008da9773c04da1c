"""Merge datatrove's per-task stats files of one stage (works for every executor)."""

from __future__ import annotations

import json
from pathlib import Path

from datatrove.utils.stats import PipelineStats


def load_stage_stats(logging_dir: str | Path) -> PipelineStats | None:
    """Sum ``<logging_dir>/stats/*.json``; None when the stage wrote none."""
    files = sorted(Path(logging_dir, "stats").glob("*.json"))
    total = PipelineStats()
    for f in files:
        total = total + PipelineStats.from_json(json.loads(f.read_text()))
    return total if files else None


def stat_total(stats, key: str) -> int:
    """Total of one counter of one step's Stats (0 when absent)."""
    value = stats.stats.get(key) if stats is not None else None
    if value is None:
        return 0
    return int(value.get("total", 0)) if isinstance(value, dict) else int(getattr(value, "total", value))
