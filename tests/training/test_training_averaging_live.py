"""Averaging while training: RUN/hf/average is the mean (or EMA) of the window's weights, survives a
resume, and a bad window is one error before the first step."""

import json

import pytest
import torch

from training.trainer import train
from training.trainer.callbacks import Callback
from training.trainer.loop import default_callbacks
from training.trainer.testing import tiny_train_config, write_tiny_workspace


class _Snapshots(Callback):
    """The full weights after every step."""

    def __init__(self):
        self.weights = {}

    def on_step_end(self, trainer, metrics):
        self.weights[trainer.step] = {
            name: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().clone()
            for name, p in trainer.model.named_parameters()
        }


class _Killed(Exception):
    pass


class _KillAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, metrics):
        if trainer.step == self.step:
            raise _Killed


def _exported(folder):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).state_dict()


def test_average_of_the_last_steps_is_exported_beside_the_final_model(tmp_path):
    cfg = tiny_train_config(
        tmp_path,
        max_steps=8,
        averaging={"last_steps": 5, "every_steps": 2},
        checkpoint={"final_export": True},
    )
    snaps = _Snapshots()
    train(cfg, callbacks=[*default_callbacks(cfg), snaps])
    avg_dir, final_dir = cfg.run_dir / "hf" / "average", cfg.run_dir / "hf" / "step_8"
    state = json.loads((avg_dir / "midtrain_state.json").read_text())
    assert state["averaged_steps"] == [4, 6, 8] and state["step"] == 8
    avg, final = _exported(avg_dir), _exported(final_dir)
    for name, w in snaps.weights[8].items():
        expected = (snaps.weights[4][name] + snaps.weights[6][name] + snaps.weights[8][name]) / 3
        torch.testing.assert_close(avg[name], expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(final[name], w)  # the final export still holds the last weights
    assert any(not torch.allclose(avg[n], final[n]) for n in final)
    assert (avg_dir / "tokenizer.json").is_file()


def test_ema_over_the_decay_window(tmp_path):
    sched = {"kind": "wsd", "decay_fraction": 0.5}
    cfg = tiny_train_config(
        tmp_path, max_steps=6, scheduler=sched, averaging={"last_steps": "decay", "ema_decay": 0.5}
    )
    snaps = _Snapshots()
    train(cfg, callbacks=[*default_callbacks(cfg), snaps])
    state = json.loads((cfg.run_dir / "hf" / "average" / "midtrain_state.json").read_text())
    assert state["averaged_steps"] == [4, 5, 6]  # WSD decays over steps 4..6
    avg = _exported(cfg.run_dir / "hf" / "average")
    for name in avg:
        if name in snaps.weights[6]:
            w4, w5, w6 = (snaps.weights[s][name] for s in (4, 5, 6))
            torch.testing.assert_close(avg[name], 0.25 * w4 + 0.25 * w5 + 0.5 * w6, rtol=1e-5, atol=1e-6)


def test_a_resume_inside_the_window_continues_the_same_average(tmp_path):
    write_tiny_workspace(tmp_path)
    common = dict(
        max_steps=8, averaging={"last_steps": 6}, checkpoint={"every_steps": 2, "final_export": False}
    )
    full = tiny_train_config(tmp_path, run_dir=tmp_path / "full", **common)
    train(full)
    part = tiny_train_config(tmp_path, run_dir=tmp_path / "part", **common)
    with pytest.raises(_Killed):
        train(part, callbacks=[*default_callbacks(part), _KillAt(5)])
    assert (part.run_dir / "checkpoints" / "average" / "step_4" / "steps.txt").read_text().split() == [
        "3",
        "4",
    ]
    train(part)
    a, b = _exported(full.run_dir / "hf" / "average"), _exported(part.run_dir / "hf" / "average")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_decay_window_with_a_constant_lr_is_an_error(tmp_path):
    cfg = tiny_train_config(tmp_path, max_steps=2, averaging={"last_steps": "decay"})
    with pytest.raises(ValueError, match="averaging.last_steps: 'decay' needs an LR decay"):
        train(cfg)
    with pytest.raises(ValueError, match="averaging.last_steps"):
        tiny_train_config(tmp_path, averaging={"last_steps": 0})


@pytest.mark.slow
def test_the_average_resumes_on_another_world_size(tmp_path):
    import os
    import subprocess
    import sys

    import yaml

    write_tiny_workspace(tmp_path)
    common = dict(
        max_steps=8, averaging={"last_steps": 6}, checkpoint={"every_steps": 2, "final_export": False}
    )
    full = tiny_train_config(tmp_path, run_dir=tmp_path / "full", **common)
    train(full)
    part = tiny_train_config(tmp_path, run_dir=tmp_path / "part", **common)
    with pytest.raises(_Killed):
        train(part, callbacks=[*default_callbacks(part), _KillAt(5)])  # 1 rank, average of steps 3-4 saved
    (tmp_path / "part.yaml").write_text(yaml.safe_dump(json.loads(part.model_dump_json())))
    script = "import sys\nfrom training.config import TrainConfig\nfrom training.trainer import train\n"
    script += "train(TrainConfig.from_yaml(sys.argv[1]))\n"
    (tmp_path / "run.py").write_text(script)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MIDTRAIN_NUM_THREADS": "1"}
    proc = subprocess.run(
        [*cmd, str(tmp_path / "run.py"), str(tmp_path / "part.yaml")], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((part.run_dir / "hf" / "average" / "midtrain_state.json").read_text())
    assert state["averaged_steps"] == [3, 4, 5, 6, 7, 8] and state["world_size"] == 2
    a, b = _exported(full.run_dir / "hf" / "average"), _exported(part.run_dir / "hf" / "average")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
