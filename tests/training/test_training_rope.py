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


def test_rope_max_position_embeddings_lands_exactly_and_inconsistent_yarn_is_refused():
    abf = ModelConfig(
        tiny={"max_position_embeddings": 512}, rope=RopeConfig(rope_theta=1e5, max_position_embeddings=256)
    )
    assert resolve_model_config(abf, vocab_size=64).max_position_embeddings == 256
    bad = ModelConfig(
        tiny={"max_position_embeddings": 128},
        rope=RopeConfig(rope_type="yarn", factor=4.0, max_position_embeddings=256),
    )
    with pytest.raises(ValueError, match=r"model\.rope\.max_position_embeddings: 256 != .* set factor: 2"):
        resolve_model_config(bad, vocab_size=64)


def test_long_context_export_is_consistent_and_loads_without_rope_warning(tmp_path, capfd):
    import json

    from transformers import AutoModelForCausalLM

    from training.trainer import train
    from training.trainer.testing import (
        assert_export_agrees_and_stops_at_eos,
        tiny_train_config,
        write_tiny_workspace,
    )

    write_tiny_workspace(tmp_path, seq_len=32)
    base = train(
        tiny_train_config(
            tmp_path,
            max_steps=2,
            model={"tiny": {"hidden_size": 64, "intermediate_size": 176, "max_position_embeddings": 32}},
            checkpoint={"final_export": True},
        )
    )
    write_tiny_workspace(tmp_path / "long", seq_len=64, num_docs=60)
    extended = train(
        tiny_train_config(
            tmp_path / "long",
            max_steps=2,
            micro_batch_size=4,
            global_batch_tokens=256,
            model={"init_from": str(base.final_hf_dir), "rope": {"rope_type": "yarn", "factor": 2.0}},
            checkpoint={"final_export": True},
        )
    )
    folder = extended.final_hf_dir
    config = json.loads((folder / "config.json").read_text())
    state = json.loads((folder / "midtrain_state.json").read_text())
    rope = config["rope_parameters"]
    assert (rope["rope_type"], rope["factor"], rope["original_max_position_embeddings"]) == ("yarn", 2.0, 32)
    assert config["max_position_embeddings"] == 64 == state["max_position_embeddings"] == state["seq_len"]
    assert state["rope_parameters"] == rope
    capfd.readouterr()
    AutoModelForCausalLM.from_pretrained(folder)
    printed = capfd.readouterr()
    logged = printed.out + printed.err
    assert "does not match" not in logged and "rope" not in logged.lower(), logged
    assert_export_agrees_and_stops_at_eos(folder)
