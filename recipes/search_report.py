"""The report's "Mixture search" section: did the proposal transfer to the run's size?

The law predicts the objective at proxy size; the runs measure it at the target size, so the two
columns are on different scales. What the check compares is the gain: the proposal's predicted
improvement over the prior (proxy scale) against the improvement measured when both are trained
at the run's size (``<run>`` on the proposal, ``<run>-prior`` on the prior).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from recipes.config import RecipeConfig
from recipes.search_config import prior_run_name
from recipes.search_proxy import ObjectiveKeyError, objective_value


def measured_objectives(recipe: RecipeConfig, root: Path) -> dict[str, float | None]:
    """The objective of ``<run>`` and ``<run>-prior`` as the eval stage measured them."""
    search = recipe.search
    labels = [search.run, prior_run_name(search.run)]
    eval_file = root / "eval" / "eval.parquet"
    if not eval_file.is_file():
        return dict.fromkeys(labels)
    frame = pl.read_parquet(eval_file)
    found: dict[str, float | None] = {}
    for label in labels:
        rows = frame.filter(pl.col("checkpoint") == label)
        metrics = {
            (r["task"] if r["task"].startswith("loss/") else f"{r['task']}:{r['metric']}"): r["value"]
            for r in rows.iter_rows(named=True)
            if r["metric"] == "loss" or not r["task"].startswith("loss/")
        }
        try:
            found[label] = objective_value(search.objective, metrics) if rows.height else None
        except ObjectiveKeyError:
            found[label] = None
    return found


def search_section(recipe: RecipeConfig, root: Path, out: Path) -> str:
    if recipe.search is None:
        return ""
    text = "## Mixture search\n\n"
    proposal_file = root / "search" / "proposal.json"
    if not proposal_file.is_file():
        return text + "No search result found (the search stage has not finished).\n"
    proposal = json.loads(proposal_file.read_text())
    names, search = proposal["names"], recipe.search
    objective = " + ".join(f"{w:g} x {k}" for k, w in search.objective.items())
    method = proposal["method"] + (f" with the {proposal['law']} law" if proposal.get("law") else "")
    text += (
        f"Run `{search.run}` trains on the mixture the search proposed ({method}, "
        f"{proposal['num_fitted']} of {proposal['num_proxies']} proxies used), `{prior_run_name(search.run)}` "
        f"on the prior. Objective (lower is better): mean of {objective}, held-out loss per domain.\n\n"
    )
    if (root / "search" / "search.png").is_file():
        shutil.copyfile(root / "search" / "search.png", out / "search.png")
        text += "![mixture search](search.png)\n\n"
    measured = measured_objectives(recipe, root)
    rows = []
    for label, run, shares, predicted in (
        ("proposal", search.run, proposal["mixture"], proposal.get("predicted_objective")),
        ("prior", prior_run_name(search.run), proposal["prior"], proposal.get("predicted_prior_objective")),
    ):
        rows.append(
            {
                "mixture": label,
                "run": run,
                **{n: round(shares[n], 3) for n in names},
                "predicted (proxy size)": _cell(predicted),
                "measured (run size)": _cell(measured.get(run)),
            }
        )
    text += _table(pl.DataFrame(rows)) + "\n"
    text += _verdict(proposal, measured, search.run) + "\n"
    if proposal.get("r2_heldout") is not None or proposal.get("spearman_heldout") is not None:
        text += (
            f"Fit quality, out of fold over the proxies: R^2 {_cell(proposal.get('r2_heldout'))}, "
            f"Spearman {_cell(proposal.get('spearman_heldout'))}.\n\n"
        )
    failed = proposal.get("failed") or []
    if failed:
        text += (
            f"{len(failed)} prox{'y' if len(failed) == 1 else 'ies'} failed and were left out of the fit:\n\n"
        )
        text += _table(pl.DataFrame(failed).select("proxy", "status", "error")) + "\n"
    return text


def _verdict(proposal: dict, measured: dict, run: str) -> str:
    predicted, predicted_prior = (
        proposal.get("predicted_objective"),
        proposal.get("predicted_prior_objective"),
    )
    got, got_prior = measured.get(run), measured.get(prior_run_name(run))
    if got is None or got_prior is None:
        return "Measured objectives: not evaluated yet.\n"
    measured_gain = got_prior - got
    line = f"Measured gain of the proposal over the prior at run size: {measured_gain:+.4f}"
    if predicted is None or predicted_prior is None:
        return line + ".\n"
    predicted_gain = predicted_prior - predicted
    transferred = (predicted_gain > 0) == (measured_gain > 0)
    return (
        f"{line}; predicted at proxy size: {predicted_gain:+.4f}. The fit "
        f"{'transferred (same sign)' if transferred else 'did not transfer (the signs differ)'}.\n"
    )


def _cell(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _table(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.width + "\n"
    return header + "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in frame.iter_rows())
