"""QualityScorer: write a fastText quality score to every document, keep by threshold or top-percentile per source.

Why not datatrove's ``FastTextClassifierFilter``: it caches models by path string (a retrained
model at the same path is silently ignored), crashes in annotate-only mode (no keep/remove
labels), and writes one metadata key per label instead of a single ``quality_score``. This step
loads the model with ``fasttext`` directly (``model.py``) and writes exactly one key.

Top-percentile per source needs every score of a source before the first keep/drop decision.
Two correct ways are supported:

1. ``source_thresholds`` (a dict or a JSON file ``{source: min_score}``), computed beforehand
   with :func:`compute_source_thresholds` over the same documents (pass 1). Works with any
   number of tasks and workers, because the decision per document is then local.
2. Without them, the step buffers its task's documents, computes thresholds from them, then
   decides (two passes in memory). That is exact only if each source lies in a single task, so
   it refuses ``world_size > 1``.

A source's threshold is the score of its ``ceil(n * p / 100)``-th best document; documents
scoring at least that are kept (ties at the threshold are all kept).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from curation.classifiers.model import load_fasttext, model_labels, predict_proba
from curation.classifiers.text import normalize_for_fasttext
from curation.stats.batched import BatchedStats

SCORE_KEY = "quality_score"
SOURCE_KEY = "source"


def _check_percentile(top_percentile: float | None) -> None:
    if top_percentile is not None and not 0 < top_percentile <= 100:
        raise ValueError(f"top_percentile must be in (0, 100], got {top_percentile}")


def thresholds_from_scores(
    scores_by_source: Mapping[str, Sequence[float]], top_percentile: float
) -> dict[str, float]:
    """Per source, the minimum score a document needs to be in the top ``top_percentile`` %."""
    _check_percentile(top_percentile)
    thresholds: dict[str, float] = {}
    for source, scores in scores_by_source.items():
        if not scores:
            continue
        ranked = sorted(scores, reverse=True)
        keep = max(1, math.ceil(len(ranked) * top_percentile / 100))
        thresholds[source] = float(ranked[keep - 1])
    return thresholds


def score_texts(
    model_path: str | Path,
    texts: Sequence[str],
    *,
    positive_label: str = "positive",
    max_tokens: int = 1024,
) -> list[float]:
    """Quality scores in [0, 1] (probability of ``positive_label``) for raw texts."""
    model = load_fasttext(model_path)
    labels = model_labels(model)
    if positive_label not in labels:
        raise ValueError(f"{model_path}: label {positive_label!r} not in the model's labels {labels}")
    norm = [normalize_for_fasttext(t, max_tokens=max_tokens) for t in texts]
    return predict_proba(model, norm, [positive_label])[:, 0].tolist()


def compute_source_thresholds(
    model_path: str | Path,
    docs: Iterable[Document],
    top_percentile: float,
    *,
    positive_label: str = "positive",
    out_path: str | Path | None = None,
    batch_size: int = 512,
) -> dict[str, float]:
    """Pass 1 of top-percentile filtering: score ``docs`` and return ``{source: min_score}``.

    ``docs`` is any iterable of datatrove Documents, e.g. ``JsonlReader(folder)()``. With
    ``out_path`` the thresholds are also written as JSON for ``QualityScorer(source_thresholds=...)``.
    """
    _check_percentile(top_percentile)
    scores: dict[str, list[float]] = defaultdict(list)
    batch: list[Document] = []

    def flush() -> None:
        values = score_texts(model_path, [d.text for d in batch], positive_label=positive_label)
        for doc, value in zip(batch, values, strict=True):
            scores[str(doc.metadata.get(SOURCE_KEY, ""))].append(value)
        batch.clear()

    for doc in docs:
        batch.append(doc)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    thresholds = thresholds_from_scores(scores, top_percentile)
    if out_path is not None:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        Path(out_path).write_text(json.dumps(thresholds, indent=2, sort_keys=True) + "\n")
    return thresholds


class QualityScorer(BatchedStats, BaseFilter):
    """Annotate ``metadata['quality_score']`` (P(positive) in [0, 1]); optionally drop low scores.

    Args:
        model_path: a fastText model trained by ``train_fasttext_classifier``.
        threshold: keep documents with score >= threshold (None: no absolute cut).
        top_percentile: keep the best ``p`` % of each source (metadata ``source``), 0 < p <= 100.
        source_thresholds: precomputed ``{source: min_score}`` (dict or JSON path) for
            ``top_percentile`` (see the module docstring); a source missing from it is an error.
        positive_label: the model label whose probability is the score.
        With neither threshold nor top_percentile the step only annotates; with both, a document
        must pass both. Dropped documents carry the reason ``low_quality``.
    """

    name = "⭐ Quality scorer"
    _requires_dependencies = [("fasttext", "fasttext-numpy2-wheel")]

    def __init__(
        self,
        model_path: str | Path,
        *,
        threshold: float | None = None,
        top_percentile: float | None = None,
        source_thresholds: Mapping[str, float] | str | Path | None = None,
        positive_label: str = "positive",
        max_tokens: int = 1024,
        batch_size: int = 256,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, batch_size=batch_size)
        if threshold is not None and not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        _check_percentile(top_percentile)
        if source_thresholds is not None and top_percentile is None:
            raise ValueError("source_thresholds only makes sense with top_percentile")
        if isinstance(source_thresholds, (str, Path)):
            path = Path(source_thresholds)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no per-source threshold JSON here")
            source_thresholds = {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
        if not Path(model_path).is_file():
            raise FileNotFoundError(f"{model_path}: no fastText quality model here")
        self.model_path = str(model_path)
        self.threshold = threshold
        self.top_percentile = top_percentile
        self.source_thresholds = dict(source_thresholds) if source_thresholds is not None else None
        self.positive_label = positive_label
        self.max_tokens = max_tokens
        self._task_thresholds: dict[str, float] | None = None
        self._prescored = False

    def _score(self, batch: list[Document]) -> None:
        values = score_texts(
            self.model_path,
            [d.text for d in batch],
            positive_label=self.positive_label,
            max_tokens=self.max_tokens,
        )
        for doc, value in zip(batch, values, strict=True):
            doc.metadata[SCORE_KEY] = value

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        if not self._prescored:  # BaseFilter.run already times this call
            self._score(batch)
        thresholds = self.source_thresholds if self.source_thresholds is not None else self._task_thresholds
        results: list[bool | tuple[bool, str]] = []
        for doc in batch:
            score = doc.metadata[SCORE_KEY]
            self.stat_update("quality_score_permille", value=round(score * 1000), unit="doc")
            keep = self.threshold is None or score >= self.threshold
            if keep and thresholds is not None:
                source = str(doc.metadata.get(SOURCE_KEY, ""))
                if source not in thresholds:
                    raise ValueError(
                        f"document {doc.id!r}: source {source!r} has no quality threshold; "
                        f"thresholds cover {sorted(thresholds)} (recompute them over all sources)"
                    )
                keep = score >= thresholds[source]
            results.append(True if keep else (False, "low_quality"))
        return results

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if self.top_percentile is None or self.source_thresholds is not None:
            yield from super().run(data, rank, world_size)
            return
        if world_size > 1:
            raise ValueError(
                f"QualityScorer(top_percentile={self.top_percentile}) without source_thresholds "
                f"ranks documents within one task, but this pipeline has {world_size} tasks: "
                "run compute_source_thresholds(...) first and pass source_thresholds="
            )
        # Pass 1 in memory: score everything, derive per-source thresholds; pass 2: decide.
        docs = list(data) if data is not None else []
        for start in range(0, len(docs), self.batch_size):
            self._score(docs[start : start + self.batch_size])
        scores: dict[str, list[float]] = defaultdict(list)
        for doc in docs:
            scores[str(doc.metadata.get(SOURCE_KEY, ""))].append(doc.metadata[SCORE_KEY])
        self._task_thresholds = thresholds_from_scores(scores, self.top_percentile)
        self._prescored = True
        try:
            yield from super().run(iter(docs), rank, world_size)
        finally:
            self._prescored = False
            self._task_thresholds = None
