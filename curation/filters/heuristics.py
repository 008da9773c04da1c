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
    """Mixin: judge only docs of ``sources`` (None: all) and not of ``skip_domains`` hints."""

    def _scope(self, sources: set[str] | None, skip_domains: set[str]) -> None:
        self.sources = sources
        self.skip_domains = skip_domains

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        source = doc.metadata.get("source")
        if (self.sources is not None and source not in self.sources) or (
            doc.metadata.get("domain_hint") in self.skip_domains
        ):
            self.stat_update("skipped")
            return True
        result = super().filter(doc)
        keep, reason = get_filter_result(result)
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
    """One filter per name in ``config.filters.enabled``, scoped to the sources that use it."""
    steps = []
    names = list(config.filters.enabled)
    for source in config.sources:  # a source may name filters the global list leaves out
        names += [n for n in source.filters or [] if n not in names]
    for name in names:
        users = {s.name for s in config.sources if name in (s.filters if s.filters is not None
                                                             else config.filters.enabled)}
        if not users:
            continue
        kwargs = dict(getattr(config.filters, name))
        try:
            step = FILTER_CLASSES[name](language=language, **kwargs)
        except TypeError as error:
            raise ValueError(f"filters.{name}: bad option ({error})") from error
        all_sources = users == {s.name for s in config.sources}
        step._scope(None if all_sources else users, set(config.filters.skip_domains))
        steps.append(step)
    return steps
