"""Trainer guards that mutation testing (scripts/mutation.sh trainer) showed missing.

The end-to-end tests train a model and check that it learns; these pin what a user reads off a
run: the logged numbers of a step (loss weighted by tokens, per-domain losses, throughput, MFU),
the state a checkpoint records (LR, seq_len of the phase trained), how a global batch is drawn,
and gradient clipping. Most build the pieces directly on a bare Trainer, so they take no training.
"""

import dataclasses
import json
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from training.config import SchedulerConfig
from training.trainer import Trainer, train
from training.trainer import metrics as mx
from training.trainer.schedules import build_schedule
from training.trainer.testing import read_metrics, tiny_train_config, write_tiny_workspace

CPU = SimpleNamespace(world_size=1, rank=0, device=torch.device("cpu"), is_main=True)


def _batch(rows: int, seq_len: int = 8, *, domains=None, phase: int = 0, ignored: int = 1):
    """A loader-like batch; the first ``ignored`` labels of each row are -100 (a document start)."""
    labels = torch.ones(rows, seq_len, dtype=torch.long)
    labels[:, :ignored] = -100
    return SimpleNamespace(
        input_ids=torch.ones(rows, seq_len, dtype=torch.long),
        labels=labels,
        position_ids=torch.arange(seq_len).repeat(rows, 1),
        domains=domains or ["general"] * rows,
        sources=["web"] * rows,
        phase=phase,
    )


def _bare_trainer(**attrs) -> Trainer:
    t = Trainer()  # Trainer.build fills these in; a bare one lets each piece run on its own
    t.dist = CPU
    for k, v in attrs.items():
        setattr(t, k, v)
    return t


def test_a_document_curriculum_run_trains_and_names_its_key(tmp_path, capsys):
    tokens, _ = write_tiny_workspace(tmp_path)
    for source in ("web", "code"):
        num_docs = len(np.fromfile(tokens / source / "000.ds.index", dtype="<u8"))
        np.arange(num_docs, dtype="<f4").tofile(tokens / source / "000.ds.difficulty")
    result = train(tiny_train_config(tmp_path, max_steps=1, data={"curriculum": "documents"}))
    assert result.final_step == 1
    note = "data: curriculum documents by difficulty (easiest first)"
    assert note in capsys.readouterr().err
    # RUN/config.json records how the run started, beside the resolved config
    record = json.loads((result.run_dir / "config.json").read_text())
    assert {k: record[k] for k in ("max_steps", "world_size", "peak_lr", "start", "data")} == {
        "max_steps": 1,
        "world_size": 1,
        "peak_lr": 3e-3,
        "start": "model: fresh init",
        "data": note,
    }
    assert record["num_params"] > 100_000


def test_accumulate_sums_loss_and_target_count_per_domain_and_overall():
    t = _bare_trainer(domains=["code", "general"])
    stats = dict.fromkeys(t.stat_keys, 0.0)
    batch = _batch(3, 4, domains=["general", "code", "general"])
    token_loss = torch.tensor([[0.0, 1.0, 2.0, 0.0], [0.0, 4.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0]])
    mask = torch.tensor([[0, 1, 1, 0], [0, 1, 0, 0], [0, 1, 1, 0]], dtype=torch.bool)
    Trainer.accumulate(stats, batch, token_loss, mask)
    Trainer.accumulate(stats, batch, token_loss, mask)  # a second micro batch adds up
    assert stats == {
        "sum/all": 16.0,
        "count/all": 10,
        "sum/code": 8.0,
        "count/code": 2,
        "sum/general": 8.0,
        "count/general": 8,
    }
    with pytest.raises(AssertionError, match="batch domain 'math' is not in the plan"):
        Trainer.accumulate(stats, _batch(1, 4, domains=["math"]), token_loss[:1], mask[:1])


