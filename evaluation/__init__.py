"""midtrain evaluation stage: per-domain held-out loss, gains vs retention, benchmarks from local
files (GSM8K, HumanEval, multiple choice; optionally through lm-eval), long-context probes and a
contamination audit, written as eval.parquet + report.md + PNG plots.

    from evaluation import EvalConfig, evaluate
    frame = evaluate({"base": base_dir, "anneal": anneal_dir}, EvalConfig(heldout_dir=curated), out_dir)
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use: `evaluate` pulls in torch, which every other `midtrain` command (and
# `midtrain --help`) should not pay for.
_EXPORTS = {"EvalConfig": "evaluation.config", "evaluate": "evaluation.runner"}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
