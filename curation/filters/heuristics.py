"""datatrove's heuristic filters, scoped per source, counted per source, never editing unasked.

Each class here is the stock datatrove filter (or midtrain's ``CodeQualityFilter``) plus
``_Scoped``; the two Gopher rules run as ``curation.filters.gopher_fast``'s subclasses of
datatrove's, which give the same decision and reason on every document, faster:

- it judges only the documents of the sources it was built for (``curation.filters.profiles``
  decides which filters, with which options, judge each source); others pass untouched;
- every drop is counted as ``dropped/<source>`` and ``dropped/<source>/<reason>`` so the funnel
  and its guard work per source, and written with its reason to the exclusion writer
  (``removed/<source>/<filter>/``);
- it never changes the text it keeps unless built with ``allow_edits=True``: C4 judges a page by
  its line rules and the page is kept as it was. With ``allow_edits`` a rewrite is counted as
  ``modified/<source>`` with ``chars_removed/<source>``.
"""

from __future__ import annotations

import contextlib
import json

from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.pipeline.filters.base_filter import get_filter_result
from datatrove.utils.typeshelper import StatHints

from curation.filters.code_quality import CodeQualityFilter
from curation.filters.gopher_fast import FastGopherQualityFilter, FastGopherRepetitionFilter
from curation.stats.batched import BatchedStats


class _Scoped(BatchedStats):
    """Mixin: judge only docs of ``sources`` (None: all); count drops and edits per source."""

    sources: frozenset[str] | None = None
    allow_edits: bool = False

    def _scope(self, sources: set[str] | None, *, allow_edits: bool = False) -> None:
        self.sources = None if sources is None else frozenset(sources)
        self.allow_edits = allow_edits

    def run(self, data, rank: int = 0, world_size: int = 1):
        """datatrove's ``BaseFilter.run``, except that a document outside ``sources`` passes
        straight through: ``total``, ``forwarded`` and ``skipped`` count it in one update at the
        end instead of four per document (``doc_len`` then covers the judged documents only)."""
        if self.sources is None or self.batch_size != 1:
            yield from super().run(data, rank, world_size)
            return
        sources, passed = self.sources, 0
        writer = self.exclusion_writer
        try:
            with writer if writer else contextlib.nullcontext():
                for doc in data:
                    if doc.metadata.get("source") not in sources:
                        passed += 1
                        yield doc
                        continue
                    with self.track_time():
                        result = self.filter(doc)
                    self.stat_update(StatHints.total)
                    keep, reason = get_filter_result(result)
                    if keep:
                        self.stat_update(StatHints.forwarded)
                        self.update_doc_stats(doc)
                        yield doc
                    else:
                        self.stat_update(StatHints.dropped)
                        if reason:
                            self.stat_update(f"dropped_{reason}")
                        if writer:
                            if reason:
                                doc.metadata["filter_reason"] = reason
                            writer.write(doc, rank)
        finally:
            if passed:
                self.stat_update(StatHints.total, StatHints.forwarded, "skipped", value=passed)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        source = doc.metadata.get("source")
        if self.sources is not None and source not in self.sources:
            self.stat_update("skipped")
            return True
        before = doc.text
        result = super().filter(doc)
        keep, reason = get_filter_result(result)
        if not keep:
            doc.text = before  # the removed/ copy is the document as it came in
            self.stat_update(f"dropped/{source}")  # per reason: counted by the RemovedWriter
        elif doc.text != before:
            if self.allow_edits:
                self.stat_update(f"modified/{source}")
                self.stat_update(f"chars_removed/{source}", value=len(before) - len(doc.text))
            else:
                doc.text = before
        return result


def unscoped(cls: type) -> type:
    """The filter class under ``_Scoped`` (and its stats mixin): the one that judges alone."""
    return next(c for c in cls.__mro__[1:] if c not in (_Scoped, BatchedStats))


class GopherQuality(_Scoped, FastGopherQualityFilter):
    name = "🥇 Gopher Quality"


class GopherRepetition(_Scoped, FastGopherRepetitionFilter):
    name = "👯 Gopher Repetition"


class C4Quality(_Scoped, C4QualityFilter):
    name = "⛰ C4 Quality"


class FineWebQuality(_Scoped, FineWebQualityFilter):
    name = "🍷 FineWeb Quality"


class CodeQuality(_Scoped, CodeQualityFilter):
    name = "🧑‍💻 Code Quality"


FILTER_CLASSES = {
    "gopher_quality": GopherQuality,
    "gopher_repetition": GopherRepetition,
    "c4": C4Quality,
    "fineweb": FineWebQuality,
    "code_quality": CodeQuality,
}
BASE_CLASSES = {
    "gopher_quality": GopherQualityFilter,
    "gopher_repetition": GopherRepetitionFilter,
    "c4": C4QualityFilter,
    "fineweb": FineWebQualityFilter,
    "code_quality": CodeQualityFilter,
}


def make_filter(name: str, options: dict, language, exclusion_writer=None):
    """One scoped filter from merged options (``allow_edits`` is midtrain's, the rest datatrove's)."""
    kwargs = dict(options)
    allow_edits = bool(kwargs.pop("allow_edits", False))
    if "top_n_grams" in kwargs:
        kwargs["top_n_grams"] = tuple(tuple(x) for x in kwargs["top_n_grams"])
    if "dup_n_grams" in kwargs:
        kwargs["dup_n_grams"] = tuple(tuple(x) for x in kwargs["dup_n_grams"])
    try:
        step = FILTER_CLASSES[name](language=language, exclusion_writer=exclusion_writer, **kwargs)
    except TypeError as error:  # a value of the wrong type (names were checked in the config)
        raise ValueError(f"filters.{name}: bad option ({error})") from error
    step._scope(None, allow_edits=allow_edits)
    return step


def build_heuristic_filters(config, language, removed_dir: str | None = None) -> list:
    """The filter steps of a run: per filter, one instance per distinct set of options.

    Each instance judges only the sources whose profile gives it those options (see
    ``curation.filters.profiles.source_filters``). With ``removed_dir`` every instance writes what
    it drops to ``removed_dir/<source>/<filter>/<rank>_<k>.jsonl.gz`` (the reason in
    ``metadata.filter_reason``).
    """
    from curation.filters.profiles import FILTER_ORDER, source_filters

    plan = source_filters(config)
    steps = []
    for name in FILTER_ORDER:
        groups: dict[str, tuple[dict, set[str]]] = {}
        for source, filters in plan.items():
            for fname, options in filters:
                if fname == name:
                    key = json.dumps(options, sort_keys=True, default=str)
                    groups.setdefault(key, (options, set()))[1].add(source)
        for k, (options, sources) in enumerate(groups.values()):
            writer = None
            if removed_dir is not None:
                from curation.funnel import RemovedWriter

                writer = RemovedWriter(removed_dir, f"${{source}}/{name}/${{rank}}_{k}.jsonl.gz")
            step = make_filter(name, options, language, writer)
            if writer is not None:
                writer.owner = step
            step._scope(None if len(plan) == len(sources) else sources, allow_edits=step.allow_edits)
            steps.append(step)
    return steps
