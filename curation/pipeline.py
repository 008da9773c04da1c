"""``run_curation``: build the curation stages from a config and run them on a datatrove executor.

Stages (each a datatrove pipeline with its own logging folder under ``DIR/work/<hash>/logs``):

0. ``decont_index`` (1 task): n-gram index of the eval sets.
1. ``filter`` (tasks): read sources -> heuristic filters -> classifiers/tags -> decontamination
   -> dedup signatures -> ``work/filtered/<rank>.jsonl.gz``.
2. ``buckets`` (num_buckets tasks): datatrove's ``MinhashDedupBuckets``, its pairs merged in numpy
   (``curation/dedup/buckets.py``: the same ``.dups`` files).
3. ``cluster`` (1 task): exact + near clusters, keeper by source rank, held-out selection.
4. ``write`` (tasks): drop duplicates, split held-out, count tokens -> curated/ and heldout/.
4b. ``dedup_index`` (num_buckets tasks): the kept documents' signatures and hashes -> DIR/dedup_index/,
   which a later run's ``dedup.against`` reads (``curation/dedup/index.py``, ``against.py``).
5. ``report`` (1 task): publish outputs, inventory.parquet, reports/.

``<hash>`` covers the config (not the worker count) and the input files' sizes and mtimes, so a
re-run with the same config resumes (datatrove skips completed tasks; a killed task reruns and
overwrites its own files) while a changed config starts a fresh work folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from curation.config import CurationConfig
from curation.config_errors import validate_model
from curation.main_guard import check_main_guard
from curation.readers.discover import list_units, preflight_source
from curation.run_lock import output_errors, run_lock
from curation.slurm_wait import record_jobs, refuse_if_jobs_queued, wait_for_jobs


@dataclass
class CurationResult:
    out_dir: Path
    inventory: pl.DataFrame
    funnel: dict
    work_dir: Path | None = None
    files: list[Path] = field(default_factory=list)
    launched: bool = False  # True for Slurm: jobs were submitted, outputs come later
    warnings: list[dict] = field(default_factory=list)  # the guard's (reports/warnings.json)


def preflight(config: CurationConfig, out_dir: Path | None = None) -> None:
    """Every user error we can see before work starts: paths, keys, eval sets, tokenizer."""
    from curation.decont.index import preflight_eval_set

    for source in config.sources:
        preflight_source(source, max_doc_bytes=config.max_doc_bytes)
    for eval_set in config.decontamination.eval_sets:
        preflight_eval_set(eval_set)
    if config.tokens.tokenizer_path and not Path(config.tokens.tokenizer_path).is_file():
        raise FileNotFoundError(f"tokens.tokenizer_path: no tokenizer.json at {config.tokens.tokenizer_path}")
    for key in ("quality_model", "domain_model"):
        path = getattr(config.classifiers, key)
        if path and not Path(path).is_file():
            raise FileNotFoundError(f"classifiers.{key}: no model file at {path}")
    if config.dedup.against:
        from curation.dedup.against import check_against

        check_against(config, out_dir)  # out_dir: listing this run's own folder is refused


def run_fingerprint(config: CurationConfig) -> str:
    """Config hash plus the size/mtime of every input file."""
    inputs = []
    for source in config.sources:
        for unit in list_units(source, 1):
            if os.path.exists(unit.path) and os.path.isfile(unit.path):
                st = os.stat(unit.path)
                inputs.append((unit.path, st.st_size, int(st.st_mtime)))
            else:
                inputs.append((unit.path, 0, 0))
    for ev in config.decontamination.eval_sets:
        st = os.stat(ev.path)
        inputs.append((ev.path, st.st_size, int(st.st_mtime)))
    from curation.dedup.against import against_fingerprint

    inputs.append(against_fingerprint(config))  # a re-curated dedup.against corpus means a fresh run
    blob = json.dumps([config.fingerprint(), inputs], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _tag_steps(config: CurationConfig) -> list:
    """Domain tagger, quality scorer and cut, difficulty tierer; a simple fallback without the classifiers."""
    try:
        from curation.classifiers.steps import build_tag_steps
    except ImportError:
        from curation.annotate import DomainAndTier

        return [DomainAndTier()]
    return build_tag_steps(config)


def _heldout_expected(heldout) -> bool:
    """Does the config ask for a held-out slice? (fraction and max_docs both None, or a 0: no.)"""
    if heldout.fraction is None and heldout.max_docs is None:
        return False
    return heldout.fraction != 0 and heldout.max_docs != 0


def with_removed(step, work: Path, step_key: str):
    """Give a dropping step an exclusion writer: what it drops lands in removed/<source>/<step>/."""
    from datatrove.pipeline.filters.base_filter import BaseFilter

    from curation.funnel import RemovedWriter

    if isinstance(step, BaseFilter):
        step.exclusion_writer = RemovedWriter(
            str(work / "removed"), f"${{source}}/{step_key}/${{rank}}.jsonl.gz", owner=step
        )
    return step


def _top_percentile_of(config: CurationConfig):
    try:
        from curation.classifiers.steps import top_percentile_resolver
    except ImportError:
        return None
    return top_percentile_resolver(config)


def build_stages(config: CurationConfig, out_dir: Path, work: Path) -> list[tuple[str, list, int]]:
    """``[(stage name, pipeline, tasks)]`` in run order."""
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    from curation.annotate import HeldoutSplit, ShardReader
    from curation.decont import DecontIndexer, NGramDecontFilter
    from curation.dedup import DedupFilter, DedupSignature, PriorityCluster
    from curation.dedup.against import against_bands, check_against
    from curation.dedup.buckets import FastMinhashBuckets
    from curation.dedup.index import DedupIndexWriter, index_settings
    from curation.dedup.lsh import similarity_curve_table
    from curation.filters import build_heuristic_filters, make_word_tokenizer, source_filters, source_kind
    from curation.readers import SourcesReader
    from curation.report import FinalizeReport
    from curation.stats import SourceStats
    from curation.writers import OUTPUT_LEVEL, WORK_LEVEL, GzipJsonlWriter

    tasks = config.executor.tasks
    language = make_word_tokenizer(config.word_tokenizer, config.language)
    dd = config.dedup
    minhash = (
        MinhashConfig(
            n_grams=dd.n_grams,
            num_buckets=dd.num_buckets,
            hashes_per_bucket=dd.hashes_per_bucket,
            seed=dd.seed,
        )
        if dd.minhash
        else None
    )
    ranked = config.priority()
    stages = []
    decont = config.decontamination
    if decont.eval_sets:
        stages.append(("decont_index", [DecontIndexer(decont, str(work / "decont_index"))], 1))
    filter_stage = [SourcesReader(config.sources, str(work / "rejects"), config.max_doc_bytes)]
    if decont.eval_sets:  # first: the contamination audit must see every document, not the filters' leftovers
        filter_stage.append(
            with_removed(
                NGramDecontFilter(
                    str(work / "decont_index"), str(work / "decont_hits"), n=decont.n, mode=decont.mode
                ),
                work,
                "decontamination",
            )
        )
    if config.filters.agreement_sample_rate > 0:
        from curation.filters.agreement import TokenizerAgreement
        from curation.filters.profiles import resolve_profiles

        options = {n: o for n, o in resolve_profiles(config.filters)["web"].items() if n != "code_quality"}
        filter_stage.append(
            TokenizerAgreement(
                options, str(work / "agreement"), config.filters.agreement_sample_rate, config.language
            )
        )
    filter_stage += build_heuristic_filters(config, language, str(work / "removed"))
    filter_stage += [with_removed(step, work, "quality_classifier") for step in _tag_steps(config)]
    filter_stage.append(
        DedupSignature(
            str(work / "dedup"),
            {n: i for i, n in enumerate(ranked)},
            minhash=minhash,
            language=language,
            heldout_seed=config.heldout.seed,
            top_percentile_of=_top_percentile_of(config),
        )
    )
    # gzip levels: curation/writers.py (work files level 1, kept outputs level 3, measured there)
    filter_stage.append(GzipJsonlWriter(str(work / "filtered"), "${rank}.jsonl.gz", level=WORK_LEVEL))
    stages.append(("filter", filter_stage, tasks))
    old_corpora = check_against(config, out_dir) if dd.against else []
    roots = [m["root"] for m in old_corpora]
    # the cluster summary names them as configured: one path, or the list
    against = (roots[0] if isinstance(dd.against, str) else roots) if roots else None
    old_bands = (
        against_bands(old_corpora, work, minhash.num_buckets) if roots and minhash is not None else None
    )
    if minhash is not None:
        stages.append(
            (
                "buckets",
                [
                    FastMinhashBuckets(
                        str(work / "dedup" / "sigs"),
                        str(work / "dedup" / "buckets"),
                        config=minhash,
                        # dedup.against: also match the old corpus's saved bands, and still pairs within this run
                        index_folder=old_bands,
                        only_dedup_in_index=False,
                    )
                ],
                minhash.num_buckets,
            )
        )
    stages.append(
        (
            "cluster",
            [
                PriorityCluster(
                    str(work / "dedup"),
                    ranked,
                    exact=dd.exact,
                    heldout_fraction=config.heldout.fraction,
                    heldout_max_docs=config.heldout.max_docs,
                    world_size_stage1=tasks,
                    against=against,
                )
            ],
            1,
        )
    )
    stages.append(
        (
            "write",
            [
                ShardReader(str(work / "filtered")),
                with_removed(
                    DedupFilter(
                        str(work / "dedup" / "clusters"), str(work / "cluster_examples"), dd.max_examples
                    ),
                    work,
                    "dedup",
                ),
                HeldoutSplit(
                    GzipJsonlWriter(str(work / "heldout"), "${source}/${rank}.jsonl.gz", level=OUTPUT_LEVEL)
                ),
                SourceStats(str(work / "source_stats"), config.tokens.tokenizer_path),
                GzipJsonlWriter(str(work / "curated"), "${source}/${rank}.jsonl.gz", level=OUTPUT_LEVEL),
            ],
            tasks,
        )
    )
    if dd.exact or dd.minhash:  # this run's dedup_index/, for a later run's dedup.against
        index_writer = DedupIndexWriter(
            str(work / "dedup"),
            str(out_dir),
            minhash=minhash,
            settings=index_settings(config),
            work_hash=work.name,
            world_size_stage1=tasks,
            against=roots,
        )
        stages.append(("dedup_index", [index_writer], minhash.num_buckets if minhash else 1))
    extra = {
        "minhash_curve": similarity_curve_table(dd.num_buckets, dd.hashes_per_bucket) if dd.minhash else None,
        "word_tokenizer": config.word_tokenizer,
        "source_priority": ranked,
    }
    stages.append(
        (
            "report",
            [
                FinalizeReport(
                    str(work),
                    str(out_dir),
                    [s.name for s in config.sources],
                    {s.name: s.domain for s in config.sources},
                    extra,
                    profiles={s.name: source_kind(s.kind, s.domain) for s in config.sources},
                    filters_run={s: [name for name, _ in f] for s, f in source_filters(config).items()},
                    guard={
                        "max_drop_fraction": config.guard.max_drop_fraction,
                        "strict": config.guard.strict,
                        "heldout_expected": _heldout_expected(config.heldout),
                    },
                )
            ],
            1,
        )
    )
    if config.synthesize is not None:  # after the report: reads DIR/curated, adds to the inventory
        from curation.synth.stages import build_synth_stages

        stages += build_synth_stages(config, out_dir, work)
    return stages


def run_curation(
    config: CurationConfig | dict,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    tasks: int | None = None,
    wait: bool = False,
    poll_s: float = 30.0,
) -> CurationResult:
    """Curate ``config.sources`` into ``out_dir`` (see curation/schema.py for the files).

    On Slurm the stages are submitted as a chain of array jobs; without ``wait`` this returns as
    soon as they are queued (``launched=True``), with ``wait`` it follows them every ``poll_s``
    seconds until they finish and returns the result like the other executors.
    """
    if not isinstance(config, CurationConfig):
        config = validate_model(CurationConfig, config, where="curation config")
    if workers is not None or tasks is not None:
        executor = config.executor.model_copy(
            update={k: v for k, v in {"workers": workers, "tasks": tasks}.items() if v is not None}
        )
        config = config.model_copy(update={"executor": executor})
    out_dir = Path(out_dir).resolve()
    if config.executor.kind == "local" and config.executor.workers != 1:
        check_main_guard("run_curation")  # workers re-import the script: see curation/main_guard.py
    preflight(config, out_dir)
    with output_errors(out_dir), run_lock(out_dir):  # one run per folder; a full disk is one line
        return _run_locked(config, out_dir, wait=wait, poll_s=poll_s)


def _run_locked(config: CurationConfig, out_dir: Path, *, wait: bool, poll_s: float) -> CurationResult:
    fingerprint = run_fingerprint(config)
    work = out_dir / "work" / fingerprint
    work.mkdir(parents=True, exist_ok=True)
    if config.executor.kind == "slurm":
        refuse_if_jobs_queued(work)
    (work / "config.json").write_text(config.model_dump_json(indent=2))
    from curation.executors import make_executor

    previous = None
    executors = {}
    for name, pipeline, tasks_ in build_stages(config, out_dir, work):
        executor = make_executor(
            config.executor,
            pipeline,
            tasks=tasks_,
            logging_dir=str(work / "logs" / name),
            job_name=name,
            depends=previous,
        )
        executors[name] = executor
        if config.executor.kind == "local":
            executor.run()
        previous = executor
    if config.executor.kind == "ray":
        for executor in executors.values():
            executor.run()
    elif config.executor.kind == "slurm":
        previous.run()  # the last stage: submits the whole chain through `depends`
        if not wait:
            record_jobs(work, executors)
            return CurationResult(out_dir, pl.DataFrame(), {}, work_dir=work, launched=True)
        wait_for_jobs(executors, work, poll_s=poll_s)
    return load_result(out_dir, work)


def load_result(out_dir: Path, work: Path | None = None) -> CurationResult:
    """Read a finished run; print the guard's warnings, raise when ``guard.strict`` blocked it."""
    import warnings as pywarnings

    from curation.guard import CurationGuardError, format_warnings
    from curation.schema import read_inventory

    guard_file = out_dir / "reports" / "warnings.json"
    guard = json.loads(guard_file.read_text()) if guard_file.is_file() else {"warnings": [], "blocked": False}
    if guard["blocked"]:
        raise CurationGuardError(
            f"guard.strict: {len(guard['warnings'])} problem(s), inventory not written "
            f"(funnel in {out_dir / 'reports' / 'funnel.txt'}):\n{format_warnings(guard['warnings'])}"
        )
    for w in guard["warnings"]:
        pywarnings.warn(w["message"], CurationWarning, stacklevel=3)
    inventory = read_inventory(out_dir / "inventory.parquet")
    funnel = json.loads((out_dir / "reports" / "funnel.json").read_text())
    files = [out_dir / "inventory.parquet", *sorted((out_dir / "reports").iterdir())]
    return CurationResult(out_dir, inventory, funnel, work_dir=work, files=files, warnings=guard["warnings"])


class CurationWarning(UserWarning):
    """A source lost most of its documents at one step, ended empty, or has no held-out slice."""