def test_step_metrics_are_token_weighted_and_throughput_is_tokens_over_time():
    hf_config = SimpleNamespace(num_hidden_layers=2, num_attention_heads=4, head_dim=16, hidden_size=64)
    t = _bare_trainer(
        step=3,
        tokens=3 * 512,
        domains=["code", "general", "math"],
        num_params_non_embedding=10_000,
        hf_config=hf_config,
        peak_flops=1e12,
        dist=SimpleNamespace(world_size=2, rank=0, device=torch.device("cpu"), is_main=True),
    )
    stats = {"sum/code": 6.0, "count/code": 3.0, "sum/general": 2.0, "count/general": 4.0}
    stats |= {"sum/math": 0.0, "count/math": 0.0}
    micro = [_batch(4, 32, phase=1), _batch(4, 32, phase=1)]
    m = t.step_metrics(stats, 8.0 / 7.0, 1e-3, 0.25, micro, 512, 0.5)
    assert (m["step"], m["tokens"], m["lr"], m["grad_norm"]) == (3, 1536, 1e-3, 0.25)
    assert (m["phase"], m["seq_len"], m["step_time_s"]) == (1, 32, 0.5)
    assert m["tokens_per_s"] == 1024.0
    flops = mx.flops_per_token(10_000, hf_config, 32)  # counts the sequence's attention
    assert flops == 6 * 10_000 + 12 * 2 * 4 * 16 * 32
    assert m["mfu"] == pytest.approx(flops * 1024.0 / (1e12 * 2))  # the peak of every rank
    assert m["loss/code"] == 2.0 and m["loss/general"] == 0.5  # sum / targets of that domain
    assert "loss/math" not in m  # a domain with no target in this step is not logged as 0 or NaN
    assert m["memory_gb"] > 0
    # a step timed at 0 s (coarse clock) still logs a finite throughput
    assert np.isfinite(t.step_metrics(stats, 1.0, 1e-3, 0.25, micro, 512, 0.0)["tokens_per_s"])


def test_recorded_seq_len_is_the_phase_of_the_last_trained_step():
    # phases start at optimizer steps 0 and 4 (steps 1-4 train phase 0, step 5 on phase 1)
    t = _bare_trainer(phase_starts=[0, 4, 6], seq_lens=[32, 64, 128])
    got = {}
    for step in range(8):
        t.step = step
        got[step] = t.current_seq_len()
    assert got == {0: 32, 1: 32, 2: 32, 3: 32, 4: 32, 5: 64, 6: 64, 7: 128}


def _state_trainer(**attrs) -> Trainer:
    sched = SchedulerConfig.model_validate({"kind": "wsd", "warmup_steps": 2, "decay_fraction": 0.5})
    base = dict(
        step=7,
        tokens=7 * 256,
        max_steps=8,
        peak_lr=1e-3,
        schedule=build_schedule(sched, max_steps=8, peak_lr=1e-3),
        phase_starts=[0, 4],
        seq_lens=[32, 64],
        plan_digest="abc123",
        dist=SimpleNamespace(world_size=2, rank=0, device=torch.device("cpu"), is_main=True),
    )
    return _bare_trainer(**(base | attrs))


def test_trainer_state_records_the_lr_of_the_last_step_and_the_run():
    t = _state_trainer()
    schedule = t.schedule
    assert t.trainer_state() == {
        "step": 7,
        "tokens": 1792,
        "lr": schedule.lr_at(7),
        "max_steps": 8,
        "world_size": 2,
        "peak_lr": 1e-3,
        "schedule": dataclasses.asdict(schedule),
        "seq_len": 64,
        "plan_digest": "abc123",
    }
    assert t.trainer_state()["lr"] == pytest.approx(2.5e-4)  # 3/4 down the decay (steps 4-8)
    t.step = 0  # before the first step: the LR step 1 will use, not the warm-up's 0 at step 0
    assert t.trainer_state()["lr"] == schedule.lr_at(1) == pytest.approx(5e-4)


