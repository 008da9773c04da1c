"""Which n-gram hashes of a document are in the eval index, in one compiled pass.

The index is its hashes sorted, plus a table of them by their low bits (``slot`` is the mask):
most n-grams of a document miss the table in one read and are done; the rest are looked up by
binary search. One call per document: the numpy version (a table gather, then ``searchsorted``,
``minimum``, a compare) spent most of its time in per-call overhead, called for every document.
"""

from __future__ import annotations

import numba as nb
import numpy as np


def lookup_table(hashes: np.ndarray, max_bits: int) -> tuple[np.ndarray, np.uint64]:
    """The table for sorted ``hashes``: at least 16 slots per hash, at most ``2**max_bits``."""
    bits = min(max_bits, max(16, (16 * max(1, len(hashes)) - 1).bit_length()))
    slot = np.uint64((1 << bits) - 1)
    table = np.zeros(1 << bits, dtype=np.bool_)
    table[hashes & slot] = True
    return table, slot


@nb.njit(cache=True)
def in_index(doc, table, slot, hashes):
    """``np.isin(doc, hashes)`` for sorted ``hashes`` and their table."""
    found = np.zeros(doc.size, dtype=np.bool_)
    n = hashes.size
    for i in range(doc.size):
        h = doc[i]
        if not table[h & slot]:
            continue
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) >> 1
            if hashes[mid] < h:
                lo = mid + 1
            else:
                hi = mid
        found[i] = lo < n and hashes[lo] == h
    return found
