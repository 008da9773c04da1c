"""Checkpoints: torch DCP (model + optimizer) plus per-rank loader/RNG state, atomic and pruned; HF export.

Layout of `RUN/checkpoints/step_N/`: DCP files (`.metadata`, `__R_0.distcp`, ...) for the sharded
model and optimizer, `rank_R.pt` (loader state and RNG of rank R), `trainer_state.json` (step,
tokens, LR) and `hf_config.json` (the model's transformers config, so the checkpoint can seed
another run). HF export is in `export.py`. Everything is written into `.tmp_step_N/` and renamed when complete, and older
checkpoints are only pruned after that, so a crash mid-save leaves the last good one untouched.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)

from training.init_source import DCP_CONFIG_FILE
from training.trainer.export import export_hf, load_tokenizer  # noqa: F401  (re-exported)
from training.trainer.parallel import Dist

_STEP_DIR = re.compile(r"^step_(\d+)$")


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def list_checkpoints(ckpt_root: Path) -> list[tuple[int, Path]]:
    if not ckpt_root.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in ckpt_root.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()
    ]
    return sorted(found)


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    found = list_checkpoints(ckpt_root)
    return found[-1][1] if found else None


class Checkpointer:
    """Saves and loads DCP checkpoints for one run; optional async save finishes before the next one."""

    def __init__(self, root: Path, d: Dist, *, keep_last: int, async_save: bool = False) -> None:
        self.root, self.d, self.keep_last, self.async_save = root, d, keep_last, async_save
        self._pending: tuple[Any, Path, Path] | None = None
        # async DCP runs collectives from a background thread: give it its own gloo group
        self._pg = dist.new_group(backend="gloo") if async_save and d.world_size > 1 else None

    def save(
        self, step: int, model, optimizer, *, extra: dict[str, Any], trainer_state: dict[str, Any]
    ) -> Path:
        self.wait()
        final, tmp = self.root / f"step_{step}", self.root / f".tmp_step_{step}"
        if self.d.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        dist.barrier()
        model_sd, optim_sd = get_state_dict(model, optimizer)
        torch.save(extra, tmp / f"rank_{self.d.rank}.pt")
        if self.d.is_main:
            (tmp / "trainer_state.json").write_text(json.dumps(trainer_state, indent=2))
            # the architecture, so the checkpoint alone can start another run (model.init_from)
            (tmp / DCP_CONFIG_FILE).write_text(model.config.to_json_string())
        state = {"model": model_sd, "optim": optim_sd}
        if self.async_save:
            response = dcp.async_save(state, checkpoint_id=str(tmp), process_group=self._pg)
            self._pending = (getattr(response, "upload_completion", response), tmp, final)
        else:
            dcp.save(state, checkpoint_id=str(tmp))
            self._finish(tmp, final)
        return final

    def wait(self) -> None:
        """Block until an in-flight async save is on disk and renamed."""
        if self._pending is not None:
            future, tmp, final = self._pending
            future.result()
            self._pending = None
            self._finish(tmp, final)

    def _finish(self, tmp: Path, final: Path) -> None:
        dist.barrier()  # every rank's files are written
        if self.d.is_main:
            if final.exists():  # re-saving a step (e.g. after a resume): swap, then drop the old copy
                old = final.with_name(f".old_{final.name}")
                shutil.rmtree(old, ignore_errors=True)
                final.rename(old)
                tmp.rename(final)
                shutil.rmtree(old)
            else:
                tmp.rename(final)
            for _, path in list_checkpoints(self.root)[: -self.keep_last]:
                shutil.rmtree(path, ignore_errors=True)
        dist.barrier()

    def load(
        self, path: Path, model, optimizer, *, weights_only: bool = False, with_optimizer: bool = True
    ) -> tuple[dict, dict]:
        """Restore model (+ optimizer) in place; return (this rank's extra state, trainer_state).

        ``weights_only`` skips the loader/RNG state (another run's data order); ``with_optimizer=False``
        also leaves the optimizer as it is (a fresh start from the checkpoint's weights).
        """
        if not (path / ".metadata").is_file():
            raise FileNotFoundError(f"{path}: not a DCP checkpoint (no .metadata)")
        if with_optimizer:
            model_sd, optim_sd = get_state_dict(model, optimizer)
            state = {"model": model_sd, "optim": optim_sd}
        else:  # get_state_dict would initialise the optimizer's state: leave it untouched
            state = {"model": get_model_state_dict(model)}
        dcp.load(state, checkpoint_id=str(path))
        if with_optimizer:
            set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        else:
            set_model_state_dict(model, state["model"])
        trainer_state = json.loads((path / "trainer_state.json").read_text())
        if weights_only:
            return {}, trainer_state
        saved_world = int(trainer_state.get("world_size") or self.d.world_size)
        # another world size: every rank file holds the same global loader position (reshard.py)
        rank_file = path / f"rank_{self.d.rank % saved_world}.pt"
        if not rank_file.is_file():
            raise ValueError(
                f"{path}: no loader state for rank {self.d.rank}; resume with the world size it was "
                f"saved with ({trainer_state.get('world_size')})"
            )
        return torch.load(rank_file, weights_only=False), trainer_state
