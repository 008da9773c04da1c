"""``midtrain run`` and ``midtrain demo``: a recipe end to end, resumable stage by stage."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from recipes.config import STAGES, load_recipe
from recipes.runner import RunDir, run_stages
from recipes.stages import build_stages
from recipes.validate import check_init_from, missing_paths

console = Console(stderr=True)


def run_recipe(
    recipe_path: str | Path,
    out: Path,
    *,
    overrides: list[str] = (),
    from_stage: str | None = None,
    until_stage: str | None = None,
    dry_run: bool = False,
    force: bool = False,
) -> Path:
    """Run (or resume) a recipe into ``out``; returns the report path."""
    recipe = load_recipe(recipe_path, overrides=list(overrides))
    stages = build_stages(recipe, out.resolve())
    run_dir = RunDir(out.resolve())
    missing = missing_paths(recipe)
    if dry_run:
        _print_dry_run(recipe, stages, run_dir)
        for key, path in missing:
            console.print(f"[yellow]warning[/yellow]: {key}: {path} does not exist (a real run stops here)")
        return out / "report" / "report.md"
    if missing:
        key, path = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FileNotFoundError(f"{recipe_path}: {key}: {path} does not exist{more}")
    try:
        check_init_from(recipe)
    except ValueError as error:
        raise ValueError(f"{recipe_path}: {error}") from None
    run_dir.claim(recipe, force=force)
    start = time.perf_counter()
    records = run_stages(
        stages,
        run_dir,
        from_stage=from_stage,
        until_stage=until_stage,
        log=lambda m: console.print(m, highlight=False, markup=False),
    )
    table = Table(title=f"midtrain run: {recipe.name}")
    for column in ("stage", "status", "wall s"):
        table.add_column(column)
    for record in records:
        table.add_row(record.name, record.status, f"{record.wall_s:.1f}")
    console.print(table)
    report = out / "report" / "report.md"
    console.print(f"total {time.perf_counter() - start:.0f} s; report: [bold]{report}[/bold]")
    return report


def _print_dry_run(recipe, stages, run_dir: RunDir) -> None:
    import yaml

    console.print("[bold]Resolved recipe[/bold]")
    console.print(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False), highlight=False)
    table = Table(title="Stage graph (would run top to bottom)")
    for column in ("stage", "state", "key", "output"):
        table.add_column(column)
    for stage in stages:
        done = run_dir.finished_key(stage.name) == stage.key
        table.add_row(stage.name, "finished" if done else "to run", stage.key, str(stage.output))
    console.print(table)
    _print_plan_summaries(recipe)
    _print_solved_plans(recipe, run_dir.root)
    _print_curation_preview(recipe, run_dir.root)


def _print_curation_preview(recipe, root: Path, num_docs: int = 200) -> None:
    """The curate stage on the first ``num_docs`` documents per source: what each step would drop,
    and the guard's warnings (a source that would be lost says so before anything runs)."""
    from curation import CurationConfig
    from curation.preview import preview
    from curation.readers.discover import source_files
    from recipes.stages import curation_config

    config = CurationConfig.model_validate(curation_config(recipe, root))
    try:  # the demo's sources and eval sets are written by its corpus stage
        for source in config.sources:
            source_files(source)
        result = preview(config, num_docs)
    except FileNotFoundError as error:
        console.print(f"(curation preview: skipped until its inputs exist: {error})")
        return
    console.print(f"[bold]Curation preview[/bold] (first {num_docs} documents per source)")
    console.print(result.table(), highlight=False, soft_wrap=True, markup=False)
    if not result.warnings:
        console.print("curation preview: no source loses more than guard.max_drop_fraction at any step")


def _print_plan_summaries(recipe) -> None:
    """Each run's plan as planned from a stand-in inventory: the phases, budgets and domain targets."""
    table = Table(title="Plan summary (phases and domain targets as configured)")
    for column in ("run", "phase", "tokens", "targets", "general floor"):
        table.add_column(column)
    runs = ({"base": recipe.base} if recipe.base else {}) | dict(recipe.runs)
    for name, spec in runs.items():
        plan = spec.plan
        for phase in plan.get("phases", []):
            tokens = _phase_tokens(plan, phase)
            targets = ", ".join(f"{k} {v}" for k, v in (phase.get("domain_targets") or {}).items())
            table.add_row(
                name,
                str(phase.get("name")),
                f"{tokens:,}" if isinstance(tokens, int) else tokens,
                targets or phase.get("strategy", "natural"),
                str(plan.get("min_general_share", "-")),
            )
    console.print(table)


