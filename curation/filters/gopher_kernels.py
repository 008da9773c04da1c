"""Compiled word and n-gram counts (numba) for Gopher's quality and repetition rules, exact.

datatrove's ``GopherRepetitionFilter`` builds a Python string per n-gram (``" ".join`` for its
top-n-gram rule, ``"".join`` for its duplicated-n-gram rule) and keeps them in a set or a
Counter. Here the words are laid end to end in one code-point array (with the same separator),
so every n-gram is a slice ``[start, end)`` of it, and:

- each slice gets a polynomial hash from prefix hashes (``uint64`` wrap-around), computed once
  per document, so hashing an n-gram costs O(1) however long it is;
- an open-addressing table keyed by that hash **compares the code points** of any two slices
  whose hashes match, so two different n-grams never count as one (a hash collision only costs a
  comparison): the counts are the ones datatrove's strings give, not an estimate;
- lengths are in code points, as Python's ``len`` of the joined string;
- :func:`word_counts` makes the quality rule's per-word tests (a character outside datatrove's
  ``PUNCTUATION_SET``, a letter by ``str.isalpha``) from a per-code-point class table.

Compiled on first use; ``cache=True`` keeps the machine code on disk for the next process.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_BASE = np.uint64(0x100000001B3 * 2 + 1)  # odd, so powers never vanish mod 2^64
_MIX = np.uint64(0x9E3779B97F4A7C15)
_ONE = np.uint64(1)


@nb.njit(cache=True)
def prefix_hashes(chars):
    """``h[i]``: hash of ``chars[:i]``; ``p[i]``: ``BASE ** i`` (both mod 2^64)."""
    n = chars.size
    h = np.empty(n + 1, np.uint64)
    p = np.empty(n + 1, np.uint64)
    h[0] = np.uint64(0)
    p[0] = _ONE
    for i in range(n):
        h[i + 1] = h[i] * _BASE + np.uint64(chars[i]) + _ONE
        p[i + 1] = p[i] * _BASE
    return h, p


@nb.njit(inline="always")
def _same(chars, s1, e1, s2, e2):
    if e1 - s1 != e2 - s2:
        return False
    for k in range(e1 - s1):  # noqa: SIM110 (a generator does not compile in nopython mode)
        if chars[s1 + k] != chars[s2 + k]:
            return False
    return True


@nb.njit(inline="always")
def _table_bits(num):
    bits = 4
    while (1 << bits) < 2 * num:
        bits += 1
    return bits


@nb.njit(cache=True)
def duplicated_ngram_chars(chars, h, p, starts, lens, n):
    """datatrove's ``find_all_duplicate(words, n)``: code points of repeated n-grams, skipping a
    repeat's words (``idx += n``), each n-gram being ``"".join(words[idx: idx + n])``."""
    total = starts.size - n + 1
    if total <= 0:
        return 0
    bits = _table_bits(total)
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    t_hash = np.empty(1 << bits, np.uint64)
    t_start = np.full(1 << bits, -1, np.int64)
    t_end = np.empty(1 << bits, np.int64)
    repeated = 0
    idx = 0
    while idx < total:
        s = starts[idx]
        e = starts[idx + n - 1] + lens[idx + n - 1]
        hv = h[e] - h[s] * p[e - s]
        slot = np.int64((hv * _MIX) >> shift)
        found = False
        while t_start[slot] >= 0:
            if t_hash[slot] == hv and _same(chars, t_start[slot], t_end[slot], s, e):
                found = True
                break
            slot = (slot + 1) & mask
        if found:
            repeated += e - s
            idx += n
        else:
            t_hash[slot] = hv
            t_start[slot] = s
            t_end[slot] = e
            idx += 1
    return repeated


