"""``midtrain search RECIPE``: a recipe's stages up to its mixture search, then the proposal table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def run_search(recipe_path: str | Path, out: Path, *, overrides: list[str] = (), force: bool = False) -> dict:
    """Run (or resume) ``recipe_path`` up to and including ``search.fit``; returns proposal.json."""
    from recipes.commands import run_recipe
    from recipes.config import load_recipe

    recipe = load_recipe(recipe_path, overrides=list(overrides))
    if recipe.search is None:
        raise ValueError(
            f"{recipe_path}: search: the recipe has no search section (see docs/mixing_search.md)"
        )
    run_recipe(recipe_path, out, overrides=overrides, until_stage="search", force=force)
    proposal = json.loads((out / "search" / "proposal.json").read_text())
    console.print(search_table(proposal), highlight=False)
    console.print(f"proposal: {out / 'search' / 'proposal.json'}; plot: {out / 'search' / 'search.png'}")
    return proposal


def search_table(proposal: dict) -> Table:
    method = proposal["method"] + (f" ({proposal['law']} law)" if proposal.get("law") else "")
    quality = ""
    if proposal.get("r2_heldout") is not None:
        quality = (
            f"; out-of-fold R^2 {proposal['r2_heldout']:.2f}, Spearman {proposal['spearman_heldout']:.2f}"
        )
    table = Table(
        title=f"mixture search for run {proposal['run']}: {method}, "
        f"{proposal['num_fitted']}/{proposal['num_proxies']} proxies{quality}"
    )
    for column in ("mixture", *proposal["names"], "predicted objective"):
        table.add_column(column)
    for label, shares, predicted in (
        ("prior", proposal["prior"], proposal.get("predicted_prior_objective")),
        ("proposal", proposal["mixture"], proposal.get("predicted_objective")),
    ):
        table.add_row(
            label,
            *(f"{shares[n]:.3f}" for n in proposal["names"]),
            "-" if predicted is None else f"{predicted:.4f}",
        )
    for failed in proposal.get("failed") or []:
        table.add_row(
            f"proxy {failed['proxy']} {failed['status']}", *["-"] * len(proposal["names"]), failed["error"]
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command("search")
    def search_command(
        recipe: Annotated[str, typer.Argument(help="Recipe YAML with a search: section, or a preset name.")],
        out: Annotated[
            Path, typer.Option("--out", help="Run folder (resumed: finished proxies are kept).")
        ] = Path("runs/search"),
        set_: Annotated[
            list[str], typer.Option("--set", help="Override a key: --set search.num_proxies=16 (repeatable).")
        ] = [],  # noqa: B006
        force: Annotated[
            bool, typer.Option("--force", help="Use --out even if it holds another recipe (wipes it).")
        ] = False,
    ) -> None:
        """Search a run's mixture: proxies with the real trainer, a fitted mixture law, the proposal.

        Runs the recipe's stages up to the search (corpus, curate, tokenize, base, search) and
        prints the prior and the proposed mixture with their predicted objective and the fit's
        out-of-fold R^2 and Spearman. `midtrain run` on the same --out then trains the proposal.
        """
        run_search(recipe, out, overrides=set_, force=force)
