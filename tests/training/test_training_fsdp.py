"""FSDP2 over gloo with 2 processes (torchrun) matches one process on the same global batch."""

import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from training.trainer.testing import read_metrics, tiny_train_config, write_tiny_workspace

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from training.config import TrainConfig
    from training.trainer import Trainer
    from training.trainer.metrics import state_bytes
    from training.trainer.parallel import shutdown

    trainer = Trainer.build(TrainConfig.from_yaml(sys.argv[1]))
    trainer.fit()
    out = {"rank": trainer.dist.rank, "world": trainer.dist.world_size,
           "state_bytes": state_bytes(trainer.model, trainer.optimizer)}
    with open(sys.argv[2] + f".{trainer.dist.rank}", "w") as f:
        json.dump(out, f)
    shutdown(trainer.dist)
    """
)


def _config(tmp_path, name):
    return tiny_train_config(
        tmp_path, run_dir=tmp_path / name, max_steps=4, checkpoint={"final_export": True}
    )


def _run_single_in_process(tmp_path):
    from training.trainer import Trainer
    from training.trainer.metrics import state_bytes
    from training.trainer.parallel import shutdown

    trainer = Trainer.build(_config(tmp_path, "one"))
    trainer.fit()
    state = state_bytes(trainer.model, trainer.optimizer)
    shutdown(trainer.dist)
    return read_metrics(tmp_path / "one" / "metrics.jsonl"), [{"state_bytes": state}]


def _run(tmp_path, name, nproc):
    cfg = _config(tmp_path, name)
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(json.loads(cfg.model_dump_json())))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(tmp_path / "run.py"),
        str(tmp_path / f"{name}.yaml"),
        str(tmp_path / f"{name}.state"),
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    states = [json.loads((tmp_path / f"{name}.state.{r}").read_text()) for r in range(nproc)]
    return read_metrics(tmp_path / name / "metrics.jsonl"), states


@pytest.mark.slow
def test_two_rank_fsdp_matches_single_process_and_halves_state(tmp_path):
    write_tiny_workspace(tmp_path)
    (tmp_path / "run.py").write_text(SCRIPT)
    one, one_state = _run_single_in_process(tmp_path)
    two, two_state = _run(tmp_path, "two", 2)
    assert [r["step"] for r in two] == [1, 2, 3, 4] and two[-1]["tokens"] == one[-1]["tokens"]
    for a, b in zip(one, two, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-3)
        assert b["loss/code"] == pytest.approx(a["loss/code"], rel=1e-4)
    # each rank holds about half of the params + AdamW state of the single rank
    for s in two_state:
        assert 0.45 < s["state_bytes"] / one_state[0]["state_bytes"] < 0.56
    assert (tmp_path / "two" / "hf" / "step_4" / "model.safetensors").is_file()
    ckpt = tmp_path / "two" / "checkpoints" / "step_4"
    assert (ckpt / "rank_0.pt").is_file() and (ckpt / "rank_1.pt").is_file()
