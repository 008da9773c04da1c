"""Load HF checkpoints (``save_pretrained`` folders) and check them before any long work starts.

A folder must hold ``config.json``, weights (safetensors or torch, single or sharded) and tokenizer
files; its tokenizer must fit the model's embedding table. Problems are ValueError /
FileNotFoundError naming the folder and what is missing, raised by ``check_checkpoint`` so that
`evaluate()` can check every model before it spends time on the first one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


@dataclass
class LoadedModel:
    label: str
    path: Path
    model: torch.nn.Module
    tokenizer: object  # a transformers PreTrainedTokenizerBase
    eos_token_id: int
    pad_token_id: int
    device: torch.device

    @property
    def max_positions(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} asked for but CUDA is not available here; use 'cpu' or 'auto'")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


def check_checkpoint(path: str | Path, *, label: str | None = None) -> None:
    """Raise a precise error if ``path`` is not a loadable causal-LM folder with a matching tokenizer."""
    path = Path(path)
    name = f"checkpoint {label!r} ({path})" if label else f"checkpoint {path}"
    if not path.is_dir():
        raise FileNotFoundError(f"{name}: no such folder")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{name}: config.json is missing (write the folder with save_pretrained)")
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        raise FileNotFoundError(f"{name}: no weights; expected one of {list(WEIGHT_FILES)}")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"{name}: no tokenizer files; expected one of {list(TOKENIZER_FILES)} "
            "(save the tokenizer into the model folder with tokenizer.save_pretrained)"
        )
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{name}: config.json is not valid JSON ({error})") from None
    vocab_size = config.get("vocab_size") or config.get("text_config", {}).get("vocab_size")
    if vocab_size is None:
        raise ValueError(f"{name}: config.json has no vocab_size")
    tokenizer = load_tokenizer(path)
    if len(tokenizer) > vocab_size:
        raise ValueError(
            f"{name}: tokenizer has {len(tokenizer)} tokens but the model's embedding table has "
            f"{vocab_size} rows; the tokenizer does not belong to this model"
        )


def load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as error:
        raise ValueError(f"checkpoint {path}: cannot load its tokenizer ({error})") from None


def load_checkpoint(
    label: str, path: str | Path, *, device: str = "auto", dtype: str = "auto"
) -> LoadedModel:
    """Load model + tokenizer in eval mode on ``device`` with SDPA attention (packing relies on it)."""
    from transformers import AutoModelForCausalLM

    path = Path(path)
    check_checkpoint(path, label=label)
    torch_device = resolve_device(device)
    tokenizer = load_tokenizer(path)
    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=resolve_dtype(dtype, torch_device), attn_implementation="sdpa"
    )
    model.to(torch_device).eval()
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise ValueError(
            f"checkpoint {label!r} ({path}): tokenizer has {len(tokenizer)} tokens but the embedding "
            f"table has {rows} rows"
        )
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else model.config.eos_token_id
    if isinstance(eos, list):
        eos = eos[0]
    if eos is None:
        raise ValueError(f"checkpoint {label!r} ({path}): neither tokenizer nor config names an EOS token")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    return LoadedModel(label, path, model, tokenizer, int(eos), int(pad), torch_device)
