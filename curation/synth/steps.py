"""The datatrove pieces of synthesis: the rollout, the step that turns rollouts into documents.

``SynthRollout`` is the rollout function given to datatrove's ``InferenceRunner``: one request per
parent document, and a verdict (``reject``: empty, too_short, truncated) stored with the result
so that every rejected generation is counted with its reason instead of vanishing.
``SyntheticDocs`` reads the runner's output and yields the new documents: text = the generation
(for ``solve``: the problem, then the solution), metadata ``synthetic: true``, ``generator``,
``prompt_id``, ``parent_id``, ``parent_source``, ``task``, ``style`` and the parent's domain and
difficulty tier. Rejects go to ``removed/<output source>/synthesis/`` with their reason.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers import JsonlWriter

from curation.synth.prompts import render

RESULTS_KEY = "rollout_results"


class SynthRollout:
    """Rollout of one job: render the prompt, generate once, judge the answer."""

    def __init__(
        self,
        *,
        output_source: str,
        template: str,
        style: str | None,
        chat: bool,
        max_input_chars: int,
        min_output_chars: int,
        keep_truncated: bool,
    ):
        self.output_source = output_source
        self.template = template
        self.style = style
        self.chat = chat
        self.max_input_chars = max_input_chars
        self.min_output_chars = min_output_chars
        self.keep_truncated = keep_truncated

    def prompt(self, doc: Document) -> str:
        md = doc.metadata
        return render(
            self.template,
            text=doc.text,
            max_chars=self.max_input_chars,
            source=md.get("source", ""),
            domain=md.get("domain", "general"),
            id=doc.id,
            style=self.style or "",
        )

    def verdict(self, text: str, finish_reason: str) -> str | None:
        if not text.strip():
            return "empty"
        if finish_reason == "length" and not self.keep_truncated:
            return "truncated"
        if len(text.strip()) < self.min_output_chars:
            return "too_short"
        return None

    async def __call__(self, doc: Document, generate) -> dict:
        prompt = self.prompt(doc)
        payload = {"messages": [{"role": "user", "content": prompt}]} if self.chat else {"prompt": prompt}
        result = await generate(payload)
        return {
            "job": self.output_source,
            "text": result.text,
            "finish_reason": result.finish_reason,
            "usage": result.usage,
            "reject": self.verdict(result.text, result.finish_reason),
        }


class SyntheticDocs(PipelineStep):
    """Runner output (parents with ``rollout_results``) -> synthetic documents; rejects counted."""

    name = "🧪 Synthetic docs"
    type = "🔻 - FILTER"

    def __init__(self, jobs: dict[str, dict], removed_dir: str, summary_dir: str):
        """``jobs``: output source -> {generator, prompt_id, task, style, domain, parent_source, backend}."""
        super().__init__()
        self.jobs = jobs
        self.removed_dir = removed_dir
        self.summary_dir = summary_dir

    def child(self, parent: Document, result: dict) -> Document:
        job = self.jobs[result["job"]]
        text = result["text"].strip()
        if job["task"] == "solve":
            text = f"{parent.text.strip()}\n\nSolution:\n{text}"
        md = parent.metadata
        metadata = {
            "source": result["job"],
            "domain": job["domain"] or md.get("domain", "general"),
            "domain_confidence": md.get("domain_confidence", 0.0),
            "synthetic": True,
            "generator": job["generator"],
            "backend": job["backend"],
            "prompt_id": job["prompt_id"],
            "task": job["task"],
            "parent_id": parent.id,
            "parent_source": md.get("source", job["parent_source"]),
            "finish_reason": result["finish_reason"],
        }
        if job["style"]:
            metadata["style"] = job["style"]
        if md.get("difficulty_tier") is not None:
            metadata["difficulty_tier"] = md["difficulty_tier"]
        return Document(text=text, id=f"{parent.id}.{result['job']}", metadata=metadata)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        counts: dict[str, dict] = defaultdict(lambda: defaultdict(int))
        removed = JsonlWriter(self.removed_dir, output_filename="${source}/synthesis/${rank}.jsonl.gz")
        with removed:
            for parent in data:
                for result in parent.metadata.get(RESULTS_KEY) or []:
                    job = result["job"]
                    c = counts[job]
                    c["generated"] += 1
                    usage = result.get("usage") or {}
                    c["prompt_tokens"] += int(usage.get("prompt_tokens", 0) or 0)
                    c["completion_tokens"] += int(usage.get("completion_tokens", 0) or 0)
                    doc = self.child(parent, result)
                    if result.get("reject"):
                        c[f"rejected/{result['reject']}"] += 1
                        self.stat_update(f"dropped/{job}/{result['reject']}")
                        doc.metadata["filter_reason"] = result["reject"]
                        removed.write(doc, rank)
                        continue
                    c["kept"] += 1
                    self.stat_update("forwarded")
                    yield doc
        os.makedirs(self.summary_dir, exist_ok=True)
        Path(self.summary_dir, f"{rank:05d}.json").write_text(json.dumps(counts))


def merge_summaries(folder: Path) -> dict[str, dict]:
    """Sum the per-task counts ``SyntheticDocs`` wrote."""
    total: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for f in sorted(folder.glob("*.json")):
        for job, counts in json.loads(f.read_text()).items():
            for k, v in counts.items():
                total[job][k] += v
    return {j: dict(sorted(c.items())) for j, c in sorted(total.items())}
