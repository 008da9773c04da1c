"""RoPE changes (ABF theta, YaRN, linear) reach the built or loaded model's inv_freq; seq_len limits follow."""

import pytest
import torch

from training.config import ModelConfig, RopeConfig
from training.long_context import check_seq_len, max_supported_seq_len
from training.models import build_model, resolve_model_config, tiny_llama_config


def _inv_freq(model):
    return model.model.rotary_emb.inv_freq


def test_abf_theta_reaches_inv_freq_of_a_fresh_model():
    cfg = ModelConfig(
        tiny={"hidden_size": 64, "num_attention_heads": 4}, rope=RopeConfig(rope_theta=500000.0)
    )
    model = build_model(cfg, resolve_model_config(cfg, vocab_size=64), seed=0)
    head_dim = 16
    expected = 1.0 / 500000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    torch.testing.assert_close(_inv_freq(model), expected)


def test_yarn_on_a_pretrained_folder_changes_inv_freq_keeps_weights_and_extends_context(tmp_path):
    base = build_model(
        ModelConfig(), tiny_llama_config(64, hidden_size=64, max_position_embeddings=128), seed=0
    )
    base.save_pretrained(tmp_path / "base")
    cfg = ModelConfig(init_from=str(tmp_path / "base"), rope=RopeConfig(rope_type="yarn", factor=4.0))
    hf_config = resolve_model_config(cfg, vocab_size=64)
    assert hf_config.rope_parameters["rope_type"] == "yarn"
    assert hf_config.rope_parameters["original_max_position_embeddings"] == 128
    assert max_supported_seq_len(hf_config) == 512
    check_seq_len(hf_config, 512)
    with pytest.raises(ValueError, match="seq_len 1024 exceeds"):
        check_seq_len(hf_config, 1024)
    loaded = build_model(cfg, hf_config, seed=1)
    assert loaded.model.rotary_emb.rope_type == "yarn"
    assert not torch.allclose(_inv_freq(loaded), _inv_freq(base))
    torch.testing.assert_close(
        loaded.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight
    )


def test_linear_scaling_divides_frequencies_and_needs_a_factor():
    cfg = ModelConfig(tiny={"hidden_size": 64}, rope=RopeConfig(rope_type="linear", factor=2.0))
    plain = build_model(ModelConfig(tiny={"hidden_size": 64}), tiny_llama_config(64, hidden_size=64), seed=0)
    scaled = build_model(cfg, resolve_model_config(cfg, vocab_size=64), seed=0)
    torch.testing.assert_close(_inv_freq(scaled), _inv_freq(plain) / 2.0)
    with pytest.raises(ValueError, match="needs a factor"):
        resolve_model_config(ModelConfig(rope=RopeConfig(rope_type="yarn")), vocab_size=64)
