"""A recipe anneals a user's pretrained checkpoint (the demo's exported base model, with its own
tokenizer) at the checkpoint's recorded LR, following a difficulty curriculum, and the result loads
with plain transformers and stops generating at the tokenizer's EOS."""

import json
import shutil

import pytest
import yaml

from recipes.commands import run_recipe
from recipes.config import load_recipe
from training.trainer.testing import assert_export_agrees_and_stops_at_eos, read_metrics

SCALE = "0.12"


@pytest.mark.slow
def test_recipe_anneals_a_users_hf_checkpoint_at_its_lr_with_a_curriculum(tmp_path):
    # 1. The user's checkpoint: the demo's base model, exported, copied somewhere of the user's own.
    run_recipe("demo", tmp_path / "demo", overrides=[f"scale={SCALE}"], until_stage="base")
    export = sorted((tmp_path / "demo" / "base" / "run" / "hf").glob("step_*"))[-1]
    user_model = tmp_path / "my-models" / "base"
    shutil.copytree(export, user_model)
    recorded = json.loads((user_model / "midtrain_state.json").read_text())
    assert recorded["lr"] > 0

    # 2. A hand-written recipe: no tokenizer named (the checkpoint's own is used), no LR named.
    demo = load_recipe("demo")
    recipe = {
        "name": "anneal-my-model",
        "scale": float(SCALE),
        "data": {"demo_corpus": {"scale": 1.0, "seed": 1}},
        "curate": demo.curate,
        "model": {"init_from": str(user_model)},
        "runs": {
            "anneal": {
                "init": "model",
                "plan": {
                    "total_tokens": 163840,
                    "seq_len": 128,
                    "tokens_per_step": 2048,
                    "min_general_share": 0.5,
                    "max_epochs": 8,
                    "curriculum": {"within_phase": "difficulty"},
                    "phases": [
                        {"name": "anneal", "fraction": 1.0, "domain_targets": {"general": 0.5, "math": 0.5}}
                    ],
                },
                "train": {
                    "micro_batch_size": 16,
                    "global_batch_tokens": 2048,
                    "scheduler": {"kind": "anneal", "final_lr": 0.0},
                    "log_every": 1,
                },
            }
        },
    }
    path = tmp_path / "anneal.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    out = tmp_path / "anneal"
    run_recipe(path, out, until_stage="train")

    tokenize = json.loads((out / "tokens" / "tokenize.json").read_text())
    assert tokenize["tokenizer"] == str((user_model / "tokenizer.json").resolve())
    run = out / "runs" / "anneal" / "seed0"
    record = json.loads((run / "config.json").read_text())
    assert "weights from" in record["start"] and str(user_model) in record["start"]
    assert "optimizer: fresh" in record["start"]
    assert record["data"].startswith("data: curriculum documents by difficulty")
    assert list((out / "tokens" / "math").glob("*.ds.difficulty"))  # per-document keys reached the shards
    rows = read_metrics(run / "metrics.jsonl")
    steps = len(rows)
    assert record["peak_lr"] == pytest.approx(recorded["lr"])
    assert rows[0]["lr"] == pytest.approx(recorded["lr"] * (1 - 1 / steps))  # starts at the checkpoint's LR
    assert rows[-1]["lr"] == pytest.approx(0.0)
    base_loss = json.loads((export.parent.parent / "metrics.jsonl").read_text().splitlines()[0])["loss"]
    assert rows[0]["loss"] < base_loss  # it started from the trained weights, not from scratch

    final = sorted((run / "hf").glob("step_*"))[-1]
    assert_export_agrees_and_stops_at_eos(user_model)
    assert_export_agrees_and_stops_at_eos(final)
    state = json.loads((final / "midtrain_state.json").read_text())
    assert state["step"] == steps and state["lr"] == pytest.approx(0.0) and state["seq_len"] == 128
