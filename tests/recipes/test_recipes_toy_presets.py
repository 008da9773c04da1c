"""Every real-size preset also runs for real at toy size (`profile=toy`) on the demo corpus."""

import json

import polars as pl
import pytest

from recipes.commands import run_recipe
from recipes.config import load_recipe


def test_profile_merges_over_the_recipe_and_null_deletes():
    real = load_recipe("olmo2-dolmino")
    toy = load_recipe("olmo2-dolmino", overrides=["profile=toy"])
    assert real.model["init_from"] and "init_from" not in toy.model and toy.model["tiny"]
    assert "sources" in real.curate and "sources" not in toy.curate
    assert toy.runs["dolmino"].train["optimizer"]["weight_decay"] == 0.1  # merged, not replaced
    with pytest.raises(ValueError, match="profile: no profile 'huge'"):
        load_recipe("olmo2-dolmino", overrides=["profile=huge"])


def _metrics(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_olmo2_dolmino_toy_trains_two_orders_and_averages_them(tmp_path):
    run_recipe("olmo2-dolmino", tmp_path, overrides=["profile=toy"])
    frame = pl.read_parquet(tmp_path / "eval" / "eval.parquet")
    assert {"base", "dolmino/seed0", "dolmino/seed1", "dolmino/soup"} <= set(frame["checkpoint"])
    lrs = [line["lr"] for line in _metrics(tmp_path / "runs" / "dolmino" / "seed0" / "metrics.jsonl")]
    assert lrs[0] > lrs[-1] and lrs == sorted(lrs, reverse=True)  # linear to zero, no warmup


@pytest.mark.slow
def test_smollm2_toy_decays_only_in_its_last_phase(tmp_path):
    run_recipe("smollm2-stages", tmp_path, overrides=["profile=toy"])
    plan = pl.read_parquet(tmp_path / "plans" / "smollm2" / "plan.parquet")
    decay_start = plan.filter(pl.col("phase_name") == "decay")["phase_start_step"][0]
    lines = _metrics(tmp_path / "runs" / "smollm2" / "seed0" / "metrics.jsonl")
    peak = max(line["lr"] for line in lines)
    assert all(line["lr"] == pytest.approx(peak) for line in lines if 10 < line["step"] <= decay_start)
    assert lines[-1]["lr"] < 0.2 * peak


@pytest.mark.slow
def test_llama3_data_value_toy_compares_both_candidates(tmp_path):
    run_recipe("llama3-data-value", tmp_path, overrides=["profile=toy"])
    losses = pl.read_parquet(tmp_path / "eval" / "eval.parquet").filter(pl.col("metric") == "loss")

    def loss(checkpoint, domain):
        return losses.filter((pl.col("checkpoint") == checkpoint) & (pl.col("task") == f"loss/{domain}"))[
            "value"
        ][0]

    # each candidate helps its own domain more than the other candidate does
    assert loss("candidate-math", "math") < loss("candidate-qa", "math")
    assert loss("candidate-qa", "code") < loss("candidate-math", "code")
