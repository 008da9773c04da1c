"""The recipe's mixture search without training: bad input, feasible proxies, resume with more
proxies, failed proxies recorded and left out of the fit, DoReMi wired. Training and evaluation
are replaced by a synthetic law here; tests/recipes/test_recipes_search_toy.py runs the real ones."""

import gzip
import json
import math

import numpy as np
import polars as pl
import pytest
import yaml

from mixing.search_space import feasible_mask
from recipes.config import load_recipe
from recipes.presets import resolve_preset
from recipes.search_mixtures import proxy_mixture
from recipes.search_stages import _doremi, _fit, full_space, proxy_keys
from recipes.stages import build_stages

INVENTORY = {"source": ["general", "math", "code"], "domain": ["general", "math", "code"]}


def _recipe(tmp_path, edit=None, overrides=()):
    raw = yaml.safe_load(resolve_preset("search-toy").read_text())
    if edit:
        edit(raw)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_recipe(path, overrides=list(overrides))


def _root(tmp_path, tokens=(40_000, 6_000, 40_000)):
    """A run folder as tokenize leaves it: the exact inventory and held-out slices per domain."""
    root = tmp_path / "run"
    (root / "tokens").mkdir(parents=True)
    pl.DataFrame({**INVENTORY, "num_tokens": list(tokens)}).write_parquet(
        root / "tokens" / "inventory.parquet"
    )
    (root / "proxies" / "pool").mkdir(parents=True)
    pl.DataFrame({**INVENTORY, "num_tokens": [n // 5 for n in tokens]}).write_parquet(
        root / "proxies" / "pool" / "inventory.parquet"
    )
    for domain in INVENTORY["domain"]:
        folder = root / "curate" / "heldout" / domain
        folder.mkdir(parents=True)
        with gzip.open(folder / "000.jsonl.gz", "wt") as f:
            f.write(json.dumps({"text": f"some {domain} text", "metadata": {"domain": domain}}) + "\n")
    return root


@pytest.fixture
def fake_training(monkeypatch):
    """_train and the proxy's evaluation replaced by a synthetic law: loss/d = 3 - share_d (+ noise
    free), so more of a domain lowers its loss; ``fail`` / ``diverge`` pick proxies that break."""
    calls = []
    state = {"fail": set(), "diverge": set()}

    def plan(recipe, spec, root, out, *, inventory=None):
        out.mkdir(parents=True, exist_ok=True)
        (out / "targets.json").write_text(json.dumps(spec.plan["phases"][0]["domain_targets"]))
        return []

    def train(recipe, spec, root, plan_dir, out, *, seed, init_dir, tokens_dir=None):
        mixture = json.loads((plan_dir / "targets.json").read_text())
        calls.append(mixture)
        if len(calls) - 1 in state["fail"]:
            raise RuntimeError("CUDA out of memory (simulated)")
        out.mkdir(parents=True, exist_ok=True)
        (out / "mixture.json").write_text(json.dumps({"mixture": mixture, "n": len(calls) - 1}))
        return out, out / "metrics.jsonl"

    def evaluate(recipe, root, model_dir, out):
        info = json.loads((model_dir / "mixture.json").read_text())
        if info["n"] in state["diverge"]:
            return {f"loss/{d}": float("nan") for d in info["mixture"]}
        return {f"loss/{d}": 3.0 - share + 0.3 * share**2 for d, share in info["mixture"].items()}

    monkeypatch.setattr("recipes.stages._plan", plan)
    monkeypatch.setattr("recipes.stages._train", train)
    monkeypatch.setattr("recipes.search_proxy.evaluate_proxy", evaluate)
    return calls, state


def _search_stage(recipe, root, name):
    return next(s for s in build_stages(recipe, root) if s.name == name)


def _run(stage):
    out = stage.output
    out.mkdir(parents=True, exist_ok=True)
    stage.run(out)
    return out


# --- bad input: one line naming the key ---------------------------------------------------------


def test_search_run_naming_no_run_fails_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"search\.run: no run 'nope' \(runs: anneal"):
        _recipe(tmp_path, overrides=["search.run=nope"])


def test_infeasible_constraints_fail_before_anything_runs(tmp_path):
    # math pinned at 0.8 leaves 0.2 for general, whose floor is 0.3
    with pytest.raises(ValueError, match=r"search: search space: min_general_share 0\.3 cannot be met"):
        _recipe(tmp_path, overrides=["search.pinned.math=0.8"])


def test_epoch_caps_no_mixture_meets_fail_in_the_stage(tmp_path):
    # 8 epochs at most of tiny math, general and code: 3 x 2k tokens cannot fill a 40k-token run
    recipe = _recipe(tmp_path)
    root = _root(tmp_path, tokens=(2_000, 2_000, 2_000))
    with pytest.raises(ValueError, match=r"search: search space: caps of the unpinned units sum to"):
        full_space(recipe, pl.read_parquet(root / "tokens" / "inventory.parquet"))


def test_objective_a_benchmark_evaluation_does_not_run_names_the_key(tmp_path):
    def edit(raw):
        raw["search"]["objective"] = {"gsm8k:exact_match": -1.0}

    with pytest.raises(
        ValueError, match=r"search\.objective\.gsm8k:exact_match: evaluation produces no task"
    ):
        _recipe(tmp_path, edit)


def test_objective_domain_without_heldout_loss_names_the_key(tmp_path, fake_training):
    recipe = _recipe(tmp_path, overrides=["search.objective.poetry=1.0"])
    root = _root(tmp_path)
    with pytest.raises(ValueError, match=r"search\.objective\.poetry: evaluation produces no held-out loss"):
        _run(_search_stage(recipe, root, "search.proxies"))
    assert not fake_training[0]  # checked before any proxy trains


def test_search_adds_the_prior_run_and_feeds_the_proposal_to_its_run(tmp_path):
    recipe = _recipe(tmp_path)
    assert recipe.runs["anneal-prior"].plan == recipe.runs["anneal"].plan
    root = tmp_path / "run"
    names = [s.name for s in build_stages(recipe, root)]
    assert (
        names.index("tokenize")
        < names.index("search.pool")
        < names.index("search.fit")
        < names.index("plan.anneal")
    )
    other = _recipe(tmp_path, overrides=["search.law=gbm"])
    keys = {s.name: s.key for s in build_stages(recipe, root)}
    other_keys = {s.name: s.key for s in build_stages(other, root)}
    assert keys["search.proxies"] == other_keys["search.proxies"]  # same proxies
    assert keys["plan.anneal"] != other_keys["plan.anneal"]  # another fit: another plan
    assert keys["plan.anneal-prior"] == other_keys["plan.anneal-prior"]


# --- proxies: feasible, resumable, failures recorded ---------------------------------------------


def test_every_proxy_mixture_is_feasible_and_stable_across_num_proxies(tmp_path):
    recipe = _recipe(tmp_path, overrides=["search.num_proxies=64", "search.max_share=0.7"])
    # math is small: 8 epochs of 4k tokens caps it at 0.4 of the 40k-token run (2x the prior)
    root = _root(tmp_path, tokens=(40_000, 2_000, 40_000))
    space = full_space(recipe, pl.read_parquet(root / "tokens" / "inventory.parquet"))
    assert space.caps["math"] == pytest.approx(4 * 2_000 / 40_960)
    mixtures = np.array([list(proxy_mixture(space, recipe.search, i).values()) for i in range(64)])
    assert feasible_mask(space, mixtures).all()
    general, math_ = space.names.index("general"), space.names.index("math")
    assert (mixtures[:, general] >= 0.3 - 1e-9).all() and (
        mixtures[:, math_] <= space.caps["math"] + 1e-9
    ).all()
    assert (mixtures <= 0.7 + 1e-9).all() and len({tuple(m) for m in mixtures.round(6)}) == 64
    fewer = _recipe(tmp_path, overrides=["search.num_proxies=4", "search.max_share=0.7"])
    assert proxy_keys(fewer, "id") == proxy_keys(recipe, "id")[:4]


def test_rerun_with_more_proxies_trains_only_the_new_ones(tmp_path, fake_training):
    calls, _ = fake_training
    root = _root(tmp_path)
    _run(_search_stage(_recipe(tmp_path, overrides=["search.num_proxies=4"]), root, "search.proxies"))
    assert len(calls) == 4
    out = _run(_search_stage(_recipe(tmp_path, overrides=["search.num_proxies=6"]), root, "search.proxies"))
    assert len(calls) == 6  # two more, the first four read back
    assert json.loads((out / "swarm.json").read_text()) == {"trained_now": 2, "reused": 4}
    swarm = pl.read_parquet(out / "swarm.parquet")
    assert swarm.height == 6 and (swarm["status"] == "ok").all()


def test_failed_and_diverged_proxies_are_recorded_and_left_out_of_the_fit(tmp_path, fake_training):
    from recipes.search_report import search_section

    calls, state = fake_training
    state["fail"], state["diverge"] = {1}, {3}
    recipe = _recipe(tmp_path, overrides=["search.num_candidates=2000"])
    root = _root(tmp_path)
    _run(_search_stage(recipe, root, "search.proxies"))
    out = _run(_search_stage(recipe, root, "search.fit"))
    proposal = json.loads((out / "proposal.json").read_text())
    assert proposal["num_proxies"] == 8 and proposal["num_fitted"] == 6
    failed = {f["proxy"]: f for f in proposal["failed"]}
    assert failed[1]["status"] == "failed" and "CUDA out of memory" in failed[1]["error"]
    assert failed[3]["status"] == "diverged" and "non-finite" in failed[3]["error"]
    proxies = pl.read_parquet(out / "proxies.parquet")
    assert math.isnan(proxies.filter(pl.col("proxy") == 3)["objective"][0])
    space = full_space(recipe, pl.read_parquet(root / "tokens" / "inventory.parquet"))
    assert feasible_mask(space, np.array([list(proposal["mixture"].values())])).all()
    # the synthetic law rewards the largest share of... every domain: the fit still runs and says so
    assert proposal["r2_heldout"] is not None and (out / "search.png").stat().st_size > 10_000
    report = tmp_path / "report"
    report.mkdir()
    text = search_section(recipe, root, report)
    assert "2 proxies failed and were left out of the fit" in text and "CUDA out of memory" in text
    assert "| proposal | anneal |" in text and "| prior | anneal-prior |" in text
    # the failed ones are retried on the next run of the stage, the good ones kept
    state["fail"], state["diverge"] = set(), set()
    _run(_search_stage(recipe, root, "search.proxies"))
    assert len(calls) == 8 + 2


def test_too_few_finished_proxies_is_one_line(tmp_path, fake_training):
    _, state = fake_training
    state["fail"] = {0, 1, 2, 3, 4}
    recipe = _recipe(tmp_path)
    root = _root(tmp_path)
    _run(_search_stage(recipe, root, "search.proxies"))
    with pytest.raises(
        ValueError,
        match=r"search: only 3 of 8 proxies finished, the fit needs 4 \(failed: proxy 0, 1, 2, 3, 4 failed: RuntimeError",
    ):
        _fit(recipe, root, tmp_path / "fit")


def test_doremi_rounds_continue_from_the_previous_round_and_move_toward_excess_loss(tmp_path, fake_training):
    calls, _ = fake_training
    recipe = _recipe(tmp_path, overrides=["search.method=doremi", "search.doremi.rounds=3"])
    root = _root(tmp_path)
    out = tmp_path / "fit"
    out.mkdir()
    _doremi(recipe, root, out, identity="id")
    assert len(calls) == 1 + 3  # reference + rounds
    proposal = json.loads((out / "proposal.json").read_text())
    history = pl.read_parquet(out / "doremi_history.parquet")
    assert history["round"].n_unique() == 3
    # the synthetic losses equal the reference's at the prior (excess 0 in round 0): smoothing only
    assert sum(proposal["mixture"].values()) == pytest.approx(1.0)
    space = full_space(recipe, pl.read_parquet(root / "tokens" / "inventory.parquet"))
    assert feasible_mask(space, np.array([list(proposal["mixture"].values())]), tol=1e-6).all()
    _doremi(recipe, root, out, identity="id")
    assert len(calls) == 4  # a rerun reads every round back


def test_search_table_and_the_docs_search_section(tmp_path):
    import re
    from pathlib import Path

    from rich.console import Console

    from recipes.search_command import search_table

    proposal = {
        "method": "regmix",
        "law": "linear",
        "run": "anneal",
        "names": ["general", "math"],
        "prior": {"general": 0.6, "math": 0.4},
        "mixture": {"general": 0.35, "math": 0.65},
        "predicted_objective": 2.5,
        "predicted_prior_objective": 2.7,
        "r2_heldout": 0.8,
        "spearman_heldout": 0.9,
        "num_proxies": 8,
        "num_fitted": 7,
        "failed": [{"proxy": 3, "status": "diverged", "error": "objective is nan"}],
    }
    console = Console(record=True, width=150)
    console.print(search_table(proposal))
    text = console.export_text()
    assert "7/8 proxies; out-of-fold R^2 0.80, Spearman 0.90" in " ".join(text.split())  # title wraps
    assert re.search(r"proposal\s*│\s*0\.350\s*│\s*0\.650\s*│\s*2\.5000", text) and "proxy 3 diverged" in text
    # the search: block of docs/mixing_search.md is a valid search section of a recipe
    doc = (Path(__file__).resolve().parents[2] / "docs" / "mixing_search.md").read_text()
    block = doc.split("## In a recipe")[1].split("```yaml\n")[1].split("```")[0]
    section = yaml.safe_load(block)["search"]
    recipe = _recipe(tmp_path, lambda raw: raw.update(search=section))
    assert recipe.search.law == "linear" and recipe.search.proxy.total_tokens == 8192


def test_parallel_proxies_run_in_worker_processes_and_failures_come_back(tmp_path):
    """parallel: 2 pickles each job (recipe included) to a spawned worker; a proxy that fails
    there (here: its data pool is missing) is recorded like one that fails in this process."""
    from recipes.search_stages import _job, run_jobs

    recipe = _recipe(tmp_path)
    root = tmp_path / "run"
    jobs = [
        _job(recipe, root, f"k{i}", f"proxy {i}", {"general": 0.5, "math": 0.25, "code": 0.25})
        for i in (0, 1)
    ]
    results = run_jobs(jobs, parallel=2)
    assert [r["label"] for r in results] == ["proxy 0", "proxy 1"]
    assert all(r["status"] == "failed" and "inventory.parquet" in r["error"] for r in results)
    assert json.loads((root / "proxies" / "runs" / "k1" / "result.json").read_text())["status"] == "failed"


def test_objective_weighs_held_out_loss_and_benchmark_rows():
    from recipes.search_proxy import ObjectiveKeyError, objective_value

    metrics = {"loss/math": 2.0, "loss/code": 3.0, "gsm8k:exact_match": 0.3}
    assert objective_value({"math": 1.0, "code": 1.0}, metrics) == pytest.approx(2.5)
    # a score to maximise takes a negative weight; the weights' absolute sum normalises
    assert objective_value({"gsm8k:exact_match": -1.0, "math": 1.0}, metrics) == pytest.approx(
        (2.0 - 0.3) / 2
    )
    with pytest.raises(
        ObjectiveKeyError, match=r"search\.objective\.humaneval:pass@1: evaluation produced no"
    ):
        objective_value({"humaneval:pass@1": -1.0}, metrics)
