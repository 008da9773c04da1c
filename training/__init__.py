"""midtrain training stage: tokenize curated text into shards, load them by the plan, train with FSDP2.

Public API (imported lazily so `import training` stays light):
`TrainConfig`, `train`, `TrainResult`, `average_checkpoints`, `TokenizeConfig`, `tokenize_curated`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "training.config",
    "train": "training.trainer",
    "TrainResult": "training.trainer",
    "NonFiniteLossError": "training.trainer",
    "average_checkpoints": "training.average",
    "TokenizeConfig": "training.tokenize",
    "tokenize_curated": "training.tokenize",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
