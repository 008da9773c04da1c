"""`evaluate()`: every configured measurement for every checkpoint, then eval.parquet + report.md.

Order: check all inputs (model folders, held-out slices, eval files) before any model runs, so a
typo fails in seconds; run the model-free contamination audit; then load one checkpoint at a time
(only one is in memory) and run loss, benchmarks and probes; last, gains vs retention and the report.
"""

from __future__ import annotations

import gc
import json
import logging
from pathlib import Path

import polars as pl
import torch

from evaluation.checkpoints import check_checkpoint, load_checkpoint
from evaluation.config import EvalConfig
from evaluation.evalsets import read_evalset
from evaluation.schema import EVAL_COLUMNS

logger = logging.getLogger(__name__)


def _check_inputs(
    models: dict[str, Path], config: EvalConfig
) -> tuple[str, dict | None, dict[Path, list[dict]]]:
    if not models:
        raise ValueError("evaluate: no checkpoints given")
    for label, path in models.items():
        check_checkpoint(path, label=label)
    base = config.base or next(iter(models))
    if base not in models:
        raise ValueError(f"base: {base!r} is not one of the checkpoints {list(models)}")
    docs = None
    if config.heldout_dir is not None:
        from evaluation.heldout import read_heldout

        docs = read_heldout(config.heldout_dir)
    if config.reference_sets:
        from evaluation.reference import read_references

        docs = {**(docs or {}), **read_references(config.reference_sets, docs)}
    records: dict[Path, list[dict]] = {}
    for kind, section in (("gsm8k", config.gsm8k), ("humaneval", config.humaneval), ("mc", config.mc)):
        for path in section.files:
            records[Path(path)] = read_evalset(path, kind, limit=section.limit)
    if config.contamination.curated_dir is not None:
        for path in config.contamination.files:
            if Path(path) not in records:
                records[Path(path)] = _read_any(Path(path))
    return base, docs, records


def _read_any(path: Path) -> list[dict]:
    """An eval set of unknown format for the audit: any of the known formats that fits."""
    errors = []
    for kind in ("gsm8k", "humaneval", "mc"):
        try:
            return read_evalset(path, kind)
        except ValueError as error:
            errors.append(str(error))
    raise ValueError(f"{path}: not a GSM8K, HumanEval or multiple-choice file ({errors[0]})")


def evaluate(models: dict[str, Path], config: EvalConfig, out_dir: str | Path) -> pl.DataFrame:
    """Evaluate ``models`` (label -> HF folder); write eval.parquet, report.md, PNGs into ``out_dir``."""
    from evaluation.reference import reference_domain
    from evaluation.report import write_report
    from evaluation.retention import gains_retention, retention_rows, summarize

    models = {label: Path(path) for label, path in models.items()}
    out_dir = Path(out_dir)
    base, docs, records = _check_inputs(models, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    failures: dict[str, list[str]] = {}

    if config.contamination.curated_dir is not None:
        from evaluation.contamination import contamination_rows

        files = [Path(p) for p in config.contamination.files] or list(records)
        if files:
            found, _ = contamination_rows(
                files, records, config.contamination.curated_dir, n=config.contamination.n
            )
            rows += found

    for label, path in models.items():
        loaded = load_checkpoint(label, path, device=config.device, dtype=config.dtype)
        for row in _run_checkpoint(loaded, config, docs, out_dir, failures):
            rows.append({"checkpoint": label, **row})
        del loaded
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    frame = _to_frame(rows)
    retention = summary = None
    if docs is not None:
        retention = gains_retention(
            frame,
            base=base,
            target_domains=config.target_domains,
            general_domains=config.general_domains,
            reference_domains=[reference_domain(name) for name in config.reference_sets],
            forgetting_threshold=config.forgetting_threshold,
        )
        summary = summarize(retention, list(models))
        frame = pl.concat([frame, _to_frame(retention_rows(retention, summary))])
    frame.write_parquet(out_dir / "eval.parquet")
    write_report(
        frame,
        out_dir,
        checkpoints=models,
        base=base,
        retention=retention,
        summary=summary,
        forgetting_threshold=config.forgetting_threshold,
        failures=failures,
        references=list(config.reference_sets),
        general_domains=config.general_domains,
        notes=_benchmark_notes(config),
        trained_length=config.longcontext.trained_length or _max_positions(models[base]),
    )
    (out_dir / "eval_config.json").write_text(config.model_dump_json(indent=2))
    return frame


def _benchmark_notes(config: EvalConfig) -> list[str]:
    notes = []
    if config.gsm8k.files:
        from evaluation.benchmarks.gsm8k import prompt_description

        notes.append("GSM8K: " + prompt_description(config.gsm8k))
    if config.humaneval.files:
        from evaluation.benchmarks.sandbox import isolation

        notes.append(
            f"HumanEval: pass@1, greedy; a program passes only if its checks ran to the end in the sandbox "
            f"(isolation here: `{isolation()}`, see docs/evaluation.md)"
        )
    return notes


def _max_positions(folder: Path) -> int | None:
    """The checkpoint's ``max_position_embeddings`` (its trained context), if its config says."""
    try:
        value = json.loads((Path(folder) / "config.json").read_text()).get("max_position_embeddings")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) else None


def _run_checkpoint(
    loaded, config: EvalConfig, docs, out_dir: Path, failures: dict[str, list[str]]
) -> list[dict]:
    rows: list[dict] = []
    samples: dict[str, list[dict]] = {}
    if docs is not None:
        from evaluation.loss import domain_losses

        rows += domain_losses(
            loaded.model,
            loaded.tokenizer,
            docs,
            eos_token_id=loaded.eos_token_id,
            pad_token_id=loaded.pad_token_id,
            seq_len=config.seq_len,
            batch_size=config.batch_size,
            max_tokens_per_domain=config.max_tokens_per_domain,
            label=loaded.label,
        )
    if config.gsm8k.files:
        from evaluation.benchmarks.gsm8k import run_gsm8k

        found, samples["gsm8k"] = run_gsm8k(loaded, config.gsm8k.files, config.gsm8k)
        rows += found
    if config.humaneval.files:
        from evaluation.benchmarks.humaneval import run_humaneval

        found, samples["humaneval"] = run_humaneval(loaded, config.humaneval.files, config.humaneval)
        rows += found
        reasons = [f"line {s['line']}: {s['reason']}" for s in samples["humaneval"] if not s["passed"]]
        if reasons:
            failures[f"{loaded.label}/humaneval"] = reasons
    if config.mc.files:
        from evaluation.benchmarks.multiple_choice import run_multiple_choice

        found, samples["mc"] = run_multiple_choice(
            loaded, config.mc.files, limit=config.mc.limit, batch_size=config.mc.batch_size
        )
        rows += found
    if config.longcontext.lengths and config.longcontext.probes:
        from evaluation.longcontext import run_longcontext

        found, samples["longcontext"], warnings = run_longcontext(loaded, config.longcontext)
        for warning in warnings:
            logger.warning(warning)
        rows += found
    if config.lm_eval.enabled:
        from evaluation.lmeval import run_lm_eval

        rows += run_lm_eval(loaded, config)
    _write_samples(out_dir / "samples" / loaded.label, samples)
    return rows


def _write_samples(folder: Path, samples: dict[str, list[dict]]) -> None:
    """Per-item outputs (completions, reasons) so a score can be audited item by item."""
    for task, items in samples.items():
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{task}.jsonl").open("w") as handle:
            for item in items:
                handle.write(json.dumps(item, default=str) + "\n")


def _to_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=EVAL_COLUMNS) if rows else pl.DataFrame(schema=EVAL_COLUMNS)
