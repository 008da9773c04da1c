"""Word n-gram hashes shared by the eval index and the document filter.

Text is lower-cased and cut at every non-alphanumeric character, so punctuation and spacing
differences (``x=2`` vs ``x = 2``) do not hide an overlap. Each word gets a stable 64-bit hash
(XXH64, same in every process; computed for all words of a document in one compiled pass,
``curation.dedup.kernels.token_hashes``, equal to ``xxhash.xxh64_intdigest`` per word); an n-gram
hash is a polynomial roll of its word hashes, computed for all positions at once with numpy
(uint64 arithmetic wraps, which is what we want).
"""

from __future__ import annotations

import re

import numpy as np

from curation.dedup.kernels import token_hashes

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MULT = np.uint64(0x9E3779B97F4A7C15)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngram_hashes(text: str | list[str], n: int) -> np.ndarray:
    """uint64 hashes of all word n-grams of ``text`` (empty when it has fewer than n words)."""
    tokens = words(text) if isinstance(text, str) else text
    if len(tokens) < n:
        return np.empty(0, dtype=np.uint64)
    ids = token_hashes(np.frombuffer(" ".join(tokens).encode("utf-8"), np.uint8))
    assert len(ids) == len(tokens), "a word with a space in it"
    count = len(tokens) - n + 1
    with np.errstate(over="ignore"):
        h = ids[:count].copy()
        for j in range(1, n):
            h = h * _MULT + ids[j : j + count]
    return h
