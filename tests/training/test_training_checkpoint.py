"""Checkpoints: exact resume on CPU, atomic saves, keep-last pruning, annealing from a checkpoint."""

import json
import shutil

import pytest

from training.trainer import train
from training.trainer.callbacks import Callback
from training.trainer.checkpoint import latest_checkpoint
from training.trainer.loop import default_callbacks
from training.trainer.testing import read_metrics, tiny_train_config, write_tiny_workspace


class _Killed(Exception):
    pass


class _KillAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, metrics):
        if trainer.step == self.step:
            raise _Killed


def test_stop_and_resume_gives_the_same_losses_as_uninterrupted(tmp_path):
    write_tiny_workspace(tmp_path, phases=[{"web": 24, "code": 8}, {"web": 8, "code": 24}])
    sched = {"kind": "wsd", "warmup_steps": 2, "decay_fraction": 0.5}
    full = train(tiny_train_config(tmp_path, run_dir=tmp_path / "full", scheduler=sched))
    # interrupted: the same run, checkpointing every 3 steps, killed right after step 4
    part = tiny_train_config(
        tmp_path, run_dir=tmp_path / "part", scheduler=sched, checkpoint={"every_steps": 3}
    )
    with pytest.raises(_Killed):
        train(part, callbacks=[*default_callbacks(), _KillAt(4)])
    state = json.loads((tmp_path / "part/checkpoints/step_3/trainer_state.json").read_text())
    assert state["step"] == 3
    resumed = train(part)
    a, b = read_metrics(full.metrics_path), read_metrics(resumed.metrics_path)
    assert [r["step"] for r in b] == list(range(1, 9))  # the killed run's step 4 line was replaced
    assert [r["loss"] for r in a] == [r["loss"] for r in b]  # bit-exact on CPU
    assert [r["lr"] for r in a] == [r["lr"] for r in b]


def test_a_crash_mid_save_leaves_the_last_good_checkpoint(tmp_path):
    cfg = tiny_train_config(
        tmp_path, max_steps=4, checkpoint={"every_steps": 2, "keep_last": 2, "final_export": False}
    )
    train(cfg)
    ckpts = tmp_path / "run" / "checkpoints"
    # a half-written save (what a crash leaves) is a .tmp_ folder, never picked for resume
    shutil.copytree(ckpts / "step_4", ckpts / ".tmp_step_6")
    (ckpts / ".tmp_step_6" / ".metadata").unlink()
    assert latest_checkpoint(ckpts) == ckpts / "step_4"
    resumed = train(cfg.model_copy(update={"max_steps": 6}))
    assert resumed.final_step == 6
    assert sorted(p.name for p in ckpts.iterdir() if not p.name.startswith(".")) == ["step_4", "step_6"]
    assert not (ckpts / ".tmp_step_6").exists()


def test_anneal_from_checkpoint_starts_at_its_lr_and_decays_to_zero(tmp_path):
    train(tiny_train_config(tmp_path, max_steps=3, optimizer={"lr": 2e-3}))
    src = tmp_path / "run" / "checkpoints" / "step_3"
    cfg = tiny_train_config(
        tmp_path,
        run_dir=tmp_path / "anneal",
        max_steps=4,
        scheduler={"kind": "anneal", "anneal_from": str(src)},
    )
    rows = read_metrics(train(cfg).metrics_path)
    assert [r["lr"] for r in rows] == pytest.approx([1.5e-3, 1e-3, 5e-4, 0.0])
    first = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert rows[0]["loss"] < first[0]["loss"] - 0.1  # it starts from the trained weights
