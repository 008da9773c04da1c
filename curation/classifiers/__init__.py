"""fastText quality and domain classifiers, difficulty tiers, and the datatrove steps that apply them.

Train: :func:`train_fasttext_classifier` (-> :class:`ClassifierReport`), :func:`iterative_recall`.
Apply (datatrove steps): :class:`QualityScorer` (``quality_score``, keep by threshold or top
percentile per source), :class:`DomainTagger` (``domain``, ``domain_confidence``),
:class:`DifficultyTierer` (``difficulty_score``, ``difficulty_tier``), :class:`QualityCutFilter`
(``min_quality`` per scope). In a curation run, ``steps.build_tag_steps`` composes them from
``classifiers:``, with the scoped cuts of ``cuts.py``.
"""

from curation.classifiers.cuts import QualityCutFilter, QualityCuts
from curation.classifiers.difficulty import (
    DifficultyConfig,
    DifficultyTierer,
    count_reasoning_steps,
    difficulty_score,
    difficulty_signals,
)
from curation.classifiers.domain import DEFAULT_DOMAINS, DomainTagger
from curation.classifiers.quality import (
    QualityScorer,
    compute_source_thresholds,
    score_texts,
    thresholds_from_scores,
)
from curation.classifiers.recall import RecallReport, RecallRound, iterative_recall
from curation.classifiers.text import normalize_for_fasttext, read_texts
from curation.classifiers.train import (
    ClassifierReport,
    FastTextConfig,
    load_report,
    train_fasttext_classifier,
)

__all__ = [
    "DEFAULT_DOMAINS",
    "ClassifierReport",
    "DifficultyConfig",
    "DifficultyTierer",
    "DomainTagger",
    "FastTextConfig",
    "QualityCutFilter",
    "QualityCuts",
    "QualityScorer",
    "RecallReport",
    "RecallRound",
    "compute_source_thresholds",
    "count_reasoning_steps",
    "difficulty_score",
    "difficulty_signals",
    "iterative_recall",
    "load_report",
    "normalize_for_fasttext",
    "read_texts",
    "score_texts",
    "thresholds_from_scores",
    "train_fasttext_classifier",
]
