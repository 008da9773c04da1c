"""Every model midtrain writes loads with plain transformers and stops generating at the tokenizer's EOS.

Also: the state file beside each export records where training stood (step, tokens, LR, schedule,
seq_len, RoPE, plan digest), and averages keep the same special tokens.
"""

import json

import pytest

from training.average import average_checkpoints
from training.trainer import train
from training.trainer.testing import (
    assert_export_agrees_and_stops_at_eos,
    read_metrics,
    tiny_train_config,
    write_tiny_workspace,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    # vocab 256: EOS is id 255, far from the LlamaConfig defaults (bos 1, eos 2) that leaked before
    write_tiny_workspace(root, phases=[{"web": 16, "code": 16}, {"web": 8, "code": 24}])
    runs = []
    for seed in (0, 1):
        cfg = tiny_train_config(
            root,
            run_dir=root / f"run{seed}",
            seed=seed,
            scheduler={"kind": "wsd", "decay_fraction": 0.5, "final_lr": 1e-4},
            checkpoint={"final_export": True},
        )
        runs.append(train(cfg))
    return root, runs


def test_training_export_agrees_and_generation_stops_at_eos(exported):
    _, runs = exported
    assert_export_agrees_and_stops_at_eos(runs[0].final_hf_dir)


def test_state_file_records_where_training_stood(exported):
    root, runs = exported
    result = runs[0]
    state = json.loads((result.final_hf_dir / "midtrain_state.json").read_text())
    last = read_metrics(result.metrics_path)[-1]
    assert state["step"] == result.final_step == last["step"]
    assert state["tokens"] == last["tokens"]
    assert state["lr"] == pytest.approx(last["lr"]) and state["lr"] == pytest.approx(1e-4)
    assert state["schedule"]["kind"] == "wsd" and state["schedule"]["max_steps"] == result.final_step
    assert state["seq_len"] == last["seq_len"] == 32
    assert (
        state["max_position_embeddings"]
        == json.loads((result.final_hf_dir / "config.json").read_text())["max_position_embeddings"]
    )
    assert state["rope_parameters"]["rope_theta"] > 0
    import hashlib

    digest = hashlib.sha256((root / "plan.parquet").read_bytes()).hexdigest()[:16]
    assert state["plan_digest"] == digest
    assert (root / "run0" / "checkpoints" / f"step_{result.final_step}").samefile(state["checkpoint"])


def test_average_keeps_the_tokenizer_special_tokens(exported, tmp_path):
    _, runs = exported
    out = average_checkpoints([r.final_hf_dir for r in runs], tmp_path / "soup")
    assert_export_agrees_and_stops_at_eos(out)
    state = json.loads((out / "midtrain_state.json").read_text())
    assert len(state["averaged_from"]) == 2 and state["checkpoint"] is None
