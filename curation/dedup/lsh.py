"""The LSH candidate curve P(s) = 1 - (1 - s^r)^b implied by a MinHash configuration."""

from __future__ import annotations


def candidate_probability(similarity: float, num_buckets: int, hashes_per_bucket: int) -> float:
    """Probability that two docs with Jaccard ``similarity`` share at least one of b bands of r rows."""
    return 1.0 - (1.0 - similarity**hashes_per_bucket) ** num_buckets


def threshold(num_buckets: int, hashes_per_bucket: int) -> float:
    """The similarity where the curve is steepest, approximately (1/b)^(1/r)."""
    return (1.0 / num_buckets) ** (1.0 / hashes_per_bucket)


def similarity_curve_table(
    num_buckets: int, hashes_per_bucket: int, points=(0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
) -> str:
    """A printable table of P(s) at a few similarities."""
    head = f"MinHash b={num_buckets} bands x r={hashes_per_bucket} rows, threshold ~{threshold(num_buckets, hashes_per_bucket):.2f}"
    rows = "  ".join(
        f"P({s:.2f})={candidate_probability(s, num_buckets, hashes_per_bucket):.3f}" for s in points
    )
    return f"{head}\n{rows}"