def test_micro_batches_fill_one_global_batch_and_warn_when_the_data_runs_out():
    t = _bare_trainer(config=SimpleNamespace(global_batch_tokens=64), step=5, max_steps=9)
    batches = iter([_batch(2, 8) for _ in range(9)])  # 16 tokens each: four make a global batch
    assert len(t.next_micro_batches(batches)) == 4
    assert len(t.next_micro_batches(batches)) == 4
    with pytest.warns(UserWarning, match="data ran out at step 5 of 9; stopping early"):
        assert t.next_micro_batches(batches) == []  # one batch left: not a whole step
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(t.next_micro_batches(iter([_batch(8, 8)]))) == 1  # one batch can fill a step


def _model_with_grads() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    model(torch.randn(5, 4)).pow(2).sum().mul(100).backward()
    return model


def test_clipping_returns_the_norm_before_clipping_and_caps_the_gradient():
    model = _model_with_grads()
    norm = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()])).item()
    assert norm > 1.0
    t = _bare_trainer(model=model, config=SimpleNamespace(optimizer=SimpleNamespace(clip=1.0)))
    assert t.clip_gradients() == pytest.approx(norm)  # logged grad_norm: the unclipped one
    clipped = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()])).item()
    assert clipped == pytest.approx(1.0, rel=1e-4)
    model = _model_with_grads()
    before = [p.grad.clone() for p in model.parameters()]
    t = _bare_trainer(model=model, config=SimpleNamespace(optimizer=SimpleNamespace(clip=None)))
    assert t.clip_gradients() == pytest.approx(norm)  # clip: null leaves the gradient alone
    assert all(torch.equal(a, p.grad) for a, p in zip(before, model.parameters(), strict=True))


def test_export_state_records_positions_rope_checkpoint_and_start(tmp_path):
    hf_config = SimpleNamespace(max_position_embeddings=4096, rope_parameters={"rope_theta": 1e4})
    t = _state_trainer(hf_config=hf_config, run_dir=tmp_path, start_note="model: fresh init")
    state = t.export_state()
    assert state == {
        **t.trainer_state(),
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_theta": 1e4},
        "checkpoint": None,  # no step_7 checkpoint on disk: none is named
        "init": "model: fresh init",
    }
    (tmp_path / "checkpoints" / "step_7").mkdir(parents=True)
    assert t.export_state()["checkpoint"] == str((tmp_path / "checkpoints" / "step_7").resolve())


