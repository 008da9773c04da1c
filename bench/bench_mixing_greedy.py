"""Benchmark: greedy blending order for 100M samples vs the plain Python loop it must match.

The loop is timed on a smaller N (extrapolated linearly to 100M: it is O(N)), and the vectorised
order is checked to equal the loop's exactly on that N.
Run: nice -n 10 python bench/bench_mixing_greedy.py [--num-samples 100000000] [--loop-samples 2000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mixing import greedy_blend_order, greedy_blend_order_loop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-samples", type=int, default=100_000_000)
    parser.add_argument("--loop-samples", type=int, default=2_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for num_sources in (3, 6, 8):
        weights = rng.dirichlet(np.ones(num_sources))
        start = time.perf_counter()
        order = greedy_blend_order(weights, args.num_samples)
        fast = time.perf_counter() - start
        start = time.perf_counter()
        reference = greedy_blend_order_loop(weights, args.loop_samples)
        loop = (time.perf_counter() - start) * args.num_samples / args.loop_samples
        exact = np.array_equal(order[: args.loop_samples], reference)
        exact_small = np.array_equal(greedy_blend_order(weights, args.loop_samples), reference)
        counts = np.bincount(order.astype(np.int64), minlength=num_sources)
        worst = np.abs(counts - weights * args.num_samples).max()
        print(
            f"K={num_sources}: vectorised {args.num_samples:,} samples in {fast:.2f} s; plain loop "
            f"{loop:.1f} s (extrapolated from {args.loop_samples:,}); speed-up {loop / fast:.1f}x; "
            f"exact match on the first {args.loop_samples:,}: {exact and exact_small}; "
            f"max |count - w*N| = {worst:.3f}"
        )


if __name__ == "__main__":
    main()
