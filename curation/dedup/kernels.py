"""Compiled hashing kernels (numba) for MinHash signatures and decontamination n-grams.

Everything here computes exactly what datatrove and ``curation/decont/ngrams.py`` compute in
Python, only without a Python call per n-gram:

- :func:`xxh64` is XXH64 with seed 0 (``xxhash.xxh64_intdigest`` of the UTF-8 bytes);
- :func:`minhash_signature` takes the UTF-8 bytes of a document's words joined by single spaces
  (datatrove's ``" ".join(ngram)`` of each n-gram is then a slice of it), hashes every n-gram with
  XXH64 and applies the 112 permutations ``(h * a + b) mod 2^64 mod (2^61 - 1)`` of
  ``MinhashDedupSignature.get_signature`` (uint64 wrap-around included), keeping the minima;
- :func:`token_hashes` is XXH64 of every space-separated token (decontamination's word hashes).

``(2^61 - 1)`` is a Mersenne prime, so ``x mod p`` is ``(x & p) + (x >> 61)`` with one
conditional subtraction: exact, and the inner loop over the hashes vectorises.
Compiled on first use; ``cache=True`` keeps the machine code on disk for the next process.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_V4 = np.uint64((1 << 64) - 0x9E3779B185EBCA87)  # seed 0 - P1, wrapped
_V1 = np.uint64((0x9E3779B185EBCA87 + 0xC2B2AE3D27D4EB4F) % (1 << 64))
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX = np.uint64((1 << 64) - 1)
_ZERO = np.uint64(0)
_SPACE = np.uint8(32)
_U8, _U16, _U24, _U32, _U40, _U48, _U56 = (np.uint64(k) for k in (8, 16, 24, 32, 40, 48, 56))
_S61 = np.uint64(61)


@nb.njit(inline="always")
def _rotl(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@nb.njit(inline="always")
def _read64(buf, i):
    return (
        np.uint64(buf[i])
        | (np.uint64(buf[i + 1]) << _U8)
        | (np.uint64(buf[i + 2]) << _U16)
        | (np.uint64(buf[i + 3]) << _U24)
        | (np.uint64(buf[i + 4]) << _U32)
        | (np.uint64(buf[i + 5]) << _U40)
        | (np.uint64(buf[i + 6]) << _U48)
        | (np.uint64(buf[i + 7]) << _U56)
    )


@nb.njit(inline="always")
def _read32(buf, i):
    return (
        np.uint64(buf[i])
        | (np.uint64(buf[i + 1]) << _U8)
        | (np.uint64(buf[i + 2]) << _U16)
        | (np.uint64(buf[i + 3]) << _U24)
    )


@nb.njit(inline="always")
def _round(acc, lane):
    acc = acc + lane * _P2
    acc = _rotl(acc, 31)
    return acc * _P1


@nb.njit(inline="always")
def _merge(acc, val):
    acc ^= _round(_ZERO, val)
    return acc * _P1 + _P4


@nb.njit(cache=True)
def xxh64(buf, start, length):
    """XXH64 (seed 0) of ``buf[start:start + length]`` (a uint8 array)."""
    p = start
    end = start + length
    if length >= 32:
        v1, v2, v3, v4 = _V1, _P2, _ZERO, _V4
        limit = end - 32
        while p <= limit:
            v1 = _round(v1, _read64(buf, p))
            v2 = _round(v2, _read64(buf, p + 8))
            v3 = _round(v3, _read64(buf, p + 16))
            v4 = _round(v4, _read64(buf, p + 24))
            p += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = _P5
    h = h + np.uint64(length)
    while p + 8 <= end:
        h ^= _round(_ZERO, _read64(buf, p))
        h = _rotl(h, 27) * _P1 + _P4
        p += 8
    if p + 4 <= end:
        h ^= _read32(buf, p) * _P1
        h = _rotl(h, 23) * _P2 + _P3
        p += 4
    while p < end:
        h ^= np.uint64(buf[p]) * _P5
        h = _rotl(h, 11) * _P1
        p += 1
    h ^= h >> np.uint64(33)
    h = h * _P2
    h ^= h >> np.uint64(29)
    h = h * _P3
    h ^= h >> np.uint64(32)
    return h


@nb.njit(cache=True)
def _token_bounds(buf):
    """Starts and ends of the space-separated tokens of ``buf``."""
    n = len(buf)
    starts = np.empty(n // 2 + 1, np.int64)
    ends = np.empty(n // 2 + 1, np.int64)
    count = 0
    i = 0
    while i < n:
        while i < n and buf[i] == _SPACE:
            i += 1
        if i >= n:
            break
        starts[count] = i
        while i < n and buf[i] != _SPACE:
            i += 1
        ends[count] = i
        count += 1
    return starts[:count], ends[:count]


@nb.njit(cache=True)
def token_hashes(buf):
    """XXH64 of every space-separated token of ``buf`` (uint8 UTF-8 bytes), in order."""
    starts, ends = _token_bounds(buf)
    out = np.empty(len(starts), np.uint64)
    for i in range(len(starts)):
        out[i] = xxh64(buf, starts[i], ends[i] - starts[i])
    return out


@nb.njit(cache=True)
def minhash_signature(buf, n_grams, a, b, mask, out):
    """Fill ``out`` (uint64, one per permutation) with the MinHash of ``buf``'s word n-grams.

    ``buf`` holds words separated by single spaces; ``mask`` is ``2^32 - 1`` for 32-bit
    precision, all ones for 64. Returns the number of n-grams (0: fewer than ``n_grams`` words,
    ``out`` untouched).
    """
    starts, ends = _token_bounds(buf)
    num = len(starts) - n_grams + 1
    if num <= 0:
        return 0
    num_hashes = len(a)
    for j in range(num_hashes):
        out[j] = _MAX
    for i in range(num):
        s = starts[i]
        x = xxh64(buf, s, ends[i + n_grams - 1] - s)
        for j in range(num_hashes):
            v = x * a[j] + b[j]
            v = (v & _MERSENNE) + (v >> _S61)
            if v >= _MERSENNE:
                v -= _MERSENNE
            v &= mask
            if v < out[j]:
                out[j] = v
    return num


@nb.njit(inline="always")
def _is_digit(c):
    return 48 <= c <= 57


@nb.njit(cache=True)
def simplify_ascii(src):
    """datatrove's ``simplify_text`` of ASCII bytes: lower case, ``[0-9]+([.,][0-9]+)?`` -> ``0``,
    every other byte that is not a letter or digit (ASCII punctuation, controls, whitespace) a
    separator, separators collapsed to one space, none at either end."""
    n = len(src)
    out = np.empty(n, np.uint8)
    size = 0
    space = False
    i = 0
    while i < n:
        c = src[i]
        if _is_digit(c):
            i += 1
            while i < n and _is_digit(src[i]):
                i += 1
            if i + 1 < n and (src[i] == 46 or src[i] == 44) and _is_digit(src[i + 1]):
                i += 2
                while i < n and _is_digit(src[i]):
                    i += 1
            c = np.uint8(48)
        else:
            i += 1
            if 65 <= c <= 90:
                c = np.uint8(c + 32)
            elif not 97 <= c <= 122:
                space = size > 0
                continue
        if space:
            out[size] = _SPACE
            size += 1
            space = False
        out[size] = c
        size += 1
    return out[:size]


@nb.njit(cache=True)
def minhash_ascii(src, n_grams, a, b, mask, out):
    """:func:`minhash_signature` of ``simplify_ascii(src)`` (ASCII text, ``FastWordTokenizer`` words)."""
    return minhash_signature(simplify_ascii(src), n_grams, a, b, mask, out)


@nb.njit(cache=True)
def _roll(ids, n, mult):
    count = len(ids) - n + 1
    if count <= 0:
        return np.empty(0, np.uint64)
    h = ids[:count].copy()
    for j in range(1, n):
        for i in range(count):
            h[i] = h[i] * mult + ids[i + j]
    return h


@nb.njit(cache=True)
def ngram_roll(buf, n, mult):
    """Polynomial roll ``h = h * mult + id`` over the XXH64 of ``buf``'s space-separated words."""
    return _roll(token_hashes(buf), n, mult)


@nb.njit(cache=True)
def ascii_ngram_roll(src, n, mult):
    """:func:`ngram_roll` of the lower-cased ASCII letter/digit runs of ``src`` (``[^\\W_]+`` words)."""
    size = len(src)
    low = np.empty(size, np.uint8)
    for i in range(size):
        c = src[i]
        if 65 <= c <= 90:
            c += 32
        elif not (97 <= c <= 122 or 48 <= c <= 57):
            c = _SPACE
        low[i] = c
    return ngram_roll(low, n, mult)
