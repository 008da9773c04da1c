"""Where a run's starting weights come from: an HF folder, a midtrain DCP checkpoint, or a hub name.

``model.init_from`` (and the older ``scheduler.anneal_from``) may name

* a local Hugging Face folder (``config.json`` + weights, e.g. ``RUN/hf/step_N`` or any
  ``save_pretrained`` output); its ``midtrain_state.json`` (written by midtrain's exports) gives
  the LR, step and tokens it was trained to;
* a midtrain DCP checkpoint (``RUN/checkpoints/step_N``: ``.metadata``, ``trainer_state.json``):
  weights and optimizer state; its architecture is ``hf_config.json`` in the checkpoint (or the
  run's ``hf/step_N/config.json`` for checkpoints written before that file existed);
* a hub name (``org/model``), loaded by transformers when online.

Anything else fails here, before a model is built, with the key and the fix.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

STATE_FILE = "midtrain_state.json"  # beside every HF export: step, tokens, LR, schedule, seq_len, RoPE
DCP_CONFIG_FILE = "hf_config.json"  # inside every DCP checkpoint: the model's transformers config


@dataclass(frozen=True)
class InitSource:
    kind: Literal["hf", "dcp", "hub"]
    location: str  # folder path or hub name
    key: str  # the config key it came from (for messages)
    config_source: str  # what AutoConfig.from_pretrained reads (folder, config JSON or hub name)
    state: dict[str, Any] = field(default_factory=dict)  # recorded step / tokens / lr, when known

    @property
    def has_optimizer(self) -> bool:
        return self.kind == "dcp"

    @property
    def recorded_lr(self) -> float | None:
        lr = self.state.get("lr")
        return float(lr) if lr is not None else None


def _is_dcp(path: Path) -> bool:
    return (path / ".metadata").is_file()


def resolve_init(location: str, *, key: str = "model.init_from") -> InitSource:
    """Classify ``location`` (raises ValueError/FileNotFoundError naming ``key`` when it is unusable)."""
    path = Path(location).expanduser()
    if path.is_dir():
        if _is_dcp(path):
            return InitSource(
                "dcp", str(path), key, str(_dcp_config(path, key)), _read_json(path / "trainer_state.json")
            )
        if (path / "config.json").is_file():
            return InitSource("hf", str(path), key, str(path), _read_json(path / STATE_FILE))
        raise ValueError(
            f"{key}: {path} is neither a Hugging Face folder (no config.json) nor a midtrain DCP "
            "checkpoint (no .metadata); point it at RUN/hf/step_N, a save_pretrained folder or "
            "RUN/checkpoints/step_N"
        )
    if path.exists():
        raise ValueError(
            f"{key}: {path} is a file; give the folder that holds config.json (or a DCP checkpoint)"
        )
    looks_local = location.startswith((".", "/", "~")) or location.count("/") > 1 or "\\" in location
    if looks_local:
        raise FileNotFoundError(f"{key}: {location} does not exist; check the path")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ValueError(
            f"{key}: {location!r} is not a local folder and HF_HUB_OFFLINE=1, so it cannot be fetched "
            "from the hub; download it first (huggingface-cli download) and give the local folder"
        )
    return InitSource("hub", location, key, location)


def _dcp_config(path: Path, key: str) -> Path:
    inside = path / DCP_CONFIG_FILE
    if inside.is_file():
        return inside
    sibling = path.parent.parent / "hf" / path.name / "config.json"  # RUN/checkpoints/step_N -> RUN/hf/step_N
    if sibling.is_file():
        return sibling
    raise FileNotFoundError(
        f"{key}: {path} is a DCP checkpoint without {DCP_CONFIG_FILE} (written by newer midtrain) and "
        f"there is no {sibling} to read the architecture from; export it to HF first or give model.config_from"
    )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}); delete or rewrite it") from None


def weights_fingerprint(location: str) -> dict[str, Any]:
    """What identifies a checkpoint's weights cheaply: names, sizes and mtimes of its weight files.

    A recipe puts this in the training stage's key, so new weights at the same path retrain. Hub
    names are their own fingerprint (a revision pin belongs in the name).
    """
    path = Path(location).expanduser()
    if path.is_file():
        return {path.name: [path.stat().st_size, path.stat().st_mtime_ns]}
    if not path.is_dir():
        return {"name": location}
    suffixes = (".safetensors", ".bin", ".distcp", ".pt", ".json", ".metadata")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(suffixes))
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files}
