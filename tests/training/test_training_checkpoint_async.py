"""Async checkpointing (``checkpoint.async_save``), found untested by mutation testing
(scripts/mutation.sh trainer): saves land as step_N, the previous one finishes before the next
starts, old ones are pruned, and a resume from an async checkpoint continues the run exactly."""

from training.trainer import train
from training.trainer.checkpoint import latest_checkpoint
from training.trainer.testing import read_metrics, tiny_train_config


def test_async_saves_land_are_pruned_and_resume_exactly(tmp_path):
    full = train(tiny_train_config(tmp_path, run_dir=tmp_path / "full", max_steps=6))
    cfg = tiny_train_config(
        tmp_path,
        run_dir=tmp_path / "async",
        max_steps=4,
        checkpoint={"every_steps": 1, "keep_last": 2, "async_save": True, "final_export": False},
    )
    train(cfg)
    ckpts = tmp_path / "async" / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["step_3", "step_4"]  # every save finished and renamed
    assert latest_checkpoint(ckpts) == ckpts / "step_4"
    resumed = train(cfg.model_copy(update={"max_steps": 6}))
    assert resumed.final_step == 6
    a, b = read_metrics(full.metrics_path), read_metrics(resumed.metrics_path)
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
