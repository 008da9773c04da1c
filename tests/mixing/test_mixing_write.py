"""write_plan files, plan.json inputs, determinism of the files, soup plans, and the CLI."""

import json

import polars as pl
import typer
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from mixing import MixConfig, PhaseConfig, plan_mixture, read_plan, write_plan
from mixing.cli import register
from mixing.soup import soup_plans, write_soup_plans

INVENTORY = pl.DataFrame(
    {
        "source": ["web", "gsm", "code"],
        "domain": ["general", "math", "code"],
        "num_tokens": [2_000_000, 300_000, 400_000],
        "num_docs": [10, 3, 4],
    }
)
YAML = """
total_tokens: 1024000
seq_len: 128
tokens_per_step: 1024
min_general_share: 0.5
phases:
  - {name: stable, fraction: 0.75}
  - {name: anneal, fraction: 0.25, domain_targets: {general: 0.5, math: 0.3, code: 0.2}}
"""


def _config():
    return MixConfig(
        total_tokens=1_024_000,
        seq_len=128,
        tokens_per_step=1024,
        min_general_share=0.5,
        phases=[
            PhaseConfig(name="stable", fraction=0.75),
            PhaseConfig(
                name="anneal", fraction=0.25, domain_targets={"general": 0.5, "math": 0.3, "code": 0.2}
            ),
        ],
    )


def test_write_plan_round_trip_and_records_inputs(tmp_path):
    plan = plan_mixture(INVENTORY, _config())
    path = write_plan(plan, tmp_path / "a", config=_config(), inventory=INVENTORY)
    assert path == tmp_path / "a" / "plan.parquet"
    assert_frame_equal(read_plan(path), plan)
    meta = json.loads((tmp_path / "a" / "plan.json").read_text())
    assert meta["config"]["min_general_share"] == 0.5 and meta["inventory_digest_of"] == "inventory"
    assert meta["num_tokens"] == 1_024_000
    assert (tmp_path / "a" / "plan.png").stat().st_size > 10_000
    write_plan(plan_mixture(INVENTORY, _config()), tmp_path / "b", config=_config(), inventory=INVENTORY)
    for name in ("plan.parquet", "plan.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_soup_plans_differ_only_in_seed(tmp_path):
    plan = plan_mixture(INVENTORY, _config())
    soup = soup_plans(plan, seeds=[0, 1, 2])
    assert soup["seed"].unique().sort().to_list() == [0, 1, 2]
    parts = [soup.filter(pl.col("seed") == s).drop("seed") for s in (0, 1, 2)]
    assert_frame_equal(parts[0], parts[2])
    paths = write_soup_plans(plan, tmp_path, config=_config(), seeds=[3, 4])
    assert [read_plan(p)["seed"].unique().to_list() for p in paths] == [[3], [4]]


def test_cli_plan(tmp_path):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # keep `plan` a subcommand
    INVENTORY.write_parquet(tmp_path / "inventory.parquet")
    (tmp_path / "mix.yaml").write_text(YAML)
    result = CliRunner().invoke(
        app,
        [
            "plan",
            str(tmp_path / "inventory.parquet"),
            "--config",
            str(tmp_path / "mix.yaml"),
            "--out",
            str(tmp_path / "plan"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "anneal" in result.output and "plan.parquet" in result.output
    assert read_plan(tmp_path / "plan" / "plan.parquet").height == 6
    # an infeasible request writes nothing
    (tmp_path / "bad.yaml").write_text(YAML + "max_epochs: 0.2\n")
    result = CliRunner().invoke(
        app,
        [
            "plan",
            str(tmp_path / "inventory.parquet"),
            "--config",
            str(tmp_path / "bad.yaml"),
            "--out",
            str(tmp_path / "bad"),
        ],
    )
    assert result.exit_code != 0 and "max_epochs" in str(result.exception)
    assert not (tmp_path / "bad").exists()
