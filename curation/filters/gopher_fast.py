"""Gopher quality and repetition rules with datatrove's decisions and reasons, without its per-word Python.

``FastGopherQualityFilter`` and ``FastGopherRepetitionFilter`` subclass datatrove's filters (same
options, same ``filter()`` contract, same reason strings, checked in the same order) and compute
the same numbers faster:

- **one tokenisation per document**: both rules call the run's word tokenizer
  (``split_into_words(text, language)``, i.e. ``load_word_tokenizer(language).word_tokenize``,
  as datatrove does); the second rule reuses the first one's words when it sees the very same
  text object with the same tokenizer;
- **quality**: the per-word tests (has a character outside ``PUNCTUATION_SET``, has a letter,
  length) run compiled over the words' code points with a per-code-point class table
  (``gopher_kernels.word_counts``; a document with a code point beyond the BMP is counted per
  distinct word in Python instead); the mean word length is the exact integer sum over the
  count, which is what ``np.mean`` of the lengths gives; the bullet and end-ellipsis line
  shares are one compiled pass over the text with ``str.splitlines``' boundaries and
  ``str.isspace``'s whitespace (``gopher_kernels.line_counts``);
- **repetition**: paragraph and line duplicates by set sizes (a repeated element has the
  length of its first copy, so the duplicated characters are ``sum(len(all)) - sum(len(set))``);
  n-gram rules by the exact compiled counts of ``curation/filters/gopher_kernels.py``.

A document the fast path is not sure to judge alike (no words at all: datatrove divides by zero
there) goes to datatrove's own ``filter``. ``tests/curation/test_curation_filters_fast.py`` runs
both on the real sets and the demo corpus and asserts the same decision and reason everywhere.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from datatrove.utils.text import PUNCTUATION_SET, split_into_words
from datatrove.utils.word_tokenizers import WordTokenizer

from curation.filters import gopher_kernels as gk

_WORD_CACHE_MAX = 200_000  # per process; ~25 MB at most
_WORD_FLAGS: dict[str, tuple[bool, bool, int]] = {}
_BMP = 0x10000


def _class_table() -> np.ndarray:
    """Per BMP code point: CLASS_PUNCT if in datatrove's PUNCTUATION_SET, CLASS_ALPHA if
    ``isalpha``, CLASS_SPACE if ``isspace`` (no code point beyond the BMP is a space)."""
    table = np.zeros(_BMP, np.uint8)
    for ch in PUNCTUATION_SET:
        if ord(ch) < _BMP:
            table[ord(ch)] |= gk.CLASS_PUNCT
    chars = [chr(c) for c in range(_BMP)]
    table[np.frombuffer(bytes(c.isalpha() for c in chars), np.bool_)] |= gk.CLASS_ALPHA
    table[np.frombuffer(bytes(c.isspace() for c in chars), np.bool_)] |= gk.CLASS_SPACE
    return table


def classes() -> np.ndarray:
    if not _CLASSES:
        _CLASSES.append(_class_table())
    return _CLASSES[0]


_CLASSES: list[np.ndarray] = []  # built on first use (~60 ms)


class _Parsed:
    """One document's words and, made on demand, their code-point layouts and prefix hashes.

    ``layout(" ")`` / ``layout("")``: the code points of ``" ".join(words)`` / ``"".join(words)``,
    each word's start there, and the word lengths (in code points). When no word holds a space
    (the fast tokenizer's never do) both come from one join and one compiled pass.
    """

    __slots__ = ("text", "language", "words", "_layouts", "_hashes")

    def __init__(self, text: str, language):
        self.text, self.language = text, language
        if isinstance(language, WordTokenizer):  # what split_into_words does, minus its import
            self.words = language.word_tokenize(text)
        else:
            self.words = split_into_words(text, language)
        self._layouts: dict[str, tuple] = {}
        self._hashes: dict[str, tuple] = {}

    def layout(self, sep: str) -> tuple:
        if sep not in self._layouts:
            words = self.words
            spaced = " ".join(words)
            if spaced.count(" ") == max(len(words) - 1, 0):  # no word holds a space
                chars = _code_points(spaced)
                starts, lens, joined, starts_joined = gk.split_layout(chars, len(words))
                self._layouts[" "] = (chars, starts, lens)
                self._layouts[""] = (joined, starts_joined, lens)
            else:
                self._layouts[sep] = _laid_out(words, sep)
        return self._layouts[sep]

    def hashed(self, sep: str) -> tuple:
        """``(chars, h, p, starts, lens)`` for the n-gram kernels."""
        if sep not in self._hashes:
            chars, starts, lens = self.layout(sep)
            h, p = gk.prefix_hashes(chars)
            self._hashes[sep] = (chars, h, p, starts, lens)
        return self._hashes[sep]


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


def _laid_out(words: list[str], sep: str) -> tuple:
    """Code points of ``sep.join(words)``, each word's start in it, and the word lengths."""
    lens = np.fromiter(map(len, words), np.int64, len(words))
    starts = np.zeros(len(words), np.int64)
    if len(words) > 1:
        np.cumsum(lens[:-1] + len(sep), out=starts[1:])
    return _code_points(sep.join(words)), starts, lens


_LAST: list[_Parsed | None] = [None]  # the last document's words, shared by the two rules


def parsed(text: str, language) -> _Parsed:
    """``split_into_words(text, language)`` and its layouts, reused when the same text object
    comes back with the same tokenizer (the two Gopher rules judge one document in a row)."""
    last = _LAST[0]
    if last is not None and last.text is text and last.language == language:
        return last
    _LAST[0] = current = _Parsed(text, language)
    return current


def words_of(text: str, language) -> list[str]:
    return parsed(text, language).words


def _flags(word: str) -> tuple[bool, bool, int]:
    """(has a non-punctuation character, has a letter, length) of one word, cached."""
    flags = _WORD_FLAGS.get(word)
    if flags is None:
        flags = (any(ch not in PUNCTUATION_SET for ch in word), any(c.isalpha() for c in word), len(word))
        if len(_WORD_FLAGS) < _WORD_CACHE_MAX:
            _WORD_FLAGS[word] = flags
    return flags


def quality_counts(doc: _Parsed) -> tuple[int, int, int]:
    """(words with a non-punctuation character, their total length, words with a letter)."""
    chars, starts, lens = doc.layout("")
    n_non_symbol, non_symbol_chars, n_alpha = gk.word_counts(chars, starts, lens, classes())
    if n_non_symbol >= 0:
        return int(n_non_symbol), int(non_symbol_chars), int(n_alpha)
    n_non_symbol = n_alpha = non_symbol_chars = 0  # a code point beyond the BMP: per distinct word
    for word, count in Counter(doc.words).items():
        non_symbol, alpha, length = _flags(word)
        if non_symbol:
            n_non_symbol += count
            non_symbol_chars += length * count
        if alpha:
            n_alpha += count
    return n_non_symbol, non_symbol_chars, n_alpha


class FastGopherQualityFilter(GopherQualityFilter):
    """datatrove's ``GopherQualityFilter``, the same decisions per document, counted per distinct word."""

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        current = parsed(text, self.language)
        words = current.words
        n_words = len(words)
        if n_words == 0:  # datatrove divides by n_words: let it decide (or raise) as it does
            return super().filter(doc)
        n_non_symbol, non_symbol_chars, n_alpha = quality_counts(current)

        if self.min_doc_words and n_non_symbol < self.min_doc_words:
            return False, "gopher_short_doc"
        if self.max_doc_words and n_non_symbol > self.max_doc_words:
            return False, "gopher_long_doc"

        # np.mean of integer lengths: an exact float sum divided by the count (nan when empty)
        avg_n_words = non_symbol_chars / n_non_symbol if n_non_symbol else np.nan
        if self.min_avg_word_length and avg_n_words < self.min_avg_word_length:
            return False, "gopher_below_avg_threshold"
        if self.max_avg_word_length and avg_n_words > self.max_avg_word_length:
            return False, "gopher_above_avg_threshold"

        if self.max_symbol_word_ratio and text.count("#") / n_words > self.max_symbol_word_ratio:
            return False, "gopher_too_many_hashes"
        if (
            self.max_symbol_word_ratio
            and (text.count("...") + text.count("…")) / n_words > self.max_symbol_word_ratio
        ):
            return False, "gopher_too_many_ellipsis"

        if self.max_bullet_lines_ratio or self.max_ellipsis_lines_ratio:
            n_lines, n_bullets, n_ellipses = gk.line_counts(_code_points(text), classes())
            if self.max_bullet_lines_ratio and n_bullets / n_lines > self.max_bullet_lines_ratio:
                return False, "gopher_too_many_bullets"
            if self.max_ellipsis_lines_ratio and n_ellipses / n_lines > self.max_ellipsis_lines_ratio:
                return False, "gopher_too_many_end_ellipsis"

        if self.max_non_alpha_words_ratio and n_alpha / n_words < self.max_non_alpha_words_ratio:
            return False, "gopher_below_alpha_threshold"

        if self.min_stop_words and len(self.stop_words.intersection(words)) < self.min_stop_words:
            return False, "gopher_enough_stop_words"

        return True


def _duplicates(parts: list[str]) -> tuple[int, int]:
    """datatrove's ``find_duplicates``: (repeated elements, their characters), by set sizes."""
    unique = set(parts)
    return len(parts) - len(unique), sum(map(len, parts)) - sum(map(len, unique))


class FastGopherRepetitionFilter(GopherRepetitionFilter):
    """datatrove's ``GopherRepetitionFilter``, the same decisions per document, n-grams counted compiled."""

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        if not text:
            return False, "empty"

        if self.dup_para_frac or self.dup_para_char_frac:
            paragraphs = self.paragraph_exp.split(text.strip())
            paragraphs_duplicates, char_duplicates = _duplicates(paragraphs)
            if self.dup_para_frac and paragraphs_duplicates / len(paragraphs) > self.dup_para_frac:
                return False, "dup_para_frac"
            if self.dup_para_char_frac and char_duplicates / len(text) > self.dup_para_char_frac:
                return False, "dup_para_char_frac"

        if self.dup_line_frac or self.dup_line_char_frac:
            lines = self._line_splitter.split(text)
            line_duplicates, char_duplicates = _duplicates(lines)
            if self.dup_line_frac and line_duplicates / len(lines) > self.dup_line_frac:
                return False, "dup_line_frac"
            if self.dup_line_char_frac and char_duplicates / len(text) > self.dup_line_char_frac:
                return False, "dup_line_char_frac"

        if not self.top_n_grams and not self.dup_n_grams:
            return True
        current = parsed(text, self.language)

        if self.top_n_grams:  # datatrove: " ".join of each n-gram
            spaced = current.hashed(" ")
            for n, n_frac in self.top_n_grams:
                top_char_length = gk.top_ngram_chars(*spaced, n)
                if top_char_length < 0:  # no n-gram of this size
                    continue
                if top_char_length / len(text) > n_frac:
                    return False, f"top_{n}_gram"

        if self.dup_n_grams:  # datatrove: "".join of each n-gram
            joined = current.hashed("")
            for n, n_frac in self.dup_n_grams:
                n_duplicates_char = gk.duplicated_ngram_chars(*joined, n)
                if n_duplicates_char / len(text) > n_frac:
                    return False, f"duplicated_{n}_n_grams"

        return True
