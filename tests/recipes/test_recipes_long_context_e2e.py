"""A second preset for real at toy size: long-context extension (RoPE ABF + 256 -> 512 tokens)."""

import json

import polars as pl
import pytest

from recipes.commands import run_recipe


@pytest.mark.slow
def test_long_context_preset_extends_rope_and_probes_lengths(tmp_path):
    out = tmp_path / "lc"
    run_recipe("long-context", out, overrides=["scale=0.3"])
    hf = sorted((out / "runs" / "extend" / "seed0" / "hf").glob("step_*"))[-1]
    config = json.loads((hf / "config.json").read_text())
    rope = config.get("rope_parameters") or {}
    assert rope.get("rope_theta", config.get("rope_theta")) == 100000.0
    assert config["max_position_embeddings"] == 512
    plan = pl.read_parquet(out / "plans" / "extend" / "plan.parquet")
    assert sorted(set(plan["seq_len"])) == [256, 512]  # the two-stage sequence-length schedule
    frame = pl.read_parquet(out / "eval" / "eval.parquet").filter(pl.col("task") == "passkey")
    assert {"base", "extend"} <= set(frame["checkpoint"])
    assert (out / "eval" / "longcontext_passkey.png").is_file()
