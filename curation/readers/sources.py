"""``SourcesReader``: the first step of the filter stage; reads every source into Documents.

All sources are read by one step so one executor covers them: units (files or dataset shards)
are dealt to tasks round-robin. Bad input never stops the run: malformed JSON, non-UTF-8 bytes,
a missing text key, an empty or whitespace-only document and a document over
``max_doc_bytes`` are counted (stats ``rejected_<reason>``) and written to
``rejects/<rank>.jsonl`` with their file and line. Output file names depend on the rank only,
so a re-run of a killed task overwrites its partial output instead of duplicating it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curation.config import SourceConfig
from curation.readers.discover import list_units
from curation.readers.records import iter_records


class SourcesReader(PipelineStep):
    """Read ``sources`` (list of SourceConfig) into Documents with ``source``/``domain`` metadata."""

    name = "📖 Sources"
    type = "📖 - READER"

    def __init__(self, sources: list[SourceConfig], rejects_dir: str, max_doc_bytes: int = 1_000_000):
        super().__init__()
        self.sources = sources
        self.rejects_dir = rejects_dir
        self.max_doc_bytes = max_doc_bytes

    def _units(self, rank: int, world_size: int):
        units = [(source, unit) for source in self.sources for unit in list_units(source, world_size)]
        return units[rank::world_size]

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        os.makedirs(self.rejects_dir, exist_ok=True)
        reject_path = Path(self.rejects_dir) / f"{rank:05d}.jsonl"
        with open(reject_path, "w") as rejects:  # "w": a re-run replaces a killed run's log
            for source, unit in self._units(rank, world_size):
                self.stat_update("input_units")
                for doc, reason, line, raw in self._read_unit(source, unit):
                    if doc is not None:
                        self.stat_update("documents", f"read/{source.name}")
                        yield doc
                        continue
                    self.stat_update("rejected", f"rejected_{reason}", f"rejected/{source.name}")
                    rejects.write(
                        json.dumps(
                            {
                                "source": source.name,
                                "file": unit.path,
                                "line": line,
                                "reason": reason,
                                "excerpt": raw,
                            }
                        )
                        + "\n"
                    )

    def _read_unit(self, source: SourceConfig, unit):
        for record in iter_records(unit, text_key=source.text_key, id_key=source.id_key, split=source.split):
            with self.track_time():
                if record.error is not None:
                    yield None, record.error, record.line, record.raw.decode("utf-8", "replace")
                    continue
                text = record.data.get(source.text_key)
                if text is None:
                    yield None, "missing_text_key", record.line, str(sorted(record.data))[:200]
                    continue
                if not isinstance(text, str):
                    yield None, "text_not_a_string", record.line, repr(text)[:200]
                    continue
                if not text.strip():
                    yield None, "empty", record.line, text[:200]
                    continue
                if len(text) > self.max_doc_bytes // 4 and len(text.encode("utf-8")) > self.max_doc_bytes:
                    yield None, "too_large", record.line, text[:200]
                    continue
                doc_id = record.data.get(source.id_key or "id")
                if doc_id is None:
                    doc_id = f"{source.name}/{Path(unit.path).name}/{record.line}"
                metadata = {"source": source.name}
                if source.domain:
                    metadata["domain"] = source.domain
            yield Document(text=text, id=str(doc_id), metadata=metadata), None, record.line, ""
