"""End-to-end single-process training on a tiny workspace, clear errors on bad input, NaN stop."""

import json

import polars as pl
import pytest
import torch

from training.schema import METRICS_KEYS
from training.trainer import NonFiniteLossError, train
from training.trainer.callbacks import Callback
from training.trainer.loop import default_callbacks
from training.trainer.testing import read_metrics, tiny_train_config, write_tiny_workspace


def test_train_end_to_end_writes_metrics_checkpoints_and_hf(tmp_path):
    write_tiny_workspace(tmp_path, phases=[{"web": 48, "code": 16}, {"web": 8, "code": 24}])
    cfg = tiny_train_config(
        tmp_path,
        scheduler={"kind": "wsd", "warmup_steps": 2, "align_decay_to_last_phase": True},
        checkpoint={"every_steps": 4, "keep_last": 1, "export_hf_steps": [3]},
    )
    result = train(cfg)
    rows = read_metrics(result.metrics_path)
    assert result.final_step == 12 == len(rows)  # (64 + 32) sequences * 32 tokens / 256 per step
    assert all(k in rows[0] for k in METRICS_KEYS) and {"loss/general", "loss/code", "mfu"} <= rows[0].keys()
    assert rows[-1]["loss"] < rows[0]["loss"] - 0.3  # it learns
    assert rows[-1]["lr"] == 0.0 and rows[7]["lr"] == 3e-3  # decay starts at the last phase (step 8)
    assert [r["phase"] for r in rows] == [0] * 8 + [1] * 4
    assert rows[-1]["tokens"] == 12 * 256
    run = result.run_dir
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_12"]  # keep_last=1
    assert (run / "hf" / "step_3" / "model.safetensors").is_file()
    for png in ("loss.png", "lr.png", "schedule.png"):
        assert (run / png).stat().st_size > 1000
    record = json.loads((run / "config.json").read_text())
    assert record["max_steps"] == 12 and "torch" in record["versions"]


def test_final_hf_export_loads_with_tokenizer_and_same_logits(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = tiny_train_config(tmp_path, max_steps=3, checkpoint={"final_export": True})
    result = train(cfg)
    assert result.final_hf_dir == result.run_dir / "hf" / "step_3"
    model = AutoModelForCausalLM.from_pretrained(result.final_hf_dir)
    tok = AutoTokenizer.from_pretrained(result.final_hf_dir)
    assert tok.eos_token == "<|endoftext|>" and tok.pad_token is not None
    assert model.config.eos_token_id == tok.eos_token_id
    # the exported weights are the trained ones: the loss on a training-like sequence is below chance
    ids = torch.arange(1, 33).unsqueeze(0)
    loss = model(input_ids=ids, labels=ids).loss.item()
    assert loss < torch.log(torch.tensor(256.0)).item()


def test_bad_inputs_fail_before_the_first_step(tmp_path):
    tokens, plan = write_tiny_workspace(tmp_path)
    with pytest.raises(FileNotFoundError, match="plan_path"):
        train(tiny_train_config(tmp_path, plan_path=tmp_path / "nope.parquet"))
    frame = pl.read_parquet(plan)
    extra = frame.head(1).with_columns(source=pl.lit("ghost"))
    pl.concat([frame, extra]).write_parquet(tmp_path / "ghost.parquet")
    with pytest.raises(FileNotFoundError, match=r"\['ghost'\]"):
        train(tiny_train_config(tmp_path, plan_path=tmp_path / "ghost.parquet"))
    with pytest.raises(ValueError, match="tokenizer.json has 256 tokens but the model's embeddings hold 128"):
        train(tiny_train_config(tmp_path, model={"tiny": {"vocab_size": 128, "hidden_size": 64}}))
    with pytest.raises(ValueError, match=r"seq_len 32 exceeds .*\(max_position_embeddings=16\)"):
        train(tiny_train_config(tmp_path, model={"tiny": {"max_position_embeddings": 16, "hidden_size": 64}}))
    with pytest.raises(ValueError, match="global_batch_tokens: 200 is not a multiple"):
        train(tiny_train_config(tmp_path, global_batch_tokens=200))
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


class _Poison(Callback):
    """Corrupts one weight after step 2 so step 3's loss is NaN."""

    def on_step_end(self, trainer, metrics):
        if trainer.step == 2:
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))


def test_nan_loss_stops_with_last_good_checkpoint_and_names_step_and_sources(tmp_path):
    cfg = tiny_train_config(tmp_path, max_steps=6)
    with pytest.raises(NonFiniteLossError, match=r"step 3: non-finite loss .* source\(s\) \['code', 'web'\]"):
        train(cfg, callbacks=[*default_callbacks(), _Poison()])
    ckpt = tmp_path / "run" / "checkpoints" / "step_2"
    assert json.loads((ckpt / "trainer_state.json").read_text())["step"] == 2
    assert len(read_metrics(tmp_path / "run" / "metrics.jsonl")) == 2
