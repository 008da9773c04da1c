"""``midtrain curate CONFIG --preview N``: what each step would drop, in seconds, before a real run.

The first ``N`` documents of every source (as the configured reader yields them: split text
files, templates and all) go through the same pipeline as a real run (decontamination, the
source's filter profile, classifiers, exact dedup within the sample) in a temporary folder. The
result is the per-source funnel, the guard's warnings and one removed example per reason. MinHash
is left out (near-duplicates need the whole corpus); the held-out slice is chosen from the sample.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from curation.config import CurationConfig


@dataclass
class PreviewResult:
    funnel: dict
    warnings: list[dict]
    examples: list[dict]
    rejected: dict[str, int] = field(default_factory=dict)  # per source, unreadable records in the sample

    def table(self) -> str:
        from curation.funnel import examples_text, funnel_table
        from curation.guard import format_warnings

        lines = [funnel_table(self.funnel)]
        for source, n in self.rejected.items():
            if n:
                lines.append(
                    f"{source}: {n} unreadable record(s) among the first read (see a full run's rejects/)"
                )
        lines.append(examples_text(self.examples))
        if self.warnings:
            lines += ["", format_warnings(self.warnings)]
        return "\n".join(lines) + "\n"


def sample_sources(config: CurationConfig, num_docs: int, folder: Path) -> tuple[list[dict], dict[str, int]]:
    """Write the first ``num_docs`` documents of each source to ``folder/<source>.jsonl``."""
    from curation.readers import SourcesReader

    sources, rejected = [], {}
    folder.mkdir(parents=True, exist_ok=True)
    for source in config.sources:
        reader = SourcesReader([source], str(folder / "rejects" / source.name), config.max_doc_bytes)
        path = folder / f"{source.name}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for doc in itertools.islice(reader.run(), num_docs):
                f.write(json.dumps({"id": doc.id, "text": doc.text}) + "\n")
        rejected[source.name] = int(reader.stats["rejected"].total)
        sources.append(
            {
                "name": source.name,
                "path": str(path),
                "domain": source.domain,
                "kind": source.kind,
                "filters": source.filters,
                "format": "jsonl",
                "id_key": "id",
            }
        )
    return sources, rejected


def preview(config: CurationConfig, num_docs: int = 200) -> PreviewResult:
    """Run the pipeline on the first ``num_docs`` documents per source (see the module docstring)."""
    from curation.guard import removed_examples
    from curation.pipeline import run_curation

    if num_docs < 1:
        raise ValueError(f"--preview: the number of documents per source must be >= 1, got {num_docs}")
    with tempfile.TemporaryDirectory(prefix="midtrain-preview-") as tmp:
        tmp = Path(tmp)
        sources, rejected = sample_sources(config, num_docs, tmp / "sample")
        data = config.model_dump(mode="json")
        data.update(sources=sources, executor={"kind": "local", "tasks": 1, "workers": 1})
        data["dedup"] = {**data["dedup"], "minhash": False}
        data["guard"] = {**data["guard"], "strict": False}
        sample_config = CurationConfig.model_validate(data)
        from loguru import logger

        logger.disable("datatrove")  # a preview prints its table, not datatrove's per-task logs
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the guard's warnings are returned, not printed twice
                result = run_curation(sample_config, tmp / "out")
        finally:
            logger.enable("datatrove")
        return PreviewResult(
            result.funnel, result.warnings, removed_examples(tmp / "out" / "removed"), rejected
        )
