"""Heuristic quality filters (datatrove's Gopher, C4, FineWeb) and the fast word tokenizer."""

from curation.filters.heuristics import (
    C4Quality,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
    build_heuristic_filters,
)
from curation.filters.word_tokenizer import FastWordTokenizer, make_word_tokenizer

__all__ = [
    "C4Quality",
    "FastWordTokenizer",
    "FineWebQuality",
    "GopherQuality",
    "GopherRepetition",
    "build_heuristic_filters",
    "make_word_tokenizer",
]
