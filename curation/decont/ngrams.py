"""Word n-gram hashes shared by the eval index and the document filter.

Text is lower-cased and cut at every non-alphanumeric character, so punctuation and spacing
differences (``x=2`` vs ``x = 2``) do not hide an overlap. Each word gets a stable 64-bit hash
(XXH64, same in every process); an n-gram hash is a polynomial roll of its word hashes (uint64
arithmetic wraps, which is what we want). Both run in one compiled pass per document
(``curation.dedup.kernels.ngram_roll``; ASCII text is also lower-cased and split there), equal to
``xxhash.xxh64_intdigest`` per word and the roll in Python
(``tests/curation/test_curation_speed_parity.py``).
"""

from __future__ import annotations

import re

import numpy as np

from curation.dedup.kernels import ascii_ngram_roll, ngram_roll

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MULT = np.uint64(0x9E3779B97F4A7C15)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngram_hashes(text: str | list[str], n: int) -> np.ndarray:
    """uint64 hashes of all word n-grams of ``text`` (empty when it has fewer than n words)."""
    if isinstance(text, str) and text.isascii():  # words are the letter/digit runs: one compiled pass
        return ascii_ngram_roll(np.frombuffer(text.encode("ascii"), np.uint8), n, _MULT)
    tokens = words(text) if isinstance(text, str) else text
    if len(tokens) < n:
        return np.empty(0, dtype=np.uint64)
    joined = " ".join(tokens)
    assert joined.count(" ") == len(tokens) - 1, "a word with a space in it"
    return ngram_roll(np.frombuffer(joined.encode("utf-8"), np.uint8), n, _MULT)
