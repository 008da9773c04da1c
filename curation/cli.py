"""`midtrain curate`: run a curation config, or `midtrain curate train-classifier ...`.

``curate`` is a typer group whose callback takes an optional CONFIG: with a config and no
subcommand it runs the pipeline; ``train-classifier`` (from curation.classifiers.cli) trains the
fastText models. A small Group subclass keeps the optional CONFIG from swallowing the name of a
subcommand. A bad config prints one ``error: FILE: key.path: reason`` line per problem and exits
2; a folder another run holds, or one that cannot be written, is one line with the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup


class _ConfigOrCommandGroup(TyperGroup):
    """``curate CONFIG ...`` runs; ``curate <subcommand> ...`` dispatches (CONFIG stays None)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.allow_interspersed_args = True  # `curate CONFIG --out DIR`: options may follow CONFIG

    def parse_args(self, ctx, args):
        if args and args[0] in self.commands:
            super().parse_args(ctx, [])  # fill the callback's defaults
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        return super().parse_args(ctx, args)


curate_app = typer.Typer(
    cls=_ConfigOrCommandGroup,
    invoke_without_command=True,
    no_args_is_help=False,
    help=(
        "Curate corpora: `midtrain curate CONFIG.yaml --out DIR [--workers N] [--tasks N]` reads the sources, "
        "filters, deduplicates, decontaminates and writes DIR/curated, DIR/heldout, DIR/inventory.parquet and "
        "DIR/reports. `midtrain curate train-classifier --help` trains the fastText quality/domain models."
    ),
)


@curate_app.callback()
def curate(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Argument(help="curation YAML (sources, filters, dedup, ...)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output folder")] = None,
    workers: Annotated[int | None, typer.Option(help="parallel worker processes (local executor)")] = None,
    tasks: Annotated[int | None, typer.Option(help="tasks (shards) per stage")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Slurm: follow the submitted jobs until they finish")
    ] = False,
    preview: Annotated[
        int | None,
        typer.Option(
            "--preview",
            metavar="N",
            help="run the pipeline on the first N documents of each source (seconds) and print what each "
            "step would drop, with examples; writes nothing to --out",
        ),
    ] = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    if out is None and preview is None:
        raise ValueError("midtrain curate: --out DIR is required (or --preview N to look first)")
    from rich.console import Console
    from rich.table import Table

    from curation import CurationConfig, run_curation
    from curation.config_errors import ConfigError

    try:
        loaded = CurationConfig.from_yaml(config)
    except ConfigError as error:  # every problem, one line each (the root CLI would show only the first)
        for line in error.lines:
            typer.echo(f"error: {line}", err=True)
        typer.echo(f"  fix: {error.fix}", err=True)
        raise SystemExit(2) from None
    if preview is not None:
        from curation.preview import preview as run_preview

        typer.echo(f"preview: the first {preview} documents of each source (MinHash off)\n")
        typer.echo(run_preview(loaded, preview).table())
        return
    import warnings

    from curation.pipeline import CurationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurationWarning)  # printed below, once, in red
        result = run_curation(loaded, out, workers=workers, tasks=tasks, wait=wait)
    console = Console()
    if result.launched:
        console.print(
            f"Slurm jobs submitted (ids in {result.work_dir}/slurm_jobs.json; launch scripts under "
            f"{result.work_dir}/logs/*/launch_script.slurm). Rerun with --wait to follow them and "
            "read the results (finished ranks are not submitted again)."
        )
        return
    funnel = (result.out_dir / "reports" / "funnel.txt").read_text()
    console.print(funnel.split("\nWARNING ")[0], highlight=False, markup=False, soft_wrap=True)
    table = Table(title="inventory")
    for col in ("source", "domain", "num_docs", "num_tokens", "mean_quality", "mean_difficulty"):
        table.add_column(col)
    for row in result.inventory.iter_rows(named=True):
        est = "~" if row["num_tokens_estimated"] else ""
        table.add_row(
            row["source"],
            row["domain"],
            str(row["num_docs"]),
            f"{est}{row['num_tokens']}",
            "-" if row["mean_quality"] is None else f"{row['mean_quality']:.3f}",
            "-" if row["mean_difficulty"] is None else f"{row['mean_difficulty']:.2f}",
        )
    console.print(table)
    console.print("files written:")
    for path in [
        result.out_dir / "curated",
        result.out_dir / "heldout",
        result.out_dir / "rejects",
        result.out_dir / "removed",
        *result.files,
    ]:
        console.print(f"  {path}")
    for warning in result.warnings:  # last, so they are what a person sees when the run ends
        console.print(f"[bold red]WARNING[/] {warning['message']}", highlight=False, soft_wrap=True)


def _register_train_classifier() -> None:
    try:
        from curation.classifiers.cli import train_classifier_command
    except ImportError:  # classifier package not installed in this checkout
        return
    curate_app.command("train-classifier", help="Train a fastText quality or domain classifier.")(
        train_classifier_command
    )


_register_train_classifier()


def register(app: typer.Typer) -> None:
    """Add ``midtrain curate`` to the root app."""
    app.add_typer(curate_app, name="curate")
