"""Distributed setup and parallelism, in one place: process group, mesh, AC, compile, FSDP2.

Always FSDP2, also on one process (a 1-rank gloo group), so there is one code path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

from training.config import ParallelConfig
from training.models import decoder_blocks


@dataclass
class Dist:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    mesh: DeviceMesh
    owns_group: bool  # we created the process group, so we destroy it

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' asked for but no GPU is visible")
    return torch.device(device)


def init_distributed(device: str) -> Dist:
    """Join torchrun's group (env RANK/WORLD_SIZE) or start a 1-rank one; gloo on CPU, NCCL on GPU."""
    dev = resolve_device(device)
    owns = not dist.is_initialized()
    if owns:
        if "RANK" not in os.environ:  # plain `python`: a private single-rank rendezvous
            os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
            os.environ.setdefault("MASTER_PORT", str(_free_port()))
            os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:  # share the cores between the ranks of this node instead of oversubscribing them
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        default = max(1, (os.cpu_count() or 1) // max(local_world, 1))
        torch.set_num_threads(int(os.environ.get("MIDTRAIN_NUM_THREADS", default)))
    mesh = init_device_mesh(dev.type, (world,), mesh_dim_names=("dp",))
    return Dist(rank, world, local_rank, dev, mesh, owns)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shutdown(d: Dist) -> None:
    if d.owns_group and dist.is_initialized():
        dist.destroy_process_group()
        if os.environ.get("WORLD_SIZE") == "1" and "TORCHELASTIC_RUN_ID" not in os.environ:
            for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"):
                os.environ.pop(key, None)


def mixed_precision(dtype: str, device: torch.device) -> MixedPrecisionPolicy | None:
    """bf16 params / fp32 gradient reduce on GPU by default; fp32 (no policy) on CPU."""
    if dtype == "auto":
        dtype = "bfloat16" if device.type == "cuda" else "float32"
    if dtype == "float32":
        return None
    return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)


def parallelize(model: torch.nn.Module, d: Dist, cfg: ParallelConfig, *, dtype: str) -> torch.nn.Module:
    """Activation checkpointing and compile per block, then fully_shard per block and the root.

    On a single rank nothing is sharded, so by default only the root is a unit (one gather and one
    reduce per step instead of one per block: same math, less collective overhead).
    """
    blocks = decoder_blocks(model)
    parents = _block_parents(model, blocks)
    for i, block in enumerate(blocks):
        wrapped = block
        if cfg.activation_checkpointing:
            from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

            wrapped = checkpoint_wrapper(wrapped, preserve_rng_state=False)
        if cfg.compile:
            wrapped = torch.compile(wrapped)
        if wrapped is not block:
            parents[i][0][parents[i][1]] = wrapped
        blocks[i] = wrapped
    reshard = cfg.reshard_after_forward if cfg.reshard_after_forward is not None else d.world_size > 1
    kwargs: dict = {"mesh": d.mesh}
    policy = mixed_precision(dtype, d.device)
    if policy is not None:
        kwargs["mp_policy"] = policy
    per_block = cfg.fsdp_per_block if cfg.fsdp_per_block is not None else d.world_size > 1
    if per_block:  # one unit per block: memory scales with one block, comms overlap compute
        for i, block in enumerate(blocks):
            # the last block's params are needed again right away in backward: keep them gathered
            fully_shard(block, reshard_after_forward=reshard and i < len(blocks) - 1, **kwargs)
    fully_shard(model, reshard_after_forward=reshard, **kwargs)
    return model


def _block_parents(model: torch.nn.Module, blocks: list[torch.nn.Module]) -> list[tuple]:
    """(ModuleList, index) of each block, so a wrapper can be swapped in."""
    where = {}
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList):
            for i, child in enumerate(module):
                where[id(child)] = (module, i)
    return [where[id(b)] for b in blocks]


def all_reduce_sum(values: list[float], d: Dist) -> list[float]:
    """Sum Python numbers over ranks (one collective)."""
    if d.world_size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=d.device if d.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return t.tolist()
