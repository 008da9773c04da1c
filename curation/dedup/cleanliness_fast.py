"""``fast_cleanliness``: :func:`curation.dedup.cleanliness.cleanliness`, the same numbers in whole-text passes.

``cleanliness`` walks every whitespace token in Python (a junk regex, a per-character category
check, a word regex, a letter-pair check per word): about 1 MB/s. Here, per document,

- one regex pass finds the junk tokens (a token containing a junk match or a junk character; no
  junk pattern matches across whitespace, so a token holds a match exactly when the text has one
  inside that token) and blanks them;
- the words are one ``findall`` over the case-folded rest, counted with ``Counter``; "common" and
  "odd letters" are looked up once per distinct word (cached across documents);
- boilerplate lines are handled line by line only in documents where the boilerplate regex
  matches at all (none of its phrases crosses a line break, so a whole-text search finds a match
  exactly when some line has one).

``tests/curation/test_curation_speed_parity.py`` checks it equal to ``cleanliness`` on the real
sets and on planted junk, typos and boilerplate.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import numba as nb
import numpy as np

from curation.dedup.cleanliness import (
    _BOILERPLATE,
    _BOILERPLATE_MAX_WORDS,
    _JUNK,
    _LETTER_PAIRS,
    _WORD,
    COMMON_WORDS,
    _is_junk_char,
    _odd_letters,
)

_JUNK_BODY = (
    r"(?:[^\W\d_]+\d|\d+[^\W\d_]+\d)"
    r"|&#?\w+;|</?[A-Za-z][^>\s]*>"
    r"|(?P<sym>[^\w\s])(?P=sym){3,}"
    r"|https?://|www\."
)
# controls that are not whitespace (whitespace never sits inside a token), in any text
_ASCII_JUNK_CHARS = "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ufffd"
_JUNK_CATEGORIES = ("Cc", "Cf", "Co", "Cs", "Cn")
_JUNK_TOKEN_CACHE: dict[str, re.Pattern] = {}
_WORD_CACHE: dict[str, tuple[bool, bool]] = {}
_WORD_CACHE_MAX = 100_000


def _junk_token_pattern(extra_chars: str) -> re.Pattern:
    """A whole token (whitespace-delimited) that holds a junk match or a junk character."""
    pattern = _JUNK_TOKEN_CACHE.get(extra_chars)
    if pattern is None:
        chars = _ASCII_JUNK_CHARS + "".join(re.escape(c) for c in extra_chars)
        pattern = re.compile(rf"(?<!\S)\S*?(?:{_JUNK_BODY}|[{chars}])\S*")
        if len(_JUNK_TOKEN_CACHE) < 1000:
            _JUNK_TOKEN_CACHE[extra_chars] = pattern
    return pattern


def _extra_junk_chars(text: str) -> str:
    """Non-ASCII characters of ``text`` in a junk category, beyond the fixed ranges."""
    if text.isascii():
        return ""
    found = []
    for ch in set(text):
        if ch > "\x9f" and not ch.isspace() and unicodedata.category(ch) in _JUNK_CATEGORIES:
            found.append(ch)
    return "".join(sorted(found))


def _word_flags(word: str) -> tuple[bool, bool]:
    flags = _WORD_CACHE.get(word)
    if flags is None:
        flags = (word in COMMON_WORDS, _odd_letters(word))
        if len(_WORD_CACHE) < _WORD_CACHE_MAX:
            _WORD_CACHE[word] = flags
    return flags


def _block(text: str, junk_pattern: re.Pattern) -> tuple[int, int, int]:
    """``(common, junk, words)`` of lines without boilerplate."""
    text, junk = junk_pattern.subn(" ", text)
    counts = Counter(_WORD.findall(text.casefold()))
    common = odd = total = 0
    for word, count in counts.items():
        is_common, is_odd = _word_flags(word)
        total += count
        if is_common:
            common += count
        if is_odd:
            odd += count
    return common, junk + odd, total


def fast_cleanliness(text: str) -> tuple[int, int]:
    """Equal to ``cleanliness(text)``: ``(score, words outside boilerplate lines)``."""
    pattern = _junk_token_pattern(_extra_junk_chars(text))
    boiler = 0
    if _BOILERPLATE.search(text):
        kept = []
        for line in text.split("\n"):
            if _BOILERPLATE.search(line):
                num_words = len(_WORD.findall(line))
                if num_words <= _BOILERPLATE_MAX_WORDS:
                    boiler += num_words
                    continue
            kept.append(line)
        text = "\n".join(kept)
    common, junk, total = _block(text, pattern)
    return common - junk - boiler, total


# ---- ASCII documents without boilerplate (most of them): one compiled pass -------------------

_BOILERPLATE_HINTS = (
    "click here", "subscribe to", "sign up ", "login to", "log in to", "cookie", "privacy policy", "terms of ",
    "all rights reserved", "share this", "follow us on", "read more", "advertisement", "skip to ",
    "powered by", "related post", "leave a ",
)  # fmt: skip
# every _BOILERPLATE phrase contains one of these (lower-cased ASCII text); "©" is not ASCII


def _word_key(word: str) -> int:
    """Base-27 number of a lower-case ASCII word of at most 13 letters (unique, fits int64)."""
    key = 0
    for ch in reversed(word):
        key = key * 27 + (ord(ch) - 96)
    return key


_COMMON_KEYS = np.array(sorted(_word_key(w) for w in COMMON_WORDS), dtype=np.int64)
_PAIR_OK = np.zeros((128, 128), dtype=np.bool_)
for _pair in _LETTER_PAIRS:
    _PAIR_OK[ord(_pair[0]), ord(_pair[1])] = True


@nb.njit(inline="always")
def _alpha(c):
    return (65 <= c <= 90) or (97 <= c <= 122)


@nb.njit(inline="always")
def _digit(c):
    return 48 <= c <= 57


@nb.njit(inline="always")
def _wordchar(c):
    return _alpha(c) or _digit(c) or c == 95


@nb.njit(inline="always")
def _space(c):
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31


@nb.njit(cache=True)
def _token_is_junk(b, s, e):
    """``_JUNK.search(token) or any(_is_junk_char(ch) ...)`` for an ASCII token ``b[s:e]``."""
    for k in range(s, e):
        c = b[k]
        if c <= 8 or 14 <= c <= 27 or c == 127:
            return True
        if k + 1 < e and _alpha(c) and _digit(b[k + 1]):  # [^\W\d_]+\d (and \d+[^\W\d_]+\d)
            return True
        if c == 38:  # &#?\w+;
            m = k + 1
            if m < e and b[m] == 35:
                m += 1
            m2 = m
            while m2 < e and _wordchar(b[m2]):
                m2 += 1
            if m2 > m and m2 < e and b[m2] == 59:
                return True
        if c == 60:  # </?[A-Za-z][^>\s]*>
            m = k + 1
            if m < e and b[m] == 47:
                m += 1
            if m < e and _alpha(b[m]):
                for q in range(m + 1, e):
                    if b[q] == 62:
                        return True
        if not _wordchar(c):  # ([^\w\s])\1{3,}
            m = k + 1
            while m < e and b[m] == c:
                m += 1
            if m - k >= 4:
                return True
        if c == 104 and k + 7 <= e and b[k + 1] == 116 and b[k + 2] == 116 and b[k + 3] == 112:
            m = k + 4  # https?://
            if b[m] == 115:
                m += 1
            if m + 3 <= e and b[m] == 58 and b[m + 1] == 47 and b[m + 2] == 47:
                return True
        if c == 119 and k + 4 <= e and b[k + 1] == 119 and b[k + 2] == 119 and b[k + 3] == 46:
            return True  # www\.
    return False


@nb.njit(cache=True)
def _clean_ascii(b, common_keys, pair_ok):
    """``(common, junk, words)`` of ASCII bytes without boilerplate lines."""
    n = len(b)
    common = junk = total = 0
    i = 0
    while i < n:
        while i < n and _space(b[i]):
            i += 1
        if i >= n:
            break
        s = i
        while i < n and not _space(b[i]):
            i += 1
        e = i
        if _token_is_junk(b, s, e):
            junk += 1
            continue
        j = s
        while j < e:
            if not _alpha(b[j]):
                j += 1
                continue
            w = j
            while j < e and _alpha(b[j]):
                j += 1
            if j + 1 < e and b[j] == 39 and _alpha(b[j + 1]):
                j += 1
                while j < e and _alpha(b[j]):
                    j += 1
            total += 1
            length = j - w
            apostrophe = False
            key = 0
            mult = 1
            odd = False
            for q in range(w, j):
                c = b[q]
                if 65 <= c <= 90:
                    c += 32
                if c == 39:
                    apostrophe = True
                elif length <= 13:
                    key += (c - 96) * mult
                    mult *= 27
                if q > w and length >= 3:
                    p = b[q - 1]
                    if 65 <= p <= 90:
                        p += 32
                    if not pair_ok[p, c]:
                        odd = True
            if odd:
                junk += 1
            if length <= 13 and not apostrophe:
                pos = np.searchsorted(common_keys, key)
                if pos < len(common_keys) and common_keys[pos] == key:
                    common += 1
    return common, junk, total


def _ascii_without_boilerplate(text: str) -> bool:
    if not text.isascii():
        return False
    lower = text.lower()
    return not any(h in lower for h in _BOILERPLATE_HINTS) or _BOILERPLATE.search(text) is None


# ---- non-ASCII documents without boilerplate: the same pass over code points -----------------
# Per BMP code point: its classes under Python's re/str rules and its case fold. A token holding a
# character outside the BMP, or one whose case fold is several characters or changes its class
# (U+0130 folds to "i" plus a combining dot), is judged by the Python rule token by token.
_SPACE_F, _WORD_F, _DECIMAL_F, _JUNK_F, _DEFER_F, _LETTER_F = 1, 2, 4, 8, 16, 32
_TABLES: tuple[np.ndarray, np.ndarray] | None = None
# non-ASCII characters that re.IGNORECASE matches to an ASCII letter (U+0130 İ, U+0131 ı, U+017F ſ,
# U+212A Kelvin sign; checked over all code points), and the copyright sign
_BOILERPLATE_NON_ASCII = re.compile("[\u0130\u0131\u017f\u212a©]")


def _classes(ch: str) -> int:
    flags = 0
    if ch.isspace():
        flags |= _SPACE_F
    if ch.isalnum() or ch == "_":
        flags |= _WORD_F
    if ch.isdecimal():
        flags |= _DECIMAL_F
    if ch.isalnum() and not ch.isdecimal() and ch != "_":
        flags |= _LETTER_F
    if ch == "\ufffd" or (ch not in "\n\t\r" and unicodedata.category(ch) in _JUNK_CATEGORIES):
        flags |= _JUNK_F
    return flags


def _tables() -> tuple[np.ndarray, np.ndarray]:
    global _TABLES
    if _TABLES is None:
        flags = np.zeros(0x10000, np.uint8)
        fold = np.arange(0x10000, dtype=np.uint32)
        for code in range(0x10000):
            ch = chr(code)
            f = _classes(ch)
            folded = ch.casefold()
            if len(folded) != 1 or (_classes(folded) & (_LETTER_F | _SPACE_F)) != (
                f & (_LETTER_F | _SPACE_F)
            ):
                f |= _DEFER_F
            else:
                fold[code] = ord(folded)
            flags[code] = f
        _TABLES = (flags, fold)
    return _TABLES


@nb.njit(cache=True)
def _flag(flags, c):
    return flags[c] if c < 0x10000 else np.uint8(_DEFER_F)


@nb.njit(cache=True)
def _token_is_junk_unicode(u, s, e, flags):
    for k in range(s, e):
        c = u[k]
        fc = _flag(flags, c)
        if fc & _JUNK_F:
            return True
        if k + 1 < e and (fc & _LETTER_F) and (_flag(flags, u[k + 1]) & _DECIMAL_F):
            return True
        if c == 38:  # &#?\w+;
            m = k + 1
            if m < e and u[m] == 35:
                m += 1
            m2 = m
            while m2 < e and (_flag(flags, u[m2]) & _WORD_F):
                m2 += 1
            if m2 > m and m2 < e and u[m2] == 59:
                return True
        if c == 60:  # </?[A-Za-z][^>\s]*>
            m = k + 1
            if m < e and u[m] == 47:
                m += 1
            if m < e and _alpha(u[m]):
                for q in range(m + 1, e):
                    if u[q] == 62:
                        return True
        if not fc & _WORD_F:  # ([^\w\s])\1{3,}
            m = k + 1
            while m < e and u[m] == c:
                m += 1
            if m - k >= 4:
                return True
        if c == 104 and k + 7 <= e and u[k + 1] == 116 and u[k + 2] == 116 and u[k + 3] == 112:
            m = k + 4  # https?://
            if u[m] == 115:
                m += 1
            if m + 3 <= e and u[m] == 58 and u[m + 1] == 47 and u[m + 2] == 47:
                return True
        if c == 119 and k + 4 <= e and u[k + 1] == 119 and u[k + 2] == 119 and u[k + 3] == 46:
            return True  # www\.
    return False


@nb.njit(cache=True)
def _clean_unicode(u, flags, fold, common_keys, pair_ok):
    """``(common, junk, words, deferred token starts, ends)`` of code points without boilerplate."""
    n = len(u)
    common = junk = total = 0
    d_starts = np.empty(n // 2 + 1, np.int64)
    d_ends = np.empty(n // 2 + 1, np.int64)
    num_deferred = 0
    i = 0
    while i < n:
        while i < n and (_flag(flags, u[i]) & _SPACE_F):
            i += 1
        if i >= n:
            break
        s = i
        defer = False
        while i < n and not (_flag(flags, u[i]) & _SPACE_F):
            if _flag(flags, u[i]) & _DEFER_F:
                defer = True
            i += 1
        e = i
        if defer:
            d_starts[num_deferred] = s
            d_ends[num_deferred] = e
            num_deferred += 1
            continue
        if _token_is_junk_unicode(u, s, e, flags):
            junk += 1
            continue
        j = s
        while j < e:
            if not flags[u[j]] & _LETTER_F:
                j += 1
                continue
            w = j
            while j < e and (flags[u[j]] & _LETTER_F):
                j += 1
            if j + 1 < e and u[j] == 39 and (flags[u[j + 1]] & _LETTER_F):
                j += 1
                while j < e and (flags[u[j]] & _LETTER_F):
                    j += 1
            total += 1
            length = j - w
            ascii_word = True
            apostrophe = False
            key = 0
            mult = 1
            odd = False
            for q in range(w, j):
                c = fold[u[q]]
                if c >= 128:
                    ascii_word = False
                    break
                if c == 39:
                    apostrophe = True
                elif length <= 13:
                    key += (c - 96) * mult
                    mult *= 27
                if q > w and length >= 3:
                    p = fold[u[q - 1]]
                    if p >= 128 or not pair_ok[p, c]:
                        odd = True
            if not ascii_word:
                continue
            if odd:
                junk += 1
            if length <= 13 and not apostrophe:
                pos = np.searchsorted(common_keys, key)
                if pos < len(common_keys) and common_keys[pos] == key:
                    common += 1
    return common, junk, total, d_starts[:num_deferred], d_ends[:num_deferred]


def _token_python(token: str) -> tuple[int, int, int]:
    """``(common, junk, words)`` of one token by cleanliness's own per-token rule."""
    if _JUNK.search(token) or any(_is_junk_char(ch) for ch in token):
        return 0, 1, 0
    words = _WORD.findall(token.casefold())
    common = sum(1 for w in words if w in COMMON_WORDS)
    return common, sum(1 for w in words if _odd_letters(w)), len(words)


def _unicode_without_boilerplate(text: str) -> tuple[int, int] | None:
    if _BOILERPLATE_NON_ASCII.search(text) is None:
        lower = text.lower()
        if any(h in lower for h in _BOILERPLATE_HINTS) and _BOILERPLATE.search(text) is not None:
            return None
    elif _BOILERPLATE.search(text) is not None:
        return None
    flags, fold = _tables()
    u = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    common, junk, total, starts, ends = _clean_unicode(u, flags, fold, _COMMON_KEYS, _PAIR_OK)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        c, j, t = _token_python(text[s:e])
        common, junk, total = common + c, junk + j, total + t
    return common - junk, total


def cleanliness_score(text: str) -> tuple[int, int]:
    """Equal to ``cleanliness(text)``; compiled passes for text without boilerplate lines."""
    if text.isascii():
        if _ascii_without_boilerplate(text):
            common, junk, total = _clean_ascii(
                np.frombuffer(text.encode("ascii"), np.uint8), _COMMON_KEYS, _PAIR_OK
            )
            return common - junk, total
        return fast_cleanliness(text)
    result = _unicode_without_boilerplate(text)
    return fast_cleanliness(text) if result is None else result
