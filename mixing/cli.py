"""`midtrain plan`: inventory + mix config -> plan.parquet, plan.json, plan.png and a summary."""

from __future__ import annotations

from pathlib import Path

import typer


def _print_summary(plan, report, files: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    from mixing.writer import summarize_plan

    summary = summarize_plan(plan)
    domains = [
        c
        for c in summary.columns
        if c not in ("phase", "phase_name", "num_tokens", "phase_start_step", "phase_end_step", "max_epochs")
    ]
    table = Table(title="mixture plan: share of each phase per domain")
    for column in ["phase", "tokens", "steps", *domains, "max epochs"]:
        table.add_column(column, justify="left" if column == "phase" else "right")
    for row in summary.iter_rows(named=True):
        steps = (
            "-" if row["phase_start_step"] is None else f"{row['phase_start_step']}-{row['phase_end_step']}"
        )
        table.add_row(
            f"{row['phase']} {row['phase_name']}",
            f"{row['num_tokens']:,}",
            steps,
            *[f"{row[d]:.3f}" for d in domains],
            f"{row['max_epochs']:.2f}",
        )
    console = Console()
    console.print(table)
    for line in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {line}")
    if report.changes:
        console.print(f"resolve=auto made {len(report.changes)} change(s):")
        for line in report.changes[:20]:
            console.print(f"  {line}")
        if len(report.changes) > 20:
            console.print(f"  ... {len(report.changes) - 20} more in plan.json")
    console.print("files written:")
    for path in files:
        console.print(f"  {path}")


def plan_command(
    inventory: Path = typer.Argument(..., help="inventory.parquet (columns source, domain, num_tokens, ...)"),
    config: Path = typer.Option(..., "--config", "-c", help="mix config YAML (MixConfig keys)"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for plan.parquet, plan.json, plan.png"),
    resolve: str | None = typer.Option(None, help="override the config's resolve: error | auto"),
) -> None:
    """Plan the data mixture of every training phase from a curated inventory."""
    import polars as pl

    from mixing.config import MixConfig
    from mixing.planner import plan_mixture_report
    from mixing.writer import write_plan

    if not inventory.is_file():
        raise FileNotFoundError(f"{inventory}: no inventory here; run `midtrain curate` first")
    mix = MixConfig.from_yaml(config)
    if resolve is not None:
        if resolve not in ("error", "auto"):
            raise ValueError(f"--resolve: must be 'error' or 'auto', got {resolve!r}")
        mix = mix.model_copy(update={"resolve": resolve})
    frame = pl.read_parquet(inventory)
    report = plan_mixture_report(frame, mix, where=str(inventory))
    path = write_plan(
        report.plan, out, config=mix, inventory=frame, changes=report.changes, warnings=report.warnings
    )
    _print_summary(report.plan, report, [path, out / "plan.json", out / "plan.png"])


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `midtrain` app."""
    app.command("plan")(plan_command)
