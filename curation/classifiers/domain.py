"""DomainTagger: write ``domain`` and ``domain_confidence`` to every document.

With a fastText domain model the domain is the most probable label (confidence = its
probability) unless that probability is below ``min_confidence``, in which case the document
falls back to its source's hint (``metadata['domain']``) when it has one, else to
``default_domain`` (confidence = the model's probability for the fallback label, 0 if the model
lacks that label). Without a model the source's hint (``metadata['domain']``, usually set from
the source config) is trusted with confidence 1.0; documents with no known hint get
``default_domain`` with confidence 0.0 ("no evidence"). The model is loaded with ``fasttext``
directly, for the reasons in ``model.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.batching import batched

from curation.classifiers.model import load_fasttext, model_labels, predict_proba
from curation.classifiers.text import normalize_for_fasttext
from curation.stats.batched import BatchedStats

DEFAULT_DOMAINS = ("math", "code", "reasoning", "general")


class DomainTagger(BatchedStats, PipelineStep):
    """Tag documents with a domain label and a confidence in [0, 1].

    Args:
        model_path: fastText domain model (None: use the ``domain`` metadata hint).
        labels: allowed domain labels; with a model, they must equal the model's labels
            (None: take them from the model, or ``DEFAULT_DOMAINS`` without one).
        default_domain: label for documents the model is unsure about / with no hint.
        min_confidence: below this top probability the document keeps its source's domain hint
            (``default_domain`` when it has none).
        save_scores: also write ``domain_scores`` ({label: probability}).
    """

    name = "🏷 Domain tagger"
    type = "🏷 - TAGGER"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        labels: Sequence[str] | None = None,
        default_domain: str = "general",
        min_confidence: float = 0.5,
        save_scores: bool = False,
        max_tokens: int = 1024,
        batch_size: int = 256,
    ):
        super().__init__()
        if not 0 <= min_confidence <= 1:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        if model_path is not None:
            model_labels_ = model_labels(load_fasttext(model_path))
            if labels is not None and set(labels) != set(model_labels_):
                raise ValueError(
                    f"{model_path}: model labels {sorted(model_labels_)} differ from labels={sorted(labels)}"
                )
            labels = model_labels_
        labels = list(labels) if labels is not None else list(DEFAULT_DOMAINS)
        if model_path is None and default_domain not in labels:
            raise ValueError(f"default_domain {default_domain!r} is not one of the labels {labels}")
        self.model_path = str(model_path) if model_path is not None else None
        self.labels = labels
        self.default_domain = default_domain
        self.min_confidence = min_confidence
        self.save_scores = save_scores
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    def _tag_from_hint(self, doc: Document) -> None:
        hint = doc.metadata.get("domain")
        if hint in self.labels:
            doc.metadata["domain_confidence"] = 1.0
            self.stat_update("from_hint")
        else:
            doc.metadata["domain"] = self.default_domain
            doc.metadata["domain_confidence"] = 0.0
            self.stat_update("no_hint" if hint is None else "unknown_hint")

    def _tag_batch(self, batch: list[Document]) -> None:
        model = load_fasttext(self.model_path)
        texts = [normalize_for_fasttext(d.text, max_tokens=self.max_tokens) for d in batch]
        probs = predict_proba(model, texts, self.labels)
        for doc, row in zip(batch, probs, strict=True):
            best = int(row.argmax())
            if row[best] >= self.min_confidence:
                domain, confidence = self.labels[best], float(row[best])
            else:
                hint = doc.metadata.get("domain")
                domain = hint if hint else self.default_domain
                col = self.labels.index(domain) if domain in self.labels else None
                confidence = float(row[col]) if col is not None else 0.0
                self.stat_update(
                    "below_min_confidence_to_hint" if hint else "below_min_confidence_to_default"
                )
            doc.metadata["domain"] = domain
            doc.metadata["domain_confidence"] = confidence
            if self.save_scores:
                doc.metadata["domain_scores"] = {
                    lab: float(p) for lab, p in zip(self.labels, row, strict=True)
                }

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        for batch in batched(data, self.batch_size):
            with self.track_time("batch"):
                if self.model_path is None:
                    for doc in batch:
                        self._tag_from_hint(doc)
                else:
                    self._tag_batch(batch)
            for doc in batch:
                self.stat_update(f"domain_{doc.metadata['domain']}")
                self.stat_update("total")
                self.update_doc_stats(doc)
                yield doc