@nb.njit(cache=True)
def top_ngram_chars(chars, h, p, starts, lens, n):
    """datatrove's ``find_top_duplicate(get_n_grams(words, n))``: ``len * count`` of the most
    common n-gram, the first seen among equally common ones (``Counter.most_common(1)``).
    ``-1`` when there is no n-gram (datatrove skips the rule then)."""
    total = starts.size - n + 1
    if total <= 0:
        return -1
    bits = _table_bits(total)
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    t_hash = np.empty(1 << bits, np.uint64)
    t_start = np.full(1 << bits, -1, np.int64)
    t_end = np.empty(1 << bits, np.int64)
    t_count = np.zeros(1 << bits, np.int64)
    t_first = np.empty(1 << bits, np.int64)
    for idx in range(total):
        s = starts[idx]
        e = starts[idx + n - 1] + lens[idx + n - 1]
        hv = h[e] - h[s] * p[e - s]
        slot = np.int64((hv * _MIX) >> shift)
        while t_start[slot] >= 0:
            if t_hash[slot] == hv and _same(chars, t_start[slot], t_end[slot], s, e):
                break
            slot = (slot + 1) & mask
        if t_start[slot] < 0:
            t_hash[slot] = hv
            t_start[slot] = s
            t_end[slot] = e
            t_first[slot] = idx
        t_count[slot] += 1
    best_count, best_first, best_len = 0, total, 0
    for slot in range(1 << bits):
        if t_start[slot] < 0:
            continue
        c = t_count[slot]
        if c > best_count or (c == best_count and t_first[slot] < best_first):
            best_count, best_first, best_len = c, t_first[slot], t_end[slot] - t_start[slot]
    return best_len * best_count


CLASS_PUNCT = np.uint8(1)
CLASS_ALPHA = np.uint8(2)
CLASS_SPACE = np.uint8(4)


@nb.njit(cache=True)
def word_counts(chars, starts, lens, classes):
    """(words with a non-punctuation character, their total length, words with a letter);
    ``classes[cp]`` holds CLASS_PUNCT / CLASS_ALPHA bits; ``(-1, -1, -1)`` when a code point is
    beyond the table (the caller then counts in Python)."""
    n_non_symbol = 0
    non_symbol_chars = 0
    n_alpha = 0
    for i in range(starts.size):
        s = starts[i]
        non_symbol = False
        alpha = False
        for k in range(s, s + lens[i]):
            if chars[k] >= classes.size:
                return -1, -1, -1
            c = classes[chars[k]]
            if not (c & CLASS_PUNCT):
                non_symbol = True
            if c & CLASS_ALPHA:
                alpha = True
        if non_symbol:
            n_non_symbol += 1
            non_symbol_chars += lens[i]
        if alpha:
            n_alpha += 1
    return n_non_symbol, non_symbol_chars, n_alpha


@nb.njit(cache=True)
def split_layout(spaced, num_words):
    """From the code points of ``" ".join(words)`` (no word holding a space): each word's start
    and length there, and the code points of ``"".join(words)`` with the starts in it."""
    starts = np.empty(num_words, np.int64)
    lens = np.empty(num_words, np.int64)
    joined = np.empty(spaced.size - max(num_words - 1, 0), np.uint32)
    starts_joined = np.empty(num_words, np.int64)
    word, start, out = 0, 0, 0
    for k in range(spaced.size + 1):
        if k == spaced.size or spaced[k] == 32:
            if word < num_words:
                starts[word] = start
                lens[word] = k - start
                starts_joined[word] = start - word
            word += 1
            start = k + 1
        else:
            joined[out] = spaced[k]
            out += 1
    return starts, lens, joined, starts_joined


@nb.njit(inline="always")
def _is_line_break(c):
    # str.splitlines' boundaries (\r\n is one): \n \v \f \r \x1c \x1d \x1e \x85 \u2028 \u2029
    return (10 <= c <= 13) or (28 <= c <= 30) or c == 0x85 or c == 0x2028 or c == 0x2029


@nb.njit(inline="always")
def _is_space(c, classes):
    return c < classes.size and (classes[c] & CLASS_SPACE) != 0


@nb.njit(cache=True)
def line_counts(chars, classes):
    """Over ``text.splitlines()``: (lines, lines whose ``lstrip()`` starts with "•" or "-",
    lines whose ``rstrip()`` ends with "..." or "…"); whitespace is ``str.isspace``."""
    size = chars.size
    lines = bullets = ellipses = 0
    i = 0
    while i < size:
        start = i
        while i < size and not _is_line_break(chars[i]):
            i += 1
        end = i
        lines += 1
        first = start
        while first < end and _is_space(chars[first], classes):
            first += 1
        if first < end and (chars[first] == 0x2022 or chars[first] == 45):
            bullets += 1
        last = end
        while last > start and _is_space(chars[last - 1], classes):
            last -= 1
        if (
            last > start
            and chars[last - 1] == 0x2026
            or last - start >= 3
            and chars[last - 1] == 46
            and chars[last - 2] == 46
            and chars[last - 3] == 46
        ):
            ellipses += 1
        if i < size:
            i += 2 if chars[i] == 13 and i + 1 < size and chars[i + 1] == 10 else 1
    return lines, bullets, ellipses
