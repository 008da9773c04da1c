"""Greedy blending order (Megatron / nanotron): which source each sample of a phase comes from.

Rule (stated exactly in mixing/schema.py): sample i goes to argmax_k(w_k * max(i, 1) - count_k),
computed in float64 as written, ties to the lowest k, over the sources with w_k > 0 only: a source
of weight 0 never gets a sample (without that, its error 0 - 0 wins a tie against sources that
are exactly on target, e.g. W=[0, 1/4, 3/4] gave source 0 the 5th of 7 samples).

The rule is sequential, but its state is almost a function of i alone: the error vector
e = w * i - count stays in a bounded region, and trajectories started from any nearby count vector
merge with the true one within a few steps. So ``greedy_blend_order`` cuts the samples into M
blocks, starts every block a few steps early (``_WARMUP``) from the largest-remainder rounding of
w * i, and advances all blocks together, one numpy step per sample of a block. A block is then
*verified*: its counts at its first sample must equal the exact counts at the end of the block
before it (block 0 starts exactly at 0), which makes the whole block exact by induction. A block
that fails is re-run from the exact counts (a few per cent of blocks, all re-run together; the
result is exact either way).
"""

from __future__ import annotations

import numpy as np

_WARMUP = 64  # steps a speculative block runs before its first sample
_CELLS_PER_STEP = 1 << 15  # blocks x sources advanced per numpy step (fits in cache)


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
    checked = _check_weights(weights, num_samples)
    active = np.flatnonzero(checked > 0)
    if len(active) < len(checked):  # weight 0: never a sample
        return active[greedy_blend_order_loop(checked[active], num_samples)]
    w = [float(x) for x in checked]
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


def _advance(
    w: np.ndarray, first_sample: np.ndarray, counts: np.ndarray, num_steps: int, picks: np.ndarray
) -> None:
    """Run the greedy rule ``num_steps`` times for every column (a block) in lockstep.

    ``first_sample[m]``: index i of block m's first step; ``counts`` (float64 [K, M], updated in
    place): counts before it. ``picks[t, m]`` receives the source of step t of block m.
    """
    num_sources, num_rows = counts.shape
    errors = np.empty_like(counts)
    best = np.empty(num_rows, dtype=np.float64)
    is_best = np.empty_like(counts)  # 0.0 / 1.0, float so the sums below need no cast
    scale = np.empty(num_rows, dtype=np.float64)
    # With <= 52 sources the winners are read off one dot product with powers of two: a power of
    # two means a single maximum (its exponent is the source); anything else is a tie.
    codes = np.exp2(np.arange(num_sources, dtype=np.float64)) if num_sources <= 52 else None
    code = np.empty(num_rows, dtype=np.float64)
    columns = np.arange(num_rows)
    for t in range(num_steps):
        np.maximum(first_sample + t, 1, out=scale)
        # The same two float64 roundings as the loop: w_k * scale, then - count_k.
        np.multiply(w[:, None], scale[None, :], out=errors)
        np.subtract(errors, counts, out=errors)
        if codes is None:
            chosen = errors.argmax(axis=0)  # first maximum: ties go to the lowest k
            counts[chosen, columns] += 1.0
            picks[t] = chosen
            continue
        np.max(errors, axis=0, out=best)
        np.equal(errors, best[None, :], out=is_best, casting="unsafe")
        np.dot(codes, is_best, out=code)
        mantissa, exponent = np.frexp(code)
        ties = np.flatnonzero(mantissa != 0.5)
        if len(ties):  # keep only the lowest tied source, as argmax does
            first = is_best[:, ties].argmax(axis=0)
            is_best[:, ties] = 0.0
            is_best[first, ties] = 1.0
            exponent[ties] = first + 1
        np.add(counts, is_best, out=counts)
        np.subtract(exponent, 1, out=picks[t], casting="unsafe")


def _rounded_counts(w: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding of w * i (sum i) per row: a start close to the true counts."""
    quotas = w[None, :] / w.sum() * samples[:, None].astype(np.float64)
    counts = np.floor(quotas)
    leftover = (samples - counts.sum(axis=1)).astype(np.int64)
    ranks = np.argsort(np.argsort(-(quotas - counts), axis=1, kind="stable"), axis=1, kind="stable")
    counts += ranks < leftover[:, None]
    return np.ascontiguousarray(counts.T)  # [K, M]


def greedy_blend_order(weights, num_samples: int) -> np.ndarray:
    """Source index per sample; vectorised and identical to ``greedy_blend_order_loop``.

    Returns the smallest unsigned integer dtype that holds ``len(weights) - 1`` (uint8 for up to
    256 sources), so 100M samples take 100 MB.
    """
    w = _check_weights(weights, num_samples)
    num_sources = len(w)
    dtype = _index_dtype(num_sources)
    active = np.flatnonzero(w > 0)
    if len(active) < num_sources:  # weight 0: never a sample
        return active.astype(dtype)[greedy_blend_order(w[active], num_samples)]
    if num_samples == 0 or num_sources == 1:
        return np.zeros(num_samples, dtype=dtype)
    max_blocks = max(1, _CELLS_PER_STEP // num_sources)
    block = max(4 * _WARMUP, -(-num_samples // max_blocks))
    num_blocks = -(-num_samples // block)
    # Block 0 starts exactly at sample 0 with no counts; the others start _WARMUP samples early.
    starts = np.arange(num_blocks, dtype=np.int64) * block
    first = np.maximum(starts - _WARMUP, 0)
    counts = _rounded_counts(w, first)
    counts[:, 0] = 0.0
    if num_blocks > 1:
        warm = np.empty((_WARMUP, num_blocks - 1), dtype=dtype)
        rest = np.ascontiguousarray(counts[:, 1:])
        _advance(w, first[1:], rest, _WARMUP, warm)
        counts[:, 1:] = rest
    at_start = counts.copy()  # counts at each block's first sample (block 0: exact zeros)
    picks = np.empty((block, num_blocks), dtype=dtype)  # [step, block]: contiguous writes
    _advance(w, starts, counts, block, picks)
    # Verify: a block is exact when it started from the exact end of the block before it (block 0
    # starts exactly). Blocks that did not are re-run together from their predecessor's end, until
    # every start matches; then all blocks are exact by induction.
    while True:
        bad = 1 + np.flatnonzero((at_start[:, 1:] != counts[:, :-1]).any(axis=0))
        if not len(bad):
            return np.ascontiguousarray(picks.T).reshape(-1)[:num_samples]
        redo = np.ascontiguousarray(counts[:, bad - 1])
        at_start[:, bad] = redo
        redo_picks = np.empty((block, len(bad)), dtype=dtype)
        _advance(w, starts[bad], redo, block, redo_picks)
        counts[:, bad] = redo
        picks[:, bad] = redo_picks
