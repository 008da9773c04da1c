"""HF export: `save_pretrained` model + tokenizer whose special tokens agree, and the state file beside it.

Every folder midtrain writes (``RUN/hf/step_N``, averages, long-context runs) holds

* ``config.json`` and ``generation_config.json`` with the tokenizer's own ``bos_token_id``,
  ``eos_token_id`` and ``pad_token_id`` (``generate()`` stops at the tokenizer's EOS), and the
  RoPE settings the model was trained with;
* the tokenizer (``tokenizer.json`` + ``tokenizer_config.json``);
* ``midtrain_state.json``: ``step``, ``tokens``, ``lr`` (the LR of the last step), ``peak_lr``,
  ``schedule`` (the resolved LR schedule), ``seq_len`` (of the last phase trained),
  ``max_position_embeddings``, ``rope_parameters``, ``plan_digest`` (sha256 of plan.parquet) and
  ``checkpoint`` (the DCP checkpoint of the same step, which also holds the optimizer state).
  A run that starts from this folder reads its LR from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from training.init_source import STATE_FILE
from training.trainer.parallel import Dist

_EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>", "[EOS]", "<|eos|>")
_PAD_CANDIDATES = ("<pad>", "<|pad|>", "[PAD]")


def full_state_dict(model) -> dict[str, torch.Tensor]:
    """Gather the unsharded fp32 weights to rank 0's CPU (a collective: every rank must call it)."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_tokenizer(path: Path):
    """A tokenizer folder (tokenizer_config.json names its special tokens) or a bare tokenizer.json.

    A bare file gets eos from well-known spellings (else the last special token) and pad = a pad
    token, else eos.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if (folder / "tokenizer_config.json").is_file() and (folder / "tokenizer.json").is_file():
        tok = AutoTokenizer.from_pretrained(str(folder))
        if tok.eos_token is not None:
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            return tok
    file = path if path.is_file() else path / "tokenizer.json"
    tok = PreTrainedTokenizerFast(tokenizer_file=str(file))
    vocab = tok.get_vocab()
    added = [t["content"] for t in json.loads(file.read_text()).get("added_tokens", []) if t.get("special")]
    eos = next((t for t in _EOS_CANDIDATES if t in vocab), added[-1] if added else None)
    pad = next((t for t in _PAD_CANDIDATES if t in vocab), eos)
    if eos is not None:
        tok.eos_token = eos
    if pad is not None:
        tok.pad_token = pad
    return tok


def special_token_ids(tokenizer) -> dict[str, int | None]:
    return {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def align_special_tokens(model, tokenizer) -> None:
    """Make config and generation_config carry the tokenizer's bos/eos/pad (None where it has none)."""
    from transformers import GenerationConfig

    ids = special_token_ids(tokenizer)
    for key, value in ids.items():
        setattr(model.config, key, value)
    generation = getattr(model, "generation_config", None) or GenerationConfig()
    for key, value in ids.items():
        setattr(generation, key, value)
    model.generation_config = generation


def write_state(out_dir: Path, state: dict[str, Any]) -> Path:
    path = Path(out_dir) / STATE_FILE
    path.write_text(json.dumps(state, indent=2, default=str) + "\n")
    return path


def export_hf(
    model, out_dir: Path, d: Dist, *, tokenizer_json: Path | None, state: dict[str, Any] | None = None
) -> Path:
    """save_pretrained the model + tokenizer (special tokens aligned) and the state file; a collective."""
    weights = full_state_dict(model)
    if d.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        has_tokenizer = tokenizer_json is not None and Path(tokenizer_json).is_file()
        tokenizer = load_tokenizer(Path(tokenizer_json)) if has_tokenizer else None
        if tokenizer is not None:
            align_special_tokens(model, tokenizer)
        model.config.use_cache = True
        model.save_pretrained(out_dir, state_dict=weights)
        model.config.use_cache = False
        if tokenizer is not None:
            tokenizer.save_pretrained(out_dir)
        if state is not None:
            write_state(out_dir, state)
    dist.barrier()
    return out_dir
