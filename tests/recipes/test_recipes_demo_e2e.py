"""The demo recipe end to end at a tiny size: every stage's files, their schemas, and the results.

One run is shared by the tests of this module (it is the slow part of the suite).
"""

import json

import polars as pl
import pytest

from recipes.commands import run_recipe
from recipes.curation_check import planted_defects_table

# The anneal trains under torchrun with 2 ranks (8 sequences each = the 16-sequence global batch),
# so the recipe's launcher is exercised too.
TINY = [
    "scale=0.12",
    "runs.anneal.train.log_every=2",
    "base.train.log_every=2",
    "runs.anneal.launcher.nproc_per_node=2",
    "runs.anneal.train.micro_batch_size=8",
]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    report = run_recipe("demo", out, overrides=TINY)
    return out, report


@pytest.mark.slow
def test_every_stage_wrote_its_files_with_their_schemas(demo_run):
    from curation.schema import read_inventory
    from evaluation.schema import check_eval
    from mixing.schema import read_plan

    out, report = demo_run
    inventory = read_inventory(out / "curate" / "inventory.parquet")
    assert set(inventory["source"]) == {"general", "code", "math"}
    assert (out / "curate" / "reports" / "funnel.png").is_file()
    for source in ("general", "code", "math"):
        assert list((out / "tokens" / source).glob("*.ds")), f"no token shards for {source}"
        assert list((out / "curate" / "heldout" / source).glob("*.jsonl*")), f"no held-out slice for {source}"
    for plan_dir in (out / "base" / "plan", out / "plans" / "anneal", out / "plans" / "no-replay"):
        plan = read_plan(plan_dir / "plan.parquet")
        assert (plan_dir / "plan.png").is_file()
        shares = plan.group_by("phase").agg(pl.col("share").sum())["share"].to_list()
        assert all(abs(s - 1) < 1e-6 for s in shares)
    anneal = read_plan(out / "plans" / "anneal" / "plan.parquet")
    general_share = anneal.filter(pl.col("domain") == "general")["share"].sum()
    assert general_share >= 0.5 - 1e-9  # the reserved general share holds
    assert (out / "runs" / "anneal" / "seed0" / "train_config.yaml").is_file()  # launched by torchrun
    for run in ("base/run", "runs/anneal/seed0", "runs/no-replay/seed0"):
        assert list((out / run / "hf").glob("step_*/config.json")), f"{run} exported no HF model"
    frame = check_eval(pl.read_parquet(out / "eval" / "eval.parquet"))
    assert {"base", "anneal", "no-replay"} <= set(frame["checkpoint"])
    text = report.read_text()
    for section in (
        "## Curation",
        "## Mixture plans",
        "## Training",
        "## Evaluation",
        "## Does mid-training work here?",
    ):
        assert section in text
    assert (out / "report" / "loss_curves.png").is_file()
    # The decay and constant-LR controls follow one plan, so their losses pair batch by batch.
    decay_plan = read_plan(out / "plans" / "decay-general" / "plan.parquet")
    assert decay_plan.equals(read_plan(out / "plans" / "constant-general" / "plan.parquet"))
    assert (out / "report" / "decay_vs_constant.png").is_file()
    assert "(c) the decay phase gives the characteristic loss drop" in text and "(c')" in text
    assert json.loads((out / "provenance.json").read_text())["packages"]["torch"]


@pytest.mark.slow
def test_planted_duplicates_and_junk_were_removed(demo_run):
    out, _ = demo_run
    table = {
        row["defect"]: row
        for row in planted_defects_table(out / "corpus" / "ground_truth.json", out / "curate").iter_rows(
            named=True
        )
    }
    assert table["exact duplicate"]["recall"] == 1.0
    high = [row for name, row in table.items() if name.startswith("near duplicate, Jaccard 0.9")]
    assert high and high[0]["recall"] >= 0.9
    assert table["contaminated (eval item pasted in)"]["recall"] == 1.0
    for kind in ("junk: spam", "junk: too_short", "junk: boilerplate"):
        assert table[kind]["recall"] == 1.0, kind


@pytest.mark.slow
def test_training_loss_fell_and_the_anneal_helps_its_targets(demo_run):
    out, _ = demo_run
    lines = [json.loads(line) for line in (out / "base" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["loss"] < lines[0]["loss"] - 0.5
    losses = pl.read_parquet(out / "eval" / "eval.parquet").filter(pl.col("metric") == "loss")

    def loss(checkpoint, domain):
        return losses.filter((pl.col("checkpoint") == checkpoint) & (pl.col("task") == f"loss/{domain}"))[
            "value"
        ][0]

    assert loss("anneal", "math") < loss("base", "math")  # the base never saw math


@pytest.mark.slow
def test_rerun_skips_everything_and_a_changed_key_reruns_only_what_it_affects(demo_run, capsys):
    out, _ = demo_run
    capsys.readouterr()
    run_recipe("demo", out, overrides=TINY)
    log = capsys.readouterr().err
    assert "[run ]" not in log and log.count("[skip]") >= 10
    run_recipe("demo", out, overrides=[*TINY, "eval.forgetting_threshold=0.2"])
    log = capsys.readouterr().err
    ran = [line.split()[-1] for line in log.splitlines() if line.startswith("[run ]")]
    assert ran == ["eval", "report"]


@pytest.mark.slow
def test_dry_run_on_a_tokenized_run_solves_the_plans(demo_run, capsys):
    out, _ = demo_run
    capsys.readouterr()
    run_recipe("demo", out, overrides=TINY, dry_run=True)
    err = capsys.readouterr().err
    assert "Solved plans" in err and "no-replay" in err
