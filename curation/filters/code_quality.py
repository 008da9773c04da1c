"""``CodeQuality``: drop files that are not code a person wrote (minified, generated, data blobs).

Prose heuristics (Gopher, C4, FineWeb) judge code by the rules of web text and drop most of it
(the real Flask repository: 100 % of files by Gopher's quality rules, 97 % by FineWeb's). The checks here
are the ones The Stack / StarCoder applied to source files, which clean code passes:

- ``max_line_length``: a line longer than this many characters (minified or generated code);
- ``max_avg_line_length``: mean line length above this (data tables, one-line bundles);
- ``min_alnum_fraction``: share of alphanumeric characters below this (binary-ish or encoded data).

Each is disabled with ``None``. The text is never changed.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from curation.stats.batched import BatchedStats


class CodeQualityFilter(BatchedStats, BaseFilter):
    name = "🧑‍💻 Code Quality"

    def __init__(
        self,
        max_line_length: int | None = 1000,
        max_avg_line_length: float | None = 100,
        min_alnum_fraction: float | None = 0.25,
        exclusion_writer: DiskWriter = None,
        language: object = None,  # accepted for a uniform signature with the prose filters; unused
    ):
        super().__init__(exclusion_writer)
        self.max_line_length = max_line_length
        self.max_avg_line_length = max_avg_line_length
        self.min_alnum_fraction = min_alnum_fraction

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        lines = text.splitlines() or [text]
        lengths = [len(line) for line in lines]
        if self.max_line_length is not None and max(lengths) > self.max_line_length:
            return False, "code_line_too_long"
        if self.max_avg_line_length is not None and sum(lengths) / len(lengths) > self.max_avg_line_length:
            return False, "code_avg_line_too_long"
        if self.min_alnum_fraction is not None:
            alnum = sum(ch.isalnum() for ch in text)
            if alnum / max(1, len(text)) < self.min_alnum_fraction:
                return False, "code_low_alnum_fraction"
        return True
