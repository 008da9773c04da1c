"""Checkpoint averaging is the element-wise mean of the HF checkpoints' weights."""

import pytest
import torch

from training.average import average_checkpoints
from training.config import ModelConfig
from training.models import build_model, tiny_llama_config


def _save(path, seed, **overrides):
    kwargs = {"hidden_size": 32, "intermediate_size": 64, **overrides}
    model = build_model(ModelConfig(), tiny_llama_config(64, **kwargs), seed=seed)
    model.save_pretrained(path)
    return model.state_dict()


def test_average_is_the_elementwise_mean(tmp_path):
    states = [_save(tmp_path / f"m{i}", seed=i) for i in range(3)]
    out = average_checkpoints([tmp_path / f"m{i}" for i in range(3)], tmp_path / "avg")
    from transformers import AutoModelForCausalLM

    avg = AutoModelForCausalLM.from_pretrained(out).state_dict()
    for key, value in avg.items():
        expected = (states[0][key].double() + states[1][key].double() + states[2][key].double()) / 3
        torch.testing.assert_close(value, expected.float(), rtol=0, atol=1e-7)
    assert not torch.equal(avg["lm_head.weight"], states[0]["lm_head.weight"])


def test_average_rejects_a_different_architecture(tmp_path):
    _save(tmp_path / "a", seed=0)
    _save(tmp_path / "b", seed=1, intermediate_size=96)
    with pytest.raises(ValueError, match="shape"):
        average_checkpoints([tmp_path / "a", tmp_path / "b"], tmp_path / "avg")
    with pytest.raises(ValueError, match="at least 2"):
        average_checkpoints([tmp_path / "a"], tmp_path / "avg")
