"""``report.md`` beside ``eval.parquet``: tables per section and the PNG plots, plus the rich summary."""

from __future__ import annotations

import math
import os
from pathlib import Path

import polars as pl

from evaluation.plots import longcontext_grid, plot_domain_losses, plot_gains_retention, plot_longcontext


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.4g}"
    return str(value)


def markdown_table(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *body])


def pivot_metric(
    frame: pl.DataFrame, *, task_prefix: str, metric: str, checkpoints: list[str]
) -> pl.DataFrame:
    """Tasks (rows) x checkpoints (columns) for one metric; empty frame when nothing matches."""
    part = frame.filter(pl.col("task").str.starts_with(task_prefix) & (pl.col("metric") == metric))
    if part.is_empty():
        return part
    wide = part.pivot(on="checkpoint", index="task", values="value", aggregate_function="first")
    return wide.select("task", *[c for c in checkpoints if c in wide.columns])


def benchmark_table(frame: pl.DataFrame, checkpoints: list[str]) -> pl.DataFrame:
    part = frame.filter(
        pl.col("task").str.starts_with("gsm8k")
        | pl.col("task").str.starts_with("humaneval")
        | pl.col("task").str.starts_with("mc:")
        | pl.col("task").str.starts_with("lmeval:")
    ).filter(~pl.col("metric").str.starts_with("num_") | (pl.col("metric") == "num_fewshot"))
    if part.is_empty():
        return part
    wide = part.pivot(on="checkpoint", index=["task", "metric"], values="value", aggregate_function="first")
    return wide.select("task", "metric", *[c for c in checkpoints if c in wide.columns])


def write_report(
    frame: pl.DataFrame,
    out_dir: Path,
    *,
    checkpoints: dict[str, Path],
    base: str,
    retention: pl.DataFrame | None,
    summary: pl.DataFrame | None,
    forgetting_threshold: float,
    failures: dict[str, list[str]] | None = None,
    references: list[str] = (),
    general_domains: list[str] = ("general",),
    notes: list[str] = (),
    trained_length: int | None = None,
) -> tuple[Path, list[Path]]:
    """Write report.md and its PNGs into ``out_dir``; return (report path, plot paths).

    Folders are written relative to ``out_dir`` (the report's own folder), never as absolute paths.
    """
    names = list(checkpoints)
    lines = ["# midtrain evaluation report", "", f"Base checkpoint: `{base}`", ""]
    lines += ["| checkpoint | folder (relative to this report) |", "|---|---|"]
    lines += [f"| {k} | `{relative_to(v, out_dir)}` |" for k, v in checkpoints.items()]
    plots: list[Path] = []

    losses = pivot_metric(frame, task_prefix="loss/", metric="loss", checkpoints=names)
    if not losses.is_empty():
        lines += ["", "## Held-out loss (nats/token, token-weighted)", "", markdown_table(losses)]
        ppl = pivot_metric(frame, task_prefix="loss/", metric="perplexity", checkpoints=names)
        lines += ["", "Perplexity:", "", markdown_table(ppl)]
        tokens = frame.filter(
            pl.col("task").str.starts_with("loss/")
            & (pl.col("metric") == "loss")
            & (pl.col("checkpoint") == base)
        ).select("task", pl.col("n").alias("tokens"))
        lines += ["", "Tokens scored per domain:", "", markdown_table(tokens)]
        if (p := plot_domain_losses(frame, out_dir / "loss_per_domain.png")) is not None:
            plots.append(p)
            lines += ["", f"![held-out loss per domain]({p.name})"]

    if retention is not None and not retention.is_empty():
        lines += [
            "",
            "## Gains vs retention (delta = loss - base loss; negative is a gain)",
            "",
            f"Forgetting is flagged when a general domain's or reference set's loss rises by more than "
            f"{forgetting_threshold:g} nats/token.",
            "",
            retention_basis_sentence(references, general_domains),
            "",
            markdown_table(retention),
        ]
        if summary is not None and not summary.is_empty():
            lines += ["", markdown_table(summary)]
            if p := plot_gains_retention(summary, forgetting_threshold, out_dir / "gains_vs_retention.png"):
                plots.append(p)
                lines += ["", f"![gains vs retention]({p.name})"]

    bench = benchmark_table(frame, names)
    if not bench.is_empty():
        lines += ["", "## Benchmarks", "", markdown_table(bench)]
        lines += [""] + [f"- {note}" for note in notes]

    for probe in ("passkey", "needle"):
        grid = longcontext_grid(frame, probe)
        if grid.is_empty():
            continue
        lines += ["", f"## Long context: {probe} (accuracy by length and depth)", ""]
        for name in names:
            part = grid.filter(pl.col("checkpoint") == name)
            if part.is_empty():
                continue
            wide = (
                part.sort("length")
                .pivot(on="length", index="depth", values="value", aggregate_function="first")
                .sort("depth")
            )
            wide = wide.rename({c: f"{c} tok" for c in wide.columns if c != "depth"})
            lines += [f"`{name}`:", "", markdown_table(wide), ""]
        if trained_length:
            lines += [
                f"Trained context: {trained_length} tokens (`longcontext.trained_length`, else the base "
                "checkpoint's `max_position_embeddings`); longer prompts test extrapolation.",
                "",
            ]
        path = out_dir / f"longcontext_{probe}.png"
        if (p := plot_longcontext(frame, probe, path, trained_length=trained_length)) is not None:
            plots.append(p)
            lines += [f"![{probe} accuracy grid]({p.name})"]

    contamination = frame.filter(
        pl.col("task").str.starts_with("contamination/") & (pl.col("metric") == "share")
    )
    if not contamination.is_empty():
        lines += [
            "",
            "## Contamination (share of eval items with an n-gram found in curated data)",
            "",
            markdown_table(
                contamination.select(
                    pl.col("task").str.strip_prefix("contamination/").alias("eval set"),
                    pl.col("value").alias("share"),
                    pl.col("n").alias("items"),
                )
            ),
        ]

    if failures:
        lines += ["", "## Failed items (first reasons)", ""]
        for key, reasons in failures.items():
            lines += [f"- `{key}`: " + "; ".join(reasons[:5]) + (" ..." if len(reasons) > 5 else "")]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report, plots


