"""Model factories: any transformers causal LM from a local folder or a config, plus a tiny Llama.

No parallelism here (that is `trainer/parallel.py`); RoPE changes are in `long_context.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, PretrainedConfig, PreTrainedModel

from training.config import ModelConfig
from training.init_source import InitSource, resolve_init
from training.long_context import apply_rope


def tiny_llama_config(vocab_size: int, **overrides: Any) -> LlamaConfig:
    """A ~2.4M-parameter Llama at vocab 8000 (hidden 128, 2 layers, 4 heads, 2 KV heads) for tests/demo."""
    kwargs: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=352,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
    )
    kwargs.update(overrides)
    return LlamaConfig(**kwargs)


def resolve_model_config(
    cfg: ModelConfig, *, vocab_size: int, init: InitSource | None = None
) -> PretrainedConfig:
    """The transformers config the model will have, RoPE change included (nothing is built yet).

    ``init`` is where the weights come from (default: ``cfg.init_from`` resolved); its config wins.
    """
    if init is None and cfg.init_from:
        init = resolve_init(cfg.init_from)
    if init is not None:
        hf_config = AutoConfig.from_pretrained(init.config_source)
    elif cfg.config_from:
        path = Path(cfg.config_from)
        if not path.exists():
            raise FileNotFoundError(f"model.config_from: {path} does not exist")
        hf_config = AutoConfig.from_pretrained(path)
    else:
        overrides = dict(cfg.tiny or {})  # an explicit vocab_size override wins over the tokenizer's
        hf_config = tiny_llama_config(overrides.pop("vocab_size", vocab_size), **overrides)
    hf_config._attn_implementation = cfg.attn_implementation
    if cfg.rope is not None:
        apply_rope(hf_config, cfg.rope)
    return hf_config


def build_model(
    cfg: ModelConfig, hf_config: PretrainedConfig, *, seed: int, init: InitSource | None = None
) -> PreTrainedModel:
    """Load pretrained weights (RoPE buffers recomputed from hf_config) or init a fresh model, in fp32.

    A DCP ``init`` is built fresh here; the trainer loads its weights once the model is sharded.
    """
    torch.manual_seed(seed)
    if init is None and cfg.init_from:
        init = resolve_init(cfg.init_from)
    if init is not None and init.kind in ("hf", "hub"):
        model = AutoModelForCausalLM.from_pretrained(
            init.location, config=hf_config, dtype=torch.float32, attn_implementation=cfg.attn_implementation
        )
    else:
        model = AutoModelForCausalLM.from_config(
            hf_config, dtype=torch.float32, attn_implementation=cfg.attn_implementation
        )
    model.config.use_cache = False
    return model


def decoder_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated transformer blocks (FSDP/AC/compile unit); works for Llama-style and GPT-2-style."""
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        module: Any = model
        for part in path.split("."):
            module = getattr(module, part, None)
            if module is None:
                break
        if isinstance(module, torch.nn.ModuleList):
            return list(module)
    raise ValueError(
        f"{type(model).__name__}: cannot find its decoder blocks (tried model.layers, transformer.h)"
    )


def count_params(model: torch.nn.Module, *, exclude_embeddings: bool = False) -> int:
    """Parameters (global numel, also for sharded DTensors); optionally without the input embedding."""
    skip = set()
    if exclude_embeddings and hasattr(model, "get_input_embeddings"):
        skip = {id(p) for p in model.get_input_embeddings().parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)
