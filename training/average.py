"""Checkpoint averaging ("model soup"): the element-wise mean of N HF checkpoints, saved as one HF model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def average_checkpoints(paths: list[str | Path], out: str | Path) -> Path:
    """Average the weights of `paths` (HF save_pretrained folders of one architecture) into `out`.

    Means are taken in float64 and cast back to each tensor's dtype; the tokenizer files of the
    first checkpoint are copied alongside, config.json and generation_config.json get its
    bos/eos/pad ids, and ``midtrain_state.json`` is the first member's with ``averaged_from``.
    """
    from transformers import AutoModelForCausalLM

    from training.init_source import STATE_FILE
    from training.trainer.export import align_special_tokens, load_tokenizer, write_state

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
    if (paths[0] / "tokenizer.json").is_file():
        align_special_tokens(model, load_tokenizer(paths[0]))
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (paths[0] / name).is_file():
            shutil.copy(paths[0] / name, out / name)
    first_state = paths[0] / STATE_FILE
    state = json.loads(first_state.read_text()) if first_state.is_file() else {}
    state.update(averaged_from=[str(p.resolve()) for p in paths], checkpoint=None)
    write_state(out, state)
    return out
