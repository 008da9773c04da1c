"""Checkpoint averaging ("model soup"): the element-wise mean of N HF checkpoints, saved as one HF model."""

from __future__ import annotations

import shutil
from pathlib import Path


def average_checkpoints(paths: list[str | Path], out: str | Path) -> Path:
    """Average the weights of `paths` (HF save_pretrained folders of one architecture) into `out`.

    Means are taken in float64 and cast back to each tensor's dtype; the tokenizer files of the
    first checkpoint are copied alongside.
    """
    from transformers import AutoModelForCausalLM

    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ValueError(f"average_checkpoints: need at least 2 checkpoints, got {len(paths)}")
    for p in paths:
        if not (p / "config.json").is_file():
            raise FileNotFoundError(f"{p}: not an HF checkpoint (no config.json)")
    model = AutoModelForCausalLM.from_pretrained(paths[0], dtype="auto")
    reference = model.state_dict()
    total = {k: v.double().clone() for k, v in reference.items()}
    for p in paths[1:]:
        other = AutoModelForCausalLM.from_pretrained(p, dtype="auto").state_dict()
        if other.keys() != total.keys():
            diff = sorted(set(other) ^ set(total))[:5]
            raise ValueError(
                f"{p}: weights differ in names from {paths[0]} (e.g. {diff}); same architecture needed"
            )
        for k, v in other.items():
            if v.shape != total[k].shape:
                raise ValueError(
                    f"{p}: {k} has shape {tuple(v.shape)}, {paths[0]} has {tuple(total[k].shape)}"
                )
            total[k] += v.double()
    model.load_state_dict({k: (v / len(paths)).to(reference[k].dtype) for k, v in total.items()})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (paths[0] / name).is_file():
            shutil.copy(paths[0] / name, out / name)
    return out
