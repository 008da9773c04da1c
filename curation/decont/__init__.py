"""Decontamination: n-gram index of eval sets, and a filter that drops or flags matching docs."""

from curation.decont.filter import NGramDecontFilter
from curation.decont.index import DecontIndexer, load_eval_items, preflight_eval_set
from curation.decont.ngrams import ngram_hashes

__all__ = ["DecontIndexer", "NGramDecontFilter", "load_eval_items", "ngram_hashes", "preflight_eval_set"]
