"""Packed documents attend only within themselves: the trainer's forward with reset position_ids."""

import torch

from training.config import ModelConfig
from training.models import build_model, tiny_llama_config
from training.trainer.loop import packed_logits


def _model(attn: str):
    cfg = tiny_llama_config(64, hidden_size=64, intermediate_size=128)
    return build_model(ModelConfig(attn_implementation=attn), cfg, seed=0).eval()


def test_packed_document_logits_do_not_depend_on_the_neighbour():
    model, cpu = _model("sdpa"), torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    doc_a, doc_a2 = torch.randint(1, 63, (10,), generator=gen), torch.randint(1, 63, (10,), generator=gen)
    doc_b = torch.randint(1, 63, (14,), generator=gen)
    positions = torch.cat([torch.arange(10), torch.arange(14)]).unsqueeze(0)
    with torch.no_grad():
        packed = packed_logits(model, torch.cat([doc_a, doc_b]).unsqueeze(0), positions, cpu)
        swapped = packed_logits(model, torch.cat([doc_a2, doc_b]).unsqueeze(0), positions, cpu)
        alone = packed_logits(model, doc_b.unsqueeze(0), torch.arange(14).unsqueeze(0), cpu)
    torch.testing.assert_close(packed[0, 10:], swapped[0, 10:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(packed[0, 10:], alone[0], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(packed[0, :10], swapped[0, :10])  # the first document did change
    # without the reset (one long document) the second document's logits DO see the first
    with torch.no_grad():
        causal = packed_logits(
            model, torch.cat([doc_a, doc_b]).unsqueeze(0), torch.arange(24).unsqueeze(0), cpu
        )
    assert not torch.allclose(causal[0, 10:], alone[0], atol=1e-3)
