"""Greedy blending order (Megatron / nanotron): which source each sample of a phase comes from.

Rule (stated exactly in mixing/schema.py): sample i goes to argmax_k(w_k * max(i, 1) - count_k),
computed in float64 as written, ties to the lowest k.

The rule is sequential, but its state is almost a function of i alone: the error vector
e = w * i - count stays in a bounded region, and trajectories started from any nearby count vector
merge with the true one within a few steps. So ``greedy_blend_order`` cuts the samples into M
blocks, starts every block a few steps early (``_WARMUP``) from the largest-remainder rounding of
w * i, and advances all blocks together, one numpy step per sample of a block. A block is then
*verified*: its counts at its first sample must equal the exact counts at the end of the block
before it (block 0 starts exactly at 0), which makes the whole block exact by induction. A block
that fails is re-run from the exact counts (rare; the result is exact either way).
"""

from __future__ import annotations

import numpy as np

_WARMUP = 64  # steps a speculative block runs before its first sample
_CELLS_PER_STEP = 1 << 16  # blocks x sources advanced per numpy step (fits in cache)


def _check_weights(weights, num_samples: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0:
        raise ValueError(f"weights: expected a non-empty 1-D sequence, got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights: must be finite and >= 0, got {w.tolist()[:10]}")
    if w.sum() <= 0:
        raise ValueError("weights: at least one weight must be > 0")
    if num_samples < 0:
        raise ValueError(f"num_samples: must be >= 0, got {num_samples}")
    return w


def greedy_blend_order_loop(weights, num_samples: int) -> np.ndarray:
    """Reference implementation: a plain Python loop (slow; the definition)."""
    w = [float(x) for x in _check_weights(weights, num_samples)]
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


def _index_dtype(num_sources: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if num_sources - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _advance(w: np.ndarray, first_sample: np.ndarray, counts: np.ndarray, num_steps: int, picks: np.ndarray) -> None:
    """Run the greedy rule ``num_steps`` times for every row (a block) in lockstep.

    ``first_sample[m]``: index i of row m's first step; ``counts`` (float64 [M, K], updated in
    place): counts before it. ``picks[m, t]`` receives the source of step t.
    """
    num_rows, num_sources = counts.shape
    rows = np.arange(num_rows)
    errors = np.empty_like(counts)
    scale = np.empty(num_rows, dtype=np.float64)
    for t in range(num_steps):
        np.maximum(first_sample + t, 1, out=scale)
        # The same two float64 roundings as the loop: w_k * scale, then - count_k.
        np.multiply(w[None, :], scale[:, None], out=errors)
        np.subtract(errors, counts, out=errors)
        chosen = errors.argmax(axis=1)  # first maximum: ties go to the lowest k
        counts[rows, chosen] += 1.0
        picks[:, t] = chosen


def _rounded_counts(w: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding of w * i (sum i) per row: a start close to the true counts."""
    quotas = w[None, :] / w.sum() * samples[:, None].astype(np.float64)
    counts = np.floor(quotas)
    leftover = (samples - counts.sum(axis=1)).astype(np.int64)
    ranks = np.argsort(np.argsort(-(quotas - counts), axis=1, kind="stable"), axis=1, kind="stable")
    counts += ranks < leftover[:, None]
    return counts


def greedy_blend_order(weights, num_samples: int) -> np.ndarray:
    """Source index per sample; vectorised and identical to ``greedy_blend_order_loop``.

    Returns the smallest unsigned integer dtype that holds ``len(weights) - 1`` (uint8 for up to
    256 sources), so 100M samples take 100 MB.
    """
    w = _check_weights(weights, num_samples)
    num_sources = len(w)
    dtype = _index_dtype(num_sources)
    if num_samples == 0 or num_sources == 1:
        return np.zeros(num_samples, dtype=dtype)
    max_blocks = max(1, _CELLS_PER_STEP // num_sources)
    block = max(4 * _WARMUP, -(-num_samples // max_blocks))
    num_blocks = -(-num_samples // block)
    # Block 0 starts exactly at sample 0 with no counts; the others start _WARMUP samples early.
    starts = np.arange(num_blocks, dtype=np.int64) * block
    first = np.maximum(starts - _WARMUP, 0)
    counts = _rounded_counts(w, first)
    counts[0] = 0.0
    warm = np.zeros((num_blocks, _WARMUP), dtype=dtype)
    if num_blocks > 1:
        _advance(w[:], first[1:], counts[1:], _WARMUP, warm[1:])
    at_start = counts.copy()  # counts at each block's first sample (block 0: exact zeros)
    picks = np.empty((num_blocks, block), dtype=dtype)
    _advance(w, starts, counts, block, picks)
    # Verify block by block; re-run a block whose start differs from the exact end before it.
    if np.array_equal(at_start[1:], counts[:-1]):
        return picks.reshape(-1)[:num_samples]
    exact_end = counts[0].copy()
    for b in range(1, num_blocks):
        if not np.array_equal(at_start[b], exact_end):
            redo = exact_end[None, :].copy()
            _advance(w, starts[b : b + 1], redo, block, picks[b : b + 1])
            counts[b] = redo[0]
        exact_end = counts[b].copy()
    return picks.reshape(-1)[:num_samples]