def relative_to(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (``../runs/x``), so a report stays valid when the run moves."""
    try:
        return os.path.relpath(Path(path).resolve(), Path(folder).resolve())
    except ValueError:  # another drive (Windows)
        return str(path)


def retention_basis_sentence(references: list[str], general_domains: list[str]) -> str:
    """What the retention verdict is measured on, said plainly."""
    if references:
        sets = ", ".join(f"`reference:{r}`" for r in references)
        return (
            f"**Retention verdict measured on the reference set(s) {sets}**: held-out text of the "
            "model's original distribution (`eval.reference_sets`)."
        )
    domains = ", ".join(f"`{d}`" for d in general_domains)
    return (
        f"**No reference set given: the retention verdict measures the anneal's own general data "
        f"({domains})**, which may be new to the model, so a flat loss there does not show the model "
        "kept what it knew. Give `eval.reference_sets` (held-out text of the original pre-training "
        "distribution) for a verdict about that."
    )


def print_summary(frame: pl.DataFrame, *, checkpoints: list[str], files: list[Path]) -> None:
    """A short rich table (main metric per task x checkpoint) and the files written."""
    from rich.console import Console
    from rich.table import Table

    main = {
        "loss": "loss",
        "gsm8k": "exact_match",
        "humaneval": "pass@1",
        "mc:": "acc",
        "passkey": "accuracy",
        "needle": "accuracy",
        "gains_vs_retention": None,
        "contamination/": "share",
        "lmeval:": None,
    }
    table = Table(title="midtrain eval")
    table.add_column("task")
    table.add_column("metric")
    for name in checkpoints:
        table.add_column(name, justify="right")
    keys = frame.select("task", "metric").unique(maintain_order=True)
    for task, metric in keys.iter_rows():
        prefix = next((p for p in main if task.startswith(p)), None)
        if prefix is None or (main[prefix] is not None and metric != main[prefix]):
            continue
        values = {
            r["checkpoint"]: r["value"]
            for r in frame.filter((pl.col("task") == task) & (pl.col("metric") == metric)).iter_rows(
                named=True
            )
        }
        table.add_row(task, metric, *[_fmt(values.get(name, values.get("data"))) for name in checkpoints])
    console = Console()
    console.print(table)
    console.print("files written:")
    for path in files:
        console.print(f"  {path}")
