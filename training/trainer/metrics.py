"""Throughput, MFU and memory figures for the step metrics.

MFU = flops_per_token * tokens/s / (peak FLOP/s * ranks), with flops_per_token = 6 * N
(non-embedding parameters: forward + backward matmuls) + 12 * layers * heads * head_dim * seq_len
(attention scores and values, PaLM appendix B convention, causal masking not discounted).
"""

from __future__ import annotations

import resource
import sys

import torch

# dense bf16 tensor-core peaks (no sparsity), FLOP/s
GPU_PEAK_FLOPS = {
    "H100": 989e12,
    "H200": 989e12,
    "H800": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10": 125e12,
}
CPU_PEAK_FLOPS = 1e11  # a rough 2-core AVX2 fp32 figure; set TrainConfig.peak_flops for your machine


def flops_per_token(num_params_non_embedding: int, hf_config, seq_len: int) -> float:
    layers = getattr(hf_config, "num_hidden_layers", 0)
    heads = getattr(hf_config, "num_attention_heads", 0)
    head_dim = getattr(hf_config, "head_dim", None) or hf_config.hidden_size // max(heads, 1)
    return 6.0 * num_params_non_embedding + 12.0 * layers * heads * head_dim * seq_len


def device_peak_flops(device: torch.device, override: float | None = None) -> float:
    if override:
        return override
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peak in GPU_PEAK_FLOPS.items():
            if key in name:
                return peak
        return 312e12
    return CPU_PEAK_FLOPS


def memory_gb(device: torch.device) -> float:
    """Peak memory of this rank: CUDA max allocated on GPU, process max RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1e9 if sys.platform == "darwin" else rss / 1e6  # bytes on macOS, KiB on Linux


def state_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Bytes of parameters + optimizer state held by THIS rank (local shards only)."""

    def local(t: torch.Tensor) -> torch.Tensor:
        return t.to_local() if hasattr(t, "to_local") else t

    total = sum(local(p).numel() * local(p).element_size() for p in model.parameters())
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                total += local(value).numel() * local(value).element_size()
    return total
