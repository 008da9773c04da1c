"""The synthesis stages of a curation run, appended after the report stage.

1. ``gen_<output>`` (one per job, ``executor.tasks`` tasks): read ``DIR/curated/<source>``
   (deduplicated and decontaminated, held-out slice excluded), run datatrove's
   ``InferenceRunner`` with chunked checkpoints and its request cache, write the raw rollouts.
2. ``write``: rollouts -> synthetic documents (rejects counted), decontamination again,
   per-source sums, ``curated/<output>/`` in the synthesis work folder.
3. ``report`` (1 task): publish ``DIR/curated/<output>/``, add the outputs to
   ``DIR/inventory.parquet`` (column ``synthetic``), write ``DIR/reports/synthesis.json``.

Stages are named ``synth-<synthesize hash>-<stage>``; their files live in
``work/<run hash>/synth/<synthesize hash>/``: the synthesize section is not
part of the curation hash, so changing a prompt reruns synthesis, not dedup. A killed generation
task resumes from its last finished chunk (datatrove's checkpoints): finished chunks are not
generated again and their documents are not written twice.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from curation.synth.backend import SynthRunner, check_backend, inference_config
from curation.synth.config import SynthesizeConfig
from curation.synth.prompts import job_prompt
from curation.synth.steps import SyntheticDocs, SynthRollout, merge_summaries

TOY_PARAMS = 50_000_000
TOY_NOTE = (
    "the generator has about {n:,} parameters: a model this small writes little of value, so these "
    "outputs show the pipeline (prompts, resume, rejects, decontamination, inventory), not useful text"
)


RULE_NOTE = "the generator is a deterministic rule (a test backend), not a model"


def synth_work_dir(work: Path, synth: SynthesizeConfig) -> Path:
    return work / "synth" / synth.fingerprint()


def stage_name(synth: SynthesizeConfig, what: str) -> str:
    """``synth-<hash>-<what>``: the logging folder (and completion markers) follow the synthesize hash."""
    return f"synth-{synth.fingerprint()}-{what}"


def _local_params(model: str) -> int | None:
    """A rough parameter count from a local config.json (embeddings + 12 h^2 per layer)."""
    path = Path(model) / "config.json"
    if not path.is_file():
        return None
    cfg = json.loads(path.read_text())
    h, layers, vocab = cfg.get("hidden_size"), cfg.get("num_hidden_layers"), cfg.get("vocab_size")
    if not (h and layers and vocab):
        return None
    return int(12 * layers * h * h + 2 * vocab * h)


def generator_note(backend) -> str | None:
    """What a reader must know about a generator: a rule, or a model too small to write anything useful."""
    if backend.model.startswith("rule:"):
        return RULE_NOTE
    params = _local_params(backend.model) if backend.kind == "local" else None
    return TOY_NOTE.format(n=params) if params is not None and params < TOY_PARAMS else None


def build_synth_stages(config, out_dir: Path, work: Path) -> list[tuple[str, list, int]]:
    """``[(stage name, pipeline, tasks)]`` for ``config.synthesize``; errors before any work runs."""
    synth: SynthesizeConfig = config.synthesize
    synth.check_sources([s.name for s in config.sources])
    checked = set()
    for i, job in enumerate(synth.jobs):  # every backend that will run, before any work
        backend = synth.job_backend(job)
        if backend.model_dump_json() not in checked:
            where = f"synthesize.jobs.{i}.backend" if job.backend else "synthesize.backend"
            check_backend(backend, where=where)
            checked.add(backend.model_dump_json())
    sw = synth_work_dir(work, synth)
    tasks = config.executor.tasks
    stages = []
    jobs = {}
    for job in synth.jobs:
        out = job.output_source
        backend = synth.job_backend(job)
        prompt_id, template = job_prompt(job)
        jobs[out] = {
            "generator": backend.model,
            "backend": backend.kind,
            "prompt_id": prompt_id,
            "task": job.task,
            "style": job.style,
            "domain": job.domain,
            "parent_source": job.source,
        }
        rollout = SynthRollout(
            output_source=out,
            template=template,
            style=job.style,
            chat=backend.chat,
            max_input_chars=synth.max_input_chars,
            min_output_chars=synth.min_output_chars,
            keep_truncated=synth.keep_truncated,
        )
        runner = SynthRunner(
            rollout,
            inference_config(backend, synth.generation),
            JsonlWriter(str(sw / "raw" / out), output_filename="${rank}_chunk_${chunk_index}.jsonl.gz"),
            checkpoints_local_dir=str(sw / "checkpoints" / out),
            records_per_chunk=synth.records_per_chunk,
            skip_bad_requests=True,  # a prompt the server refuses (400) is counted and skipped
        )
        reader = JsonlReader(
            str(out_dir / "curated" / job.source),
            glob_pattern="*.jsonl.gz",
            limit=job.max_docs or -1,
            add_file_path=False,
        )
        stages.append((stage_name(synth, f"gen_{out}"), [reader, runner], tasks))
    write = [
        JsonlReader(str(sw / "raw"), glob_pattern="*/*.jsonl.gz", add_file_path=False),
        SyntheticDocs(jobs, str(sw / "removed"), str(sw / "summary")),
    ]
    decont = config.decontamination
    if decont.eval_sets and synth.decontaminate:
        from curation.decont import NGramDecontFilter

        step = NGramDecontFilter(
            str(work / "decont_index"), str(sw / "decont_hits"), n=decont.n, mode=decont.mode
        )
        step.exclusion_writer = JsonlWriter(
            str(sw / "removed"), output_filename="${source}/decontamination/${rank}.jsonl.gz"
        )
        write.append(step)
    from curation.stats import SourceStats

    write += [
        SourceStats(str(sw / "source_stats"), config.tokens.tokenizer_path),
        JsonlWriter(str(sw / "curated"), output_filename="${source}/${rank}.jsonl.gz"),
    ]
    stages.append((stage_name(synth, "write"), write, tasks))
    notes = {o: generator_note(synth.job_backend(j)) for o, j in zip(jobs, synth.jobs, strict=True)}
    note = "; ".join(dict.fromkeys(n for n in notes.values() if n)) or None
    for o, n in notes.items():
        jobs[o]["note"] = n
    report = SynthesisReport(
        str(sw),
        str(out_dir),
        str(work),
        jobs,
        note,
        gen_stages={o: stage_name(synth, f"gen_{o}") for o in jobs},
    )
    # The report always reruns (one cheap task): if the curation report stage ran again (it rewrites
    # the inventory and curated/), the synthetic sources are put back from the synthesis work folder.
    shutil.rmtree(work / "logs" / stage_name(synth, "report") / "completions", ignore_errors=True)
    stages.append((stage_name(synth, "report"), [report], 1))
    return stages


class SynthesisReport(PipelineStep):
    """Publish the synthetic sources and add them to the inventory (column ``synthetic``)."""

    name = "🧪 Synthesis report"
    type = "📊 - STATS"

    def __init__(
        self, synth_dir: str, out_dir: str, work_dir: str, jobs: dict, note: str | None, *, gen_stages: dict
    ):
        super().__init__()
        self.gen_stages = gen_stages  # output source -> its generation stage name (logs/<name>/stats)
        self.synth_dir, self.out_dir, self.work_dir = synth_dir, out_dir, work_dir
        self.jobs, self.note = jobs, note

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        from curation.link_tree import link_tree
        from curation.report import build_inventory
        from curation.stats.merge import load_stage_stats

        sw, out, work = Path(self.synth_dir), Path(self.out_dir), Path(self.work_dir)
        inventory_path = out / "inventory.parquet"
        if not inventory_path.is_file():  # guard.strict blocked the run: nothing to add to
            return
        report_path = out / "reports" / "synthesis.json"
        previous = json.loads(report_path.read_text())["sources"] if report_path.is_file() else {}
        for name in set(previous) - set(self.jobs):  # outputs of an older synthesize section
            shutil.rmtree(out / "curated" / name, ignore_errors=True)
            shutil.rmtree(out / "removed" / name, ignore_errors=True)
        for name in self.jobs:
            link_tree(sw / "curated" / name, out / "curated" / name)
            link_tree(sw / "removed" / name, out / "removed" / name)
        names = list(self.jobs)
        rows = build_inventory(sw, out, names, {n: j["domain"] for n, j in self.jobs.items()})
        rows = rows.with_columns(
            pl.lit(True).alias("synthetic"),
            pl.Series("parent_source", [self.jobs[n]["parent_source"] for n in names], dtype=pl.String),
        )
        base = pl.read_parquet(inventory_path)
        if "synthetic" in base.columns:
            base = base.filter(~pl.col("synthetic").fill_null(False))
        base = base.with_columns(pl.lit(False).alias("synthetic"))
        if "parent_source" not in base.columns:
            base = base.with_columns(pl.lit(None, dtype=pl.String).alias("parent_source"))
        # A source left without documents (every generation rejected or decontaminated) is reported
        # in synthesis.json but kept out of the inventory: the planner needs tokens in every row.
        nonempty = rows.filter(pl.col("num_docs") > 0).select(base.columns)
        inventory = pl.concat([base, nonempty], how="vertical_relaxed")
        inventory.write_parquet(inventory_path)
        counts = merge_summaries(sw / "summary")
        hits = []
        for f in sorted((sw / "decont_hits").glob("*.jsonl")):
            hits += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        sources = {}
        for name, row in zip(names, rows.iter_rows(named=True), strict=True):
            c = counts.get(name, {})
            stats = load_stage_stats(work / "logs" / self.gen_stages[name])
            seconds = _runner_stat(stats, "inference_time")
            rejected = {k.split("/", 1)[1]: v for k, v in c.items() if k.startswith("rejected/")}
            # a prompt the server refused (HTTP 400) is skipped by datatrove's runner: count it here
            refused = int(_runner_stat(stats, "skipped_bad_requests") or 0)
            if refused:
                rejected["refused"] = refused
            sources[name] = {
                **self.jobs[name],
                "parents": c.get("generated", 0) + refused,
                "kept_after_generation": c.get("kept", 0),
                "rejected": rejected,
                "decontamination_dropped": sum(1 for h in hits if h.get("source") == name),
                "curated": row["num_docs"],
                "in_inventory": row["num_docs"] > 0,
                "num_tokens": row["num_tokens"],
                "prompt_tokens": c.get("prompt_tokens", 0),
                "completion_tokens": c.get("completion_tokens", 0),
                "inference_seconds": seconds,
                "docs_per_s": c.get("generated", 0) / seconds if seconds else None,
                "completion_tokens_per_s": c.get("completion_tokens", 0) / seconds if seconds else None,
            }
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps({"note": self.note, "sources": sources}, indent=2) + "\n")


def _runner_stat(stats, key: str) -> float | None:
    """Total of one of the runner's stats over a generation stage's tasks (None if unknown), e.g.
    ``inference_time`` (seconds) or ``skipped_bad_requests`` (documents)."""
    if stats is None:
        return None
    for step in stats.stats:
        value = step.stats.get(key) if hasattr(step, "stats") else None
        if value is not None:
            total = value.get("total") if isinstance(value, dict) else getattr(value, "total", None)
            return float(total) if total else None
    return None
