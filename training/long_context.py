"""Long-context settings: RoPE changes via `config.rope_parameters` and the seq_len check.

transformers (>= 4.56 / 5.x) keeps RoPE in `config.rope_parameters` (`rope_type`, `rope_theta`,
`factor`, `original_max_position_embeddings`, ...). Setting them before the model is built (or
before `from_pretrained(..., config=cfg)`) recomputes `inv_freq`: ABF is `rope_type=default` with a
larger theta; linear / YaRN / llama3 scale the frequencies by `factor`.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from training.config import RopeConfig

# rope types whose factor transformers cross-checks against max_position_embeddings / original
_SCALED = ("yarn", "longrope", "dynamic")


def _rope_params(hf_config: PretrainedConfig) -> dict[str, Any]:
    params = getattr(hf_config, "rope_parameters", None)
    if params is None:  # older transformers: rope_theta + rope_scaling
        params = dict(getattr(hf_config, "rope_scaling", None) or {})
        params.setdefault("rope_theta", getattr(hf_config, "rope_theta", 10000.0))
    return dict(params)


def apply_rope(hf_config: PretrainedConfig, rope: RopeConfig) -> PretrainedConfig:
    """Write the RoPE change into hf_config in place (and raise max_position_embeddings)."""
    old = _rope_params(hf_config)
    # a model already extended keeps its pretraining length as the original (YaRN on YaRN)
    scaled_before = old.get("rope_type", "default") != "default"
    original_max = (
        rope.original_max_position_embeddings
        or (old.get("original_max_position_embeddings") if scaled_before else None)
        or hf_config.max_position_embeddings
    )
    params: dict[str, Any] = {
        "rope_type": rope.rope_type,
        "rope_theta": rope.rope_theta or old.get("rope_theta"),
    }
    if rope.rope_type != "default":
        if rope.factor is None:
            raise ValueError(f"model.rope.factor: rope_type={rope.rope_type!r} needs a factor")
        params["factor"] = rope.factor
        params["original_max_position_embeddings"] = original_max
    params.update(rope.extra)
    new_max = rope.max_position_embeddings
    if rope.rope_type in _SCALED and new_max is not None and new_max != int(original_max * rope.factor):
        # transformers reads factor = max_position_embeddings / original and warns at every load
        # when the two disagree: refuse the inconsistent pair here, once, with both fixes
        raise ValueError(
            f"model.rope.max_position_embeddings: {new_max} != original_max_position_embeddings "
            f"{original_max} x factor {rope.factor:g} = {int(original_max * rope.factor)}; set factor: "
            f"{new_max / original_max:g} or max_position_embeddings: {int(original_max * rope.factor)}"
        )
    if new_max is None and rope.factor is not None:
        new_max = int(original_max * rope.factor)
    if hasattr(hf_config, "rope_parameters"):
        hf_config.rope_parameters = params
    else:
        hf_config.rope_theta = params["rope_theta"]
        hf_config.rope_scaling = {k: v for k, v in params.items() if k != "rope_theta"} or None
    if new_max is not None:
        # exactly what was asked (a length below the plan's seq_len fails in check_seq_len)
        hf_config.max_position_embeddings = new_max
    return hf_config


def max_supported_seq_len(hf_config: PretrainedConfig) -> int:
    """The longest sequence the RoPE settings support (max_position_embeddings, or original * factor)."""
    max_pos = int(getattr(hf_config, "max_position_embeddings", 0) or 0)
    params = _rope_params(hf_config)
    if params.get("rope_type", "default") not in ("default", None) and params.get("factor"):
        original = params.get("original_max_position_embeddings") or max_pos
        max_pos = max(max_pos, int(original * params["factor"]))
    return max_pos


def check_seq_len(hf_config: PretrainedConfig, seq_len: int, *, where: str = "plan") -> None:
    supported = max_supported_seq_len(hf_config)
    if supported and seq_len > supported:
        raise ValueError(
            f"{where}: seq_len {seq_len} exceeds what the model's RoPE settings support "
            f"(max_position_embeddings={supported}); extend the context with model.rope "
            "(e.g. rope_theta for ABF, or rope_type: yarn with factor) or lower the plan's seq_len"
        )
