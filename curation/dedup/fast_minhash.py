"""``FastMinhash``: datatrove's MinHash signature of a document, computed without a Python call per n-gram.

``MinhashDedupSignature`` does, per document: ``simplify_text`` (lower case, numbers -> ``0``,
punctuation -> spaces, whitespace runs -> one space, accents stripped), the word tokenizer, then
``xxh64(" ".join(ngram))`` per n-gram in Python and ``(shingles * a + b) % (2^61 - 1)`` over a
``num_shingles x num_hashes`` array. Here the same steps give the same numbers:

- :func:`simplify` is ``simplify_text`` for datatrove's default ``TextNormConfig``, with the ASCII
  case (most text) done by ``bytes.translate`` and ``str.split`` and the accent step only where
  there is a non-ASCII character (checked equal on the real sets and on random Unicode in
  ``tests/curation/test_curation_speed_parity.py``);
- the word tokenizer runs unchanged (``FastWordTokenizer`` text that is all letters and digits
  between spaces is already its own tokens);
- the words joined by single spaces go, as UTF-8 bytes, to the compiled
  :func:`curation.dedup.kernels.minhash_signature`, which hashes each n-gram slice with XXH64 and
  applies the permutations of ``MinhashDedupSignature.parameters`` (same seed, same ``a, b``).

A configuration this does not cover (32-bit or SHA-1 shingle hashes, a non-default text
normalisation) falls back
to datatrove's own ``get_shingles``/``get_signature``, so the result is always datatrove's.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.text import PUNCTUATION, TextNormConfig

from curation.dedup.kernels import minhash_ascii, minhash_signature
from curation.filters.word_tokenizer import FastWordTokenizer

_ASCII_NUMBERS = re.compile(r"[0-9]+(?:[.,][0-9]+)?")  # NUMBERS_PATTERN on ASCII text
_ASCII_PUNCT = bytes.maketrans(
    bytes(c for c in range(128) if chr(c) in PUNCTUATION),
    b" " * sum(1 for c in range(128) if chr(c) in PUNCTUATION),
)
_PUNCT = re.compile("[" + "".join(re.escape(c) for c in PUNCTUATION) + "]")  # = PUNCTUATION_TRANS
_NUMBERS = None  # datatrove's regex-module pattern, imported lazily (non-ASCII text only)


def simplify(text: str) -> str:
    """``datatrove.utils.text.simplify_text(text)`` with the default ``TextNormConfig``."""
    text = text.lower()
    if text.isascii():
        text = _ASCII_NUMBERS.sub("0", text)
        return " ".join(text.encode("ascii").translate(_ASCII_PUNCT).decode("ascii").split())
    global _NUMBERS
    if _NUMBERS is None:
        from datatrove.utils.text import NUMBERS_PATTERN as _NUMBERS
    text = _PUNCT.sub(" ", _NUMBERS.sub("0", text))
    text = unicodedata.normalize("NFD", " ".join(text.split()))
    if not text.isascii():
        marks = [c for c in set(text) if c > "\x7f" and unicodedata.category(c) == "Mn"]
        if marks:
            text = text.translate(dict.fromkeys(map(ord, marks)))
    return text.strip()


class FastMinhash:
    """``signature(text)`` -> uint array of ``num_buckets * hashes_per_bucket`` minima, or None."""

    def __init__(self, config: MinhashConfig, language, output_folder: str = "."):
        """``output_folder`` only names datatrove's step (it writes nothing there)."""
        self.config = config
        self._datatrove = MinhashDedupSignature(output_folder, config=config, language=language)
        self.tokenizer = self._datatrove.word_tokenizer
        hashing = config.hash_config
        self.fast = (
            hashing.hash_fc == "xxhash" and hashing.precision == 64 and config.norm_config == TextNormConfig()
        )
        self._split_is_tokens = isinstance(self.tokenizer, FastWordTokenizer)
        a, b = self._datatrove.parameters
        self._a = np.ascontiguousarray(a.ravel())
        self._b = np.ascontiguousarray(b.ravel())
        self._mask = np.uint64(config.hash_config.max)
        self._dtype = config.hash_config.np_dtype
        self._out = np.empty(len(self._a), np.uint64)

    def words(self, text: str) -> str | None:
        """The document's MinHash words joined by single spaces (None: a word holds a space or is empty)."""
        simple = simplify(text)
        if self._split_is_tokens and simple.replace(" ", "").isalnum():
            return simple
        tokens = self.tokenizer.word_tokenize(simple)
        joined = " ".join(tokens)
        if tokens and (joined.count(" ") != len(tokens) - 1 or "" in tokens):
            return None  # the n-grams would not be slices of the joined words (another tokenizer)
        return joined

    def signature(self, text: str) -> np.ndarray | None:
        if self.fast and self._split_is_tokens and text.isascii():  # simplified: letters, digits, spaces
            buf = np.frombuffer(text.encode("ascii"), np.uint8)
            num = minhash_ascii(buf, self.config.n_grams, self._a, self._b, self._mask, self._out)
        else:
            words = self.words(text) if self.fast else None
            if words is None:
                return self._datatrove_signature(text)
            buf = np.frombuffer(words.encode("utf-8"), np.uint8)
            num = minhash_signature(buf, self.config.n_grams, self._a, self._b, self._mask, self._out)
        if not num:
            return None
        return self._out.astype(self._dtype)

    def _datatrove_signature(self, text: str) -> np.ndarray | None:
        shingles = self._datatrove.get_shingles(text)
        if not shingles.size:
            return None
        return np.concatenate(self._datatrove.get_signature(shingles)).astype(self._dtype)
