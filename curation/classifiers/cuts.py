"""Quality cuts per scope: global, per domain, per source (``classifiers:`` in a curation config).

A document's cut is resolved from its source and its domain (the tagged ``metadata['domain']``):

1. ``per_source[source]``: each key it sets wins;
2. else ``per_domain[domain]``: each key it sets wins;
3. else the global ``min_quality`` / ``top_percentile``, except for ``exempt_domains`` (default
   ``[code]``: a quality model trained on prose scores real code near 0, so a global
   ``min_quality: 0.5`` dropped ~97 % of the Flask files). A warning says when a global cut is
   skipped for a source's domain this way.

``null`` in a scope switches that cut off there. ``min_quality`` is a per-document decision
(:class:`QualityCutFilter`, reason ``low_quality``). ``top_percentile`` needs every score of a
group first, so ``DedupSignature`` stores each document's percentile and ``PriorityCluster``
(the single task that sees every surviving document) keeps the best ``p`` % of each
(source, domain) group, reason ``below_top_percentile``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from curation.stats.batched import BatchedStats

CUT_KEYS = ("min_quality", "top_percentile")


@dataclass(frozen=True)
class QualityCuts:
    min_quality: float | None = None
    top_percentile: float | None = None
    exempt_domains: tuple[str, ...] = ("code",)
    per_domain: dict[str, dict[str, float | None]] = field(default_factory=dict)
    per_source: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config) -> QualityCuts:
        """From a ``ClassifiersConfig``; a scope keeps only the keys it sets (``null`` included)."""

        def explicit(scopes) -> dict[str, dict[str, float | None]]:
            return {
                name: {k: getattr(cut, k) for k in CUT_KEYS if k in cut.model_fields_set}
                for name, cut in scopes.items()
            }

        return cls(
            min_quality=config.min_quality,
            top_percentile=config.top_percentile,
            exempt_domains=tuple(config.exempt_domains),
            per_domain=explicit(config.per_domain),
            per_source=explicit(config.per_source),
        )

    def resolve(self, source: str | None, domain: str | None) -> dict[str, float | None]:
        """``{min_quality, top_percentile}`` for a document of ``source`` tagged ``domain``."""
        if domain in self.exempt_domains:
            cut = dict.fromkeys(CUT_KEYS)
        else:
            cut = {"min_quality": self.min_quality, "top_percentile": self.top_percentile}
        cut.update(self.per_domain.get(domain, {}))
        cut.update(self.per_source.get(source, {}))
        return cut

    def min_quality_of(self, source: str | None, domain: str | None) -> float | None:
        return self.resolve(source, domain)["min_quality"]

    def top_percentile_of(self, source: str | None, domain: str | None) -> float | None:
        return self.resolve(source, domain)["top_percentile"]

    def uses(self, key: str) -> bool:
        """Whether any scope sets a non-null ``key``."""
        scopes = [*self.per_domain.values(), *self.per_source.values()]
        return getattr(self, key) is not None or any(s.get(key) is not None for s in scopes)

    def warn_exempt(self, sources: Iterable, domain_labels: Iterable[str] = ()) -> list[str]:
        """Warn where a global cut is skipped because of ``exempt_domains``; returns the messages."""
        messages = []
        global_cuts = {k: getattr(self, k) for k in CUT_KEYS if getattr(self, k) is not None}
        if not global_cuts:
            return messages
        labels = set(domain_labels)
        for domain in self.exempt_domains:
            if any(k in self.per_domain.get(domain, {}) for k in global_cuts):
                continue  # the user chose this domain's cut
            names = [s.name for s in sources if s.domain == domain and s.name not in self.per_source]
            if not names and domain not in labels:
                continue
            where = f"source(s) {names}" if names else "documents the domain model tags"
            cuts = ", ".join(f"classifiers.{k}={v}" for k, v in global_cuts.items())
            messages.append(
                f"{cuts} is not applied to domain {domain!r} ({where}): it is in "
                f"classifiers.exempt_domains, because a quality model trained on prose scores {domain} "
                f"near 0; set classifiers.per_domain.{domain} to cut it"
            )
        for message in messages:
            warnings.warn(message, UserWarning, stacklevel=2)
        return messages


class QualityCutFilter(BatchedStats, BaseFilter):
    """Drop documents whose ``quality_score`` is below their scope's ``min_quality`` (reason ``low_quality``)."""

    name = "⭐ Quality cut"

    def __init__(self, cuts: QualityCuts):
        super().__init__()
        self.cuts = cuts

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        source, domain = doc.metadata.get("source"), doc.metadata.get("domain")
        threshold = self.cuts.min_quality_of(source, domain)
        score = doc.metadata.get("quality_score")
        assert score is not None, "QualityCutFilter runs after QualityScorer"
        if threshold is None or score >= threshold:
            return True
        self.stat_update(f"dropped/{source}")
        return False, "low_quality"
