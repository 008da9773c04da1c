"""The classifier steps of a curation run's filter stage, built from ``config.classifiers``.

Order: ``DomainTagger`` first (a per-domain quality cut needs the domain), then ``QualityScorer``
(annotates ``quality_score``), then ``QualityCutFilter`` (the scoped ``min_quality``), then
``DifficultyTierer`` (which may weigh the quality score). The scoped ``top_percentile`` is decided
later, in the dedup cluster stage (``cuts.py``), from :func:`top_percentile_resolver`.
"""

from __future__ import annotations

from curation.classifiers.cuts import QualityCutFilter, QualityCuts
from curation.classifiers.difficulty import DifficultyTierer
from curation.classifiers.domain import DEFAULT_DOMAINS, DomainTagger
from curation.classifiers.quality import QualityScorer


def build_tag_steps(config) -> list:
    """Domain tagger, quality scorer and cut, difficulty tierer for a ``CurationConfig``."""
    hints = {s.domain for s in config.sources if s.domain}
    cls = config.classifiers
    if cls.domain_model:
        tagger = DomainTagger(cls.domain_model, min_confidence=cls.min_domain_confidence)
        known = sorted(set(tagger.labels) | hints)
        for key in cls.per_domain:
            if key not in known:
                raise ValueError(
                    f"classifiers.per_domain.{key}: unknown domain; the domain model's labels and the "
                    f"sources' domain hints are {known}"
                )
    else:
        tagger = DomainTagger(None, labels=sorted(set(DEFAULT_DOMAINS) | hints))
    steps = [tagger]
    if cls.quality_model:
        cuts = QualityCuts.from_config(cls)
        cuts.warn_exempt(config.sources, tagger.labels if cls.domain_model else ())
        steps.append(QualityScorer(cls.quality_model))
        if cuts.uses("min_quality"):
            steps.append(QualityCutFilter(cuts))
    steps.append(DifficultyTierer())
    return steps


def top_percentile_resolver(config):
    """``(source, domain) -> top_percentile | None`` for ``DedupSignature``; None when no scope uses one."""
    cls = config.classifiers
    if not cls.quality_model:
        return None
    cuts = QualityCuts.from_config(cls)
    return cuts.top_percentile_of if cuts.uses("top_percentile") else None
