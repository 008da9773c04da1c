"""``TokenizerAgreement``: on a sample of documents, do the fast and spaCy tokenizers agree?

A pass-through step placed before the filters. For a deterministic sample of documents (by id
hash, ``sample_rate``), every enabled heuristic filter judges the document twice, once with
``FastWordTokenizer`` and once with datatrove's spaCy tokenizer, on copies (C4 edits text).
Counts go to ``<output_dir>/<rank>.json`` and into ``reports/summary.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import get_filter_result


class TokenizerAgreement(PipelineStep):
    name = "⚖ Tokenizer agreement"
    type = "📊 - STATS"

    def __init__(
        self,
        filter_options: dict[str, dict],
        output_dir: str,
        sample_rate: float = 0.01,
        language: str = "en",
    ):
        super().__init__()
        self.filter_options = filter_options  # filter name -> keyword options
        self.output_dir = output_dir
        self.sample_rate = sample_rate
        self.language = language

    def _pairs(self):
        from curation.filters.heuristics import FILTER_CLASSES, unscoped
        from curation.filters.word_tokenizer import FastWordTokenizer

        base = {n: unscoped(cls) for n, cls in FILTER_CLASSES.items()}
        return {
            n: (
                base[n](language=FastWordTokenizer(self.language), **kw),
                base[n](language=self.language, **kw),
            )
            for n, kw in self.filter_options.items()
        }

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        pairs = None
        counts = {n: {"docs": 0, "agree": 0, "fast_kept": 0, "spacy_kept": 0} for n in self.filter_options}
        cutoff = int(self.sample_rate * 2**64)
        for doc in data:
            if xxhash.xxh64_intdigest(doc.id) < cutoff:
                with self.track_time():
                    pairs = pairs or self._pairs()
                    for n, (fast, spacy) in pairs.items():
                        a = get_filter_result(fast.filter(Document(text=doc.text, id=doc.id)))[0]
                        b = get_filter_result(spacy.filter(Document(text=doc.text, id=doc.id)))[0]
                        c = counts[n]
                        c["docs"] += 1
                        c["agree"] += bool(a) == bool(b)
                        c["fast_kept"] += bool(a)
                        c["spacy_kept"] += bool(b)
                self.stat_update("sampled")
            yield doc
        os.makedirs(self.output_dir, exist_ok=True)
        (Path(self.output_dir) / f"{rank:05d}.json").write_text(json.dumps(counts))


def merge_agreement(folder: Path) -> dict:
    total: dict[str, dict] = {}
    for f in sorted(Path(folder).glob("*.json")):
        for n, c in json.loads(f.read_text()).items():
            t = total.setdefault(n, {"docs": 0, "agree": 0, "fast_kept": 0, "spacy_kept": 0})
            for k, v in c.items():
                t[k] += v
    for t in total.values():
        t["agreement"] = t["agree"] / t["docs"] if t["docs"] else None
    return total
