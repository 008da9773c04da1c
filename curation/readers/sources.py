"""``SourcesReader``: the first step of the filter stage; reads every source into Documents.

All sources are read by one step so one executor covers them: units (files or dataset shards)
are dealt to tasks round-robin. Bad input never stops the run: malformed JSON, non-UTF-8 bytes,
a missing text key or template field, an instruction record that is not a usable conversation
(curation/readers/instruct.py), an empty or whitespace-only document, a document over
``max_doc_bytes``, a binary file and a truncated or corrupt compressed file are counted and
written to ``rejects/<rank>.jsonl`` with their file, line and (for whole-file problems) a detail
naming the fix. Stats per source: ``read/<source>`` and ``rejected/<source>`` (emitted even when
zero, so a source that ends with no documents shows up) and ``rejected/<source>/<reason>``;
overall: ``documents``, ``rejected``, ``rejected_<reason>``. Output file names depend on the rank
only, so a re-run of a killed task overwrites its partial output instead of duplicating it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

from curation.config import SourceConfig
from curation.readers.discover import list_units
from curation.readers.instruct import InstructionError, conversation_of, judged_text
from curation.readers.records import iter_records
from curation.readers.template import render, template_fields
from curation.stats.batched import BatchedStats

_FILE_REASONS = ("corrupt_file", "binary_file", "file_too_large")


class SourcesReader(BatchedStats, PipelineStep):
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
            units = self._units(rank, world_size)
            for source, unit in units:
                self.stat_update("input_units")
                self.stats[f"read/{source.name}"], self.stats[f"rejected/{source.name}"]  # noqa: B018 - exist at 0
                for doc, reason, line, raw, detail in self._read_unit(source, unit):
                    if doc is not None:
                        self.stat_update("documents", f"read/{source.name}")
                        yield doc
                        continue
                    self.stat_update(
                        "rejected",
                        f"rejected_{reason}",
                        f"rejected/{source.name}",
                        f"rejected/{source.name}/{reason}",
                    )
                    if reason in _FILE_REASONS:
                        logger.warning(f"source {source.name!r}: {reason}: {detail}")
                    row = {
                        "source": source.name,
                        "file": unit.path,
                        "line": line,
                        "reason": reason,
                        "excerpt": raw,
                    }
                    if detail:
                        row["detail"] = detail
                    rejects.write(json.dumps(row) + "\n")
        self._zero_counters({source.name for source, _ in units})

    def _zero_counters(self, names: set[str]) -> None:
        """``read/<source>`` and ``rejected/<source>`` exist even at 0: a source that ends empty shows."""
        for name in sorted(names):
            for label in (f"read/{name}", f"rejected/{name}"):
                counter = self.stats[label]
                if counter.n == 0:
                    counter.min = counter.max = 0  # shown as 0, not min=inf

    def _read_unit(self, source: SourceConfig, unit):
        fields = template_fields(source.text_template) if source.text_template else None
        records = iter_records(
            unit,
            text_key=source.text_key,
            id_key=source.id_key,
            split=source.split,
            columns=source.instruction.record_keys() if source.instruction else fields,
            split_by=source.split_by,
            split_pattern=source.split_pattern,
            max_bytes=self.max_doc_bytes,
        )
        for record in records:
            with self.track_time():
                if record.error is not None:
                    yield (
                        None,
                        record.error,
                        record.line,
                        record.raw.decode("utf-8", "replace"),
                        record.detail,
                    )
                    continue
                conversation = None
                if source.instruction is not None:
                    try:
                        conversation = conversation_of(record.data, source.instruction)
                    except InstructionError as error:
                        yield None, error.reason, record.line, str(error)[:200], ""
                        continue
                    text = judged_text(conversation)
                elif fields is not None:
                    text, missing = render(source.text_template, fields, record.data)
                    if missing is not None:
                        keys = str(sorted(record.data))[:160]
                        yield None, "missing_template_field", record.line, f"{missing!r} not in {keys}", ""
                        continue
                else:
                    text = record.data.get(source.text_key)
                if text is None:
                    yield None, "missing_text_key", record.line, str(sorted(record.data))[:200], ""
                    continue
                if not isinstance(text, str):
                    yield None, "text_not_a_string", record.line, repr(text)[:200], ""
                    continue
                if not text.strip():
                    yield None, "empty", record.line, text[:200], ""
                    continue
                if len(text) > self.max_doc_bytes // 4 and len(text.encode("utf-8")) > self.max_doc_bytes:
                    yield None, "too_large", record.line, text[:200], ""
                    continue
                doc_id = record.data.get(source.id_key or "id")
                if doc_id is None:
                    doc_id = f"{source.name}/{Path(unit.path).name}/{record.line}"
                metadata = {"source": source.name}
                if source.domain:
                    metadata["domain"] = source.domain
                if conversation is not None:
                    metadata["instruction"] = conversation  # as read: tokenization renders and masks it
            yield Document(text=text, id=str(doc_id), metadata=metadata), None, record.line, "", ""
