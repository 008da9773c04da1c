"""Exact + MinHash deduplication across sources, keeping the copy from the best-ranked source.

Stage 1 ``DedupSignature`` (inside the filter stage) writes datatrove MinHash signatures plus a
per-document record (source rank, normalised-text hash, held-out key); stage 2 is datatrove's
``MinhashDedupBuckets`` merged in numpy (``FastMinhashBuckets``, the same pair files); stage 3
``PriorityCluster`` joins exact and near pairs into clusters and picks each cluster's keeper by
source rank; stage 4 ``DedupFilter`` drops the rest.
"""

from curation.dedup.cluster import PriorityCluster
from curation.dedup.filter import DedupFilter
from curation.dedup.lsh import candidate_probability, similarity_curve_table, threshold
from curation.dedup.signature import DedupSignature, exact_hash

__all__ = [
    "DedupFilter",
    "DedupSignature",
    "PriorityCluster",
    "candidate_probability",
    "exact_hash",
    "similarity_curve_table",
    "threshold",
]
