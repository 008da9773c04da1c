"""Fast guard of the 2-rank loss scaling (no torchrun): two gloo ranks in spawned processes on CPU.

The loop scales each micro batch's summed loss by ``world_size / num_targets`` (num_targets summed
over all ranks) because FSDP2 averages gradients over ranks. Split the same global batch over two
ranks and the gradient, hence the logged grad norm, and the loss must equal one process's.
The slow torchrun test (test_training_fsdp.py) checks the same plus sharded state and export; this
one runs in seconds, so mutation runs and quick local runs guard the scaling too.
"""

import os
import socket

import pytest
import torch.multiprocessing as mp

from training.trainer.testing import read_metrics, tiny_train_config, write_tiny_workspace

STEPS = 2


def _config(root, name):
    return tiny_train_config(root, run_dir=root / name, max_steps=STEPS)


def _rank(rank: int, world: int, port: int, root) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        OMP_NUM_THREADS="1",
    )
    import torch

    torch.set_num_threads(1)
    from training.trainer import Trainer
    from training.trainer.parallel import shutdown

    trainer = Trainer.build(_config(root, f"world{world}"))
    trainer.fit()
    shutdown(trainer.dist)


def _run(root, world: int) -> list[dict]:
    if world == 1:  # in this process: a private one-rank group, as a plain `python` run does
        from training.trainer import Trainer
        from training.trainer.parallel import shutdown

        trainer = Trainer.build(_config(root, "world1"))
        trainer.fit()
        shutdown(trainer.dist)
        return read_metrics(root / "world1" / "metrics.jsonl")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank, args=(world, port, root), nprocs=world, join=True)
    return read_metrics(root / f"world{world}" / "metrics.jsonl")


def test_two_gloo_ranks_match_one_process_loss_and_gradient(tmp_path):
    write_tiny_workspace(tmp_path)
    one = _run(tmp_path, 1)
    two = _run(tmp_path, 2)
    assert [r["step"] for r in one] == [r["step"] for r in two] == list(range(1, STEPS + 1))
    for a, b in zip(one, two, strict=True):
        assert b["tokens"] == a["tokens"]  # the same global batch, split over two ranks
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        # the gradient is the mean over every target token of the global batch: a rank that
        # scaled by its own token count, or forgot world_size, gives a different norm
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-3)
