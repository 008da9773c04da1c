"""The search-toy preset end to end with the real trainer and evaluation: 8 proxies, a fitted law,
the proposal and the prior trained at the run's size, the report's predicted-vs-measured check.
Shrunk further than the preset (fewer steps, shorter eval) to keep the suite's time."""

import json
import re

import numpy as np
import polars as pl
import pytest

from mixing.search_space import feasible_mask
from recipes.commands import run_recipe
from recipes.config import load_recipe
from recipes.search_stages import full_space

SMALL = [
    "runs.anneal.plan.total_tokens=10240",  # 10 steps at run size
    "search.proxy.total_tokens=2048",  # 4 steps per proxy; the pool is cut to 1/5 as in the preset
    "search.num_candidates=2000",
    "eval.max_tokens_per_domain=1024",
]


@pytest.mark.slow
def test_search_toy_proposes_a_feasible_mixture_and_checks_it_at_run_size(tmp_path):
    run_recipe("search-toy", tmp_path, overrides=SMALL)
    recipe = load_recipe("search-toy", overrides=SMALL)
    space = full_space(recipe, pl.read_parquet(tmp_path / "tokens" / "inventory.parquet"))

    swarm = pl.read_parquet(tmp_path / "proxies" / "swarm" / "swarm.parquet")
    assert swarm.height == 8 and (swarm["status"] == "ok").all()
    assert feasible_mask(space, swarm.select(space.names).to_numpy()).all()  # floor and caps, every proxy
    pool = json.loads((tmp_path / "proxies" / "pool" / "pool.json").read_text())
    assert pool["fraction"] == pytest.approx(2048 / 10240)
    full = pl.read_parquet(tmp_path / "tokens" / "inventory.parquet").sort("source")
    cut = pl.read_parquet(tmp_path / "proxies" / "pool" / "inventory.parquet").sort("source")
    ratio = cut["num_tokens"].to_numpy() / full["num_tokens"].to_numpy()
    assert ((ratio >= 0.2) & (ratio < 0.3)).all()  # each source cut to ~1/5 (whole documents)

    proposal = json.loads((tmp_path / "search" / "proposal.json").read_text())
    mixture = np.array([[proposal["mixture"][n] for n in space.names]])
    assert feasible_mask(space, mixture, tol=1e-6).all()
    plan = pl.read_parquet(tmp_path / "plans" / "anneal" / "plan.parquet")
    shares = dict(plan.group_by("domain").agg(pl.col("share").sum()).iter_rows())
    for name in space.names:  # the run trained on the proposal, to whole sequences
        assert shares.get(name, 0.0) == pytest.approx(proposal["mixture"][name], abs=0.02)

    report = (tmp_path / "report" / "report.md").read_text()
    section = report.split("## Mixture search")[1].split("\n## ")[0]
    number = r"\d+\.\d{4}"
    assert re.search(rf"\| proposal \| anneal \|.*\| {number} \| {number} \|", section)
    assert re.search(rf"\| prior \| anneal-prior \|.*\| {number} \| {number} \|", section)
    assert "Fit quality, out of fold over the proxies: R^2" in section
    assert (tmp_path / "report" / "search.png").is_file()
