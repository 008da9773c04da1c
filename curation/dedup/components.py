"""Connected components of the duplicate graph by union-find, streaming the pairs file by file.

``PriorityCluster`` used to concatenate every pair of the run (near pairs of all bucket files plus
exact pairs) into one int64 array and hand a sparse matrix to scipy: about 16 bytes per pair
occurrence for the pairs, again for the matrix, plus scipy's CSR copy. Here the only array that
lives through the stage is ``parent`` (one int32 or int64 per document); each ``.dups`` file is
read, turned into global node ids and merged into ``parent``, then dropped (read in slices of
``chunk_pairs`` so even one huge file stays bounded). The component of a node is the smallest node
id in it (a root is always the smaller of the two roots it joins), so components come out
numbered without sorting.
"""

from __future__ import annotations

from pathlib import Path

import numba as nb
import numpy as np

_SENTINEL = (1 << 32) - 1  # datatrove's index-match marker in .dups files


@nb.njit(cache=True)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@nb.njit(cache=True)
def union_pairs(parent, a, b):
    """Join ``a[i]`` and ``b[i]`` for every i; the smaller root becomes the root."""
    for i in range(len(a)):
        ra = _find(parent, a[i])
        rb = _find(parent, b[i])
        if ra < rb:
            parent[rb] = ra
        elif rb < ra:
            parent[ra] = rb


@nb.njit(cache=True)
def _union_dups(parent, raw, offsets, index_node):
    """:func:`union_pairs` of ``.dups`` rows (file, doc, file, doc). Rows marked as index matches
    (``dedup.against``) join the document to ``index_node``, or are skipped when it is -1."""
    count = 0
    for i in range(raw.shape[0]):
        if raw[i, 0] == _SENTINEL:
            if index_node < 0:
                continue
            a = _find(parent, index_node)
        else:
            a = _find(parent, offsets[raw[i, 0]] + raw[i, 1])
        b = _find(parent, offsets[raw[i, 2]] + raw[i, 3])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
        count += 1
    return count


@nb.njit(cache=True)
def _flatten(parent):
    for i in range(len(parent)):
        parent[i] = _find(parent, i)


class Components:
    """Union-find over ``num_nodes`` documents."""

    def __init__(self, num_nodes: int):
        self.dtype = np.int32 if num_nodes < 2**31 - 1 else np.int64
        self.parent = np.arange(num_nodes, dtype=self.dtype)
        self.num_pairs = 0

    def union(self, a: np.ndarray, b: np.ndarray) -> None:
        self.num_pairs += len(a)
        union_pairs(self.parent, a.astype(self.dtype, copy=False), b.astype(self.dtype, copy=False))

    def union_dups_file(
        self, path: Path, offsets: np.ndarray, chunk_pairs: int = 1 << 22, index_node: int = -1
    ) -> None:
        """Merge the pairs of one datatrove ``.dups`` file (``<4I``: file, doc, file, doc); index
        matches join ``index_node`` (the previous corpus of ``dedup.against``), -1: ignored."""
        total = path.stat().st_size // 16
        offs = offsets.astype(self.dtype)
        for start in range(0, total, chunk_pairs):
            raw = np.fromfile(path, dtype="<u4", count=4 * min(chunk_pairs, total - start), offset=16 * start)
            self.num_pairs += _union_dups(self.parent, raw.reshape(-1, 4), offs, index_node)

    def union_equal(self, keys: np.ndarray) -> int:
        """Join documents with equal ``keys`` (exact text hashes); returns the number of pairs."""
        order = np.argsort(keys).astype(self.dtype)  # any order among equal keys joins them alike
        same = keys[order[1:]] == keys[order[:-1]]
        a, b = order[:-1][same], order[1:][same]
        self.union(a, b)
        return len(a)

    def labels(self) -> tuple[int, np.ndarray]:
        """``(num_components, label per node)`` with labels 0..num_components-1."""
        _flatten(self.parent)
        roots = self.parent == np.arange(len(self.parent), dtype=self.dtype)
        index = np.cumsum(roots, dtype=self.dtype) - 1
        return int(roots.sum()), index[self.parent]


@nb.njit(cache=True)
def _same_key(labels, keys, num_labels):
    first = np.empty(num_labels, keys.dtype)
    seen = np.zeros(num_labels, np.bool_)
    same = np.ones(num_labels, np.bool_)
    for i in range(len(labels)):
        c = labels[i]
        if not seen[c]:
            seen[c] = True
            first[c] = keys[i]
        elif keys[i] != first[c]:
            same[c] = False
    return same


def same_key_per_label(labels: np.ndarray, keys: np.ndarray, num_labels: int) -> np.ndarray:
    """Per label: do all its members have the same key (the min == max of ``np.minimum.at``)."""
    return _same_key(labels, np.ascontiguousarray(keys), num_labels)


@nb.njit(cache=True)
def best_per_label(idx, labels, low, priority, quality, clean, num_words, keeper_of):
    """Per label, the member of ``idx`` that sorts first by (not cut, priority, -quality,
    -cleanliness, -words, position): the keeper rule, one pass instead of a 7-key lexsort.
    ``keeper_of`` holds -1 for the labels to fill."""
    for k in range(len(idx)):
        i = idx[k]
        c = labels[i]
        j = keeper_of[c]
        if j < 0:
            keeper_of[c] = i
            continue
        if low[i] != low[j]:
            better = low[i] < low[j]
        elif priority[i] != priority[j]:
            better = priority[i] < priority[j]
        elif quality[i] != quality[j]:
            better = quality[i] > quality[j]
        elif clean[i] != clean[j]:
            better = clean[i] > clean[j]
        elif num_words[i] != num_words[j]:
            better = num_words[i] > num_words[j]
        else:
            better = i < j
        if better:
            keeper_of[c] = i
