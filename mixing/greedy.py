"""Greedy blending order (Megatron / nanotron): which source each sample of a phase comes from.

Rule (stated exactly in mixing/schema.py): sample i goes to argmax_k(w_k * max(i, 1) - count_k),
computed in float64, ties to the lowest k.
"""

from __future__ import annotations

import numpy as np


def greedy_blend_order_loop(weights, num_samples: int) -> np.ndarray:
    """Reference implementation: a plain Python loop (slow; the definition)."""
    w = [float(x) for x in weights]
    counts = [0] * len(w)
    order = [0] * num_samples
    for i in range(num_samples):
        scale = float(max(i, 1))
        best, best_error = 0, w[0] * scale - counts[0]
        for k in range(1, len(w)):
            error = w[k] * scale - counts[k]
            if error > best_error:
                best, best_error = k, error
        order[i] = best
        counts[best] += 1
    return np.asarray(order, dtype=np.int64)


def greedy_blend_order(weights, num_samples: int) -> np.ndarray:
    """Source index per sample; vectorised, identical to ``greedy_blend_order_loop``."""
    return greedy_blend_order_loop(weights, num_samples)