def _phase_tokens(plan: dict, phase: dict) -> int | str:
    """A phase's budget in tokens: its own ``tokens``, else ``fraction`` x the plan's ``total_tokens``."""
    if phase.get("tokens") is not None:
        return int(phase["tokens"])
    if phase.get("fraction") is not None and plan.get("total_tokens") is not None:
        return round(float(phase["fraction"]) * float(plan["total_tokens"]))
    return "-"


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        recipe: Annotated[
            str, typer.Argument(help="Recipe YAML file, or a preset name (see `midtrain run --help`).")
        ],
        out: Annotated[
            Path, typer.Option("--out", help="Run folder (resumed when it holds this recipe).")
        ] = Path("runs/recipe"),
        set_: Annotated[
            list[str], typer.Option("--set", help="Override a key: --set train.seed=3 (repeatable).")
        ] = [],  # noqa: B006
        from_stage: Annotated[
            str | None, typer.Option("--from", help=f"Re-run from this stage ({', '.join(STAGES)}).")
        ] = None,
        until_stage: Annotated[str | None, typer.Option("--until", help="Stop after this stage.")] = None,
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="Print the resolved recipe, stage graph and plans; run nothing."),
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Use --out even if it holds another recipe (wipes it).")
        ] = False,
    ) -> None:
        """Run a recipe end to end: curate -> plan -> tokenize -> train -> average -> eval -> report.

        Finished stages are skipped on rerun; a changed key re-runs only the stages it affects;
        a killed run resumes from the last finished stage (and inside training from the last checkpoint).
        """
        run_recipe(
            recipe,
            out,
            overrides=set_,
            from_stage=from_stage,
            until_stage=until_stage,
            dry_run=dry_run,
            force=force,
        )

    @app.command("demo")
    def demo_command(
        out: Annotated[Path, typer.Option("--out", help="Run folder for the demo.")] = Path("runs/demo"),
        scale: Annotated[
            float,
            typer.Option("--scale", help="Size multiplier (corpus and steps); 1.0 takes ~4 min on 2 cores."),
        ] = 1.0,
        force: Annotated[
            bool, typer.Option("--force", help="Start over in --out even if it holds another run.")
        ] = False,
    ) -> None:
        """The whole mid-training stage on an embedded multi-domain corpus, in minutes on a CPU.

        Builds the corpus (stdlib docstrings, stdlib code, generated math), curates it, plans the
        mixtures, trains a tiny base model then anneals it with and without a reserved general
        share, evaluates per-domain held-out loss and writes a report with plots.
        """
        run_recipe("demo", out, overrides=[f"scale={scale}"], force=force)


def _print_solved_plans(recipe, root: Path) -> None:
    """When the run folder already has a tokenized inventory, solve each plan and show its shares."""
    inventory_path = root / "tokens" / "inventory.parquet"
    if not inventory_path.is_file():
        console.print("(plans are solved once tokenization has written tokens/inventory.parquet)")
        return
    import polars as pl

    from mixing import MixConfig, plan_mixture

    inventory = pl.read_parquet(inventory_path)
    runs = ({"base": recipe.base} if recipe.base else {}) | dict(recipe.runs)
    table = Table(title=f"Solved plans on {inventory_path}")
    for column in ("run", "phase", "domain", "share", "tokens", "epochs"):
        table.add_column(column)
    for name, spec in runs.items():
        section = dict(spec.plan)
        if section.get("total_tokens"):
            section["total_tokens"] = int(section["total_tokens"] * recipe.scale)
        plan = plan_mixture(inventory, MixConfig.model_validate(section))
        by_domain = plan.group_by("phase_name", "domain", maintain_order=True).agg(
            pl.col("share").sum(), pl.col("num_tokens").sum(), pl.col("epochs").max()
        )
        for row in by_domain.filter(pl.col("share") > 0).iter_rows(named=True):
            table.add_row(
                name,
                row["phase_name"],
                row["domain"],
                f"{row['share']:.3f}",
                f"{row['num_tokens']:,}",
                f"{row['epochs']:.2f}",
            )
    console.print(table)
