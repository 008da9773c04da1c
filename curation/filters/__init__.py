"""Heuristic quality filters (datatrove's Gopher, C4, FineWeb; midtrain's code filter), their
per-kind profiles, and the fast word tokenizer."""

from curation.filters.heuristics import (
    C4Quality,
    CodeQuality,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
    build_heuristic_filters,
    make_filter,
)
from curation.filters.profiles import BUILTIN_PROFILES, KINDS, source_filters, source_kind
from curation.filters.word_tokenizer import FastWordTokenizer, make_word_tokenizer

__all__ = [
    "BUILTIN_PROFILES",
    "KINDS",
    "C4Quality",
    "CodeQuality",
    "FastWordTokenizer",
    "FineWebQuality",
    "GopherQuality",
    "GopherRepetition",
    "build_heuristic_filters",
    "make_filter",
    "make_word_tokenizer",
    "source_filters",
    "source_kind",
]
