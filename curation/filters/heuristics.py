"""datatrove's heuristic filters, scoped per source and counted per source.

Each class here is the stock datatrove filter plus ``_Scoped``: the filter only judges documents
of the sources it is enabled for (others pass untouched, counted as ``skipped``), and every drop
is also counted as ``dropped/<source>`` so the funnel can be split by source. Thresholds are the
stock keyword arguments, overridable from ``FiltersConfig``.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.pipeline.filters.base_filter import get_filter_result

from curation.config import CurationConfig


class _Scoped:
    """Mixin: judge only docs of ``sources`` (None: all) whose domain hint is in ``domains`` (None:
    all) and not in ``skip_domains``; others pass untouched and are counted as ``skipped``."""

    sources: set[str] | None = None
    domains: set[str] | None = None
    skip_domains: frozenset[str] = frozenset()

    def _scope(self, sources: set[str] | None, domains: set[str] | None, skip_domains: set[str]) -> None:
        self.sources, self.domains, self.skip_domains = sources, domains, frozenset(skip_domains)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        source = doc.metadata.get("source")
        domain = doc.metadata.get("domain")
        if (
            (self.sources is not None and source not in self.sources)
            or (self.domains is not None and domain not in self.domains)
            or domain in self.skip_domains
        ):
            self.stat_update("skipped")
            return True
        result = super().filter(doc)
        keep, _ = get_filter_result(result)
        if not keep:
            self.stat_update(f"dropped/{source}")
        return result


class GopherQuality(_Scoped, GopherQualityFilter):
    name = "🥇 Gopher Quality"


class GopherRepetition(_Scoped, GopherRepetitionFilter):
    name = "👯 Gopher Repetition"


class C4Quality(_Scoped, C4QualityFilter):
    name = "⛰ C4 Quality"


class FineWebQuality(_Scoped, FineWebQualityFilter):
    name = "🍷 FineWeb Quality"


FILTER_CLASSES = {
    "gopher_quality": GopherQuality,
    "gopher_repetition": GopherRepetition,
    "c4": C4Quality,
    "fineweb": FineWebQuality,
}


def build_heuristic_filters(config: CurationConfig, language) -> list:
    """Filters in ``config.filters.enabled`` order, scoped to the sources that use them.

    A domain with overrides gets its own instance of the filter (same step name, so the funnel
    sums them); the default instance skips that domain.
    """
    fc = config.filters
    names = list(fc.enabled)
    for source in config.sources:  # a source may name filters the global list leaves out
        names += [n for n in source.filters or [] if n not in names]
    all_sources = {s.name for s in config.sources}
    steps = []
    for name in names:
        users = {
            s.name for s in config.sources if name in (s.filters if s.filters is not None else fc.enabled)
        }
        if not users:
            continue
        scope_sources = None if users == all_sources else users
        special = {
            d: o[name] for d, o in fc.domain_overrides.items() if name in o and d not in fc.skip_domains
        }
        variants = [(None, {}, set(fc.skip_domains) | set(special))]
        variants += [({d}, overrides, set()) for d, overrides in special.items()]
        for domains, overrides, skip in variants:
            kwargs = {**getattr(fc, name), **overrides}
            try:
                step = FILTER_CLASSES[name](language=language, **kwargs)
            except TypeError as error:
                raise ValueError(f"filters.{name}: bad option ({error})") from error
            step._scope(scope_sources, domains, skip)
            steps.append(step)
    return steps