class _RecordingCheckpointer:
    def __init__(self):
        self.calls = []

    def load(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return {}, {}


def test_start_note_names_the_init_and_a_dcp_init_loads_weights_without_the_loader_state():
    def trainer(init, *, config_from=None, load_optimizer=True):
        model_cfg = SimpleNamespace(config_from=config_from, load_optimizer=load_optimizer)
        return _bare_trainer(
            init=init,
            config=SimpleNamespace(model=model_cfg),
            checkpointer=_RecordingCheckpointer(),
            model="MODEL",
            optimizer="OPTIMIZER",
        )

    assert trainer(None).load_init_weights() == "model: fresh init"
    assert trainer(None, config_from="cfg.json").load_init_weights() == "model: fresh init from config"
    hf = SimpleNamespace(kind="hf", location="/runs/a/hf/step_4")
    assert trainer(hf).load_init_weights() == (
        "model: hf weights from /runs/a/hf/step_4; optimizer: fresh (an HF folder holds no optimizer state)"
    )
    dcp = SimpleNamespace(kind="dcp", location="/runs/a/checkpoints/step_4")
    for load_optimizer, note in (
        (True, "loaded from /runs/a/checkpoints/step_4"),
        (False, "fresh (model.load_optimizer: false)"),
    ):
        t = trainer(dcp, load_optimizer=load_optimizer)
        assert (
            t.load_init_weights()
            == f"model: weights from DCP checkpoint /runs/a/checkpoints/step_4; optimizer: {note}"
        )
        # the weights (and optimizer unless told not to), never another run's data position / RNG
        assert t.checkpointer.calls == [
            (
                (Path("/runs/a/checkpoints/step_4"), "MODEL", "OPTIMIZER"),
                {"weights_only": True, "with_optimizer": load_optimizer},
            )
        ]


def test_async_save_on_several_ranks_gets_its_own_gloo_group(monkeypatch, tmp_path):
    import torch.distributed as dist

    from training.trainer.checkpoint import Checkpointer

    groups = []
    monkeypatch.setattr(dist, "new_group", lambda **kw: groups.append(kw) or "GROUP")
    two = SimpleNamespace(world_size=2, rank=0, is_main=True)
    # DCP's async save runs collectives from a background thread: it needs a group of its own
    assert Checkpointer(tmp_path, two, keep_last=2, async_save=True)._pg == "GROUP"
    assert groups == [{"backend": "gloo"}]
    assert Checkpointer(tmp_path, two, keep_last=2, async_save=False)._pg is None
    assert Checkpointer(tmp_path, CPU, keep_last=2, async_save=True)._pg is None  # one rank: no collective
    assert len(groups) == 1


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A 2-step fp32 run at constant LR 2e-3, checkpointed at its end."""
    root = tmp_path_factory.mktemp("base")
    result = train(tiny_train_config(root, run_dir=root / "base", max_steps=2, optimizer={"lr": 2e-3}))
    return root, result


def test_a_resume_keeps_the_checkpointed_peak_lr_when_the_config_changes(base_run, tmp_path):
    root, base = base_run
    shutil.copytree(base.run_dir, tmp_path / "run")
    resumed = train(tiny_train_config(root, run_dir=tmp_path / "run", max_steps=4, optimizer={"lr": 1e-3}))
    rows = read_metrics(resumed.metrics_path)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert [r["lr"] for r in rows] == [2e-3] * 4  # the schedule it was checkpointed with goes on


def test_a_checkpoint_without_this_ranks_loader_state_names_the_world_size_it_was_saved_with(
    base_run, tmp_path
):
    root, base = base_run
    shutil.copytree(base.run_dir, tmp_path / "run")
    (tmp_path / "run" / "checkpoints" / "step_2" / "rank_0.pt").unlink()
    with pytest.raises(
        ValueError, match=r"no loader state for rank 0; resume with the world size it was saved with \(1\)"
    ):
        train(tiny_train_config(root, run_dir=tmp_path / "run", max_steps=4))


def test_dtype_bfloat16_computes_in_bf16_and_auto_is_fp32_on_cpu(base_run, tmp_path):
    root, base = base_run
    fp32 = read_metrics(base.metrics_path)[0]["loss"]  # dtype: auto (the default)
    bf16 = read_metrics(
        train(tiny_train_config(root, run_dir=tmp_path / "bf16", max_steps=1, dtype="bfloat16")).metrics_path
    )[0]["loss"]
    # the same first batch and initial weights: only the compute dtype differs
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, rel=2e-2)


def test_a_checkpoint_that_cannot_be_pruned_does_not_stop_the_run(monkeypatch, tmp_path):
    """A pruned step folder that refuses deletion (busy NFS files, permissions) is left behind;
    the new checkpoint is still put in place and training goes on."""
    import os

    import training.trainer.checkpoint as ckpt

    for name in ("step_1", "step_2", ".tmp_step_3"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "rank_0.pt").write_text("x")
    monkeypatch.setattr(ckpt.dist, "barrier", lambda *a, **k: None)  # one process, no group
    real_unlink = os.unlink

    def unlink(path, *, dir_fd=None):
        where = os.readlink(f"/proc/self/fd/{dir_fd}") if dir_fd is not None else str(path)
        if "step_1" in where:
            raise PermissionError(13, "busy", str(path))
        return real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", unlink)
    checkpointer = ckpt.Checkpointer(tmp_path, CPU, keep_last=2)
    checkpointer._finish(tmp_path / ".tmp_step_3", tmp_path / "step_3")
    assert (tmp_path / "step_3" / "rank_0.pt").is_file() and not (tmp_path / ".tmp_step_3").exists()
    assert (tmp_path / "step_2").is_dir()  # within keep_last: kept
    assert (tmp_path / "step_1" / "rank_0.pt").is_file()  # could not be pruned: left, no error
