"""Resume on another world size: a global loader position and the checks made before any step.

A checkpoint saved at world size N resumes at world size M: DCP reshards the model and optimizer
(sharded DTensors are saved with their global shapes), and the loader's position is global. Global
sequence ``i`` of the plan goes to rank ``i % world_size``, and every optimizer step takes the
next ``global_batch_tokens / seq_len`` sequences whatever the layout, so when all ranks have
consumed exactly their share of sequences ``[0, G)`` (true after every step of a plan whose phases
divide into global batches) the checkpoint records ``G`` and the new layout starts at ``G``: each
sequence not yet consumed is consumed once, none twice, and the steps see the same batches (the
losses match the uninterrupted run up to float summation order).

A world size that does not divide the global batch (``global_batch_tokens`` must be a multiple of
``micro_batch_size * seq_len * world_size``) is one error naming both sizes before any step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training.config import TrainConfig
from training.trainer.checkpoint import latest_checkpoint
from training.trainer.parallel import Dist, all_reduce_sum


def loader_state(loader: Any, d: Dist) -> dict:
    """The loader's state with the global position when the ranks' shares form a prefix (a collective)."""
    if not hasattr(loader, "consumed_local"):  # a custom loader: only same-layout resume
        return loader.state_dict()
    consumed = float(loader.consumed_local())
    total = all_reduce_sum([consumed], d)[0]
    uneven = all_reduce_sum([0.0 if loader.is_global_prefix(int(total)) else 1.0], d)[0]
    return loader.state_dict(global_position=None if uneven else int(total))


def saved_world_size(config: TrainConfig) -> tuple[Path, int] | None:
    """(checkpoint, world size it was saved at) of the checkpoint a resume would load, if any."""
    if not config.checkpoint.resume:
        return None
    path = latest_checkpoint(Path(config.run_dir) / "checkpoints")
    state_file = path / "trainer_state.json" if path is not None else None
    if state_file is None or not state_file.is_file():
        return None
    world = json.loads(state_file.read_text()).get("world_size")
    return (path, int(world)) if world else None


def check_resume_world_size(config: TrainConfig, seq_lens: list[int], world_size: int) -> str | None:
    """Raise if a resume moves to a world size that does not divide the global batch; return a note
    (``world size N -> M``) when the world size changes, else None."""
    saved = saved_world_size(config)
    if saved is None or saved[1] == world_size:
        return None
    path, old = saved
    for seq_len in sorted(set(seq_lens)):
        unit = config.micro_batch_size * seq_len
        if config.global_batch_tokens % (unit * world_size):
            fits = [w for w in range(1, 1025) if config.global_batch_tokens % (unit * w) == 0]
            raise ValueError(
                f"resume: {path} was saved at world size {old}, this run has world size {world_size}, "
                f"which does not divide the global batch: global_batch_tokens {config.global_batch_tokens} "
                f"is not a multiple of micro_batch_size * seq_len * world_size = "
                f"{config.micro_batch_size} * {seq_len} * {world_size}; world sizes that fit: {fits[:12]}"
            )
    return f"world size {old} -> {world_size}"
