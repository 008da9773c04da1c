"""Resume on another world size: 2 gloo ranks -> 1 and 1 -> 2 consume exactly the sequences of the
uninterrupted run (none twice, none skipped) with the same losses; a world size that does not
divide the global batch is one error naming both sizes."""

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
import yaml

from training.trainer.testing import read_metrics, tiny_train_config, write_tiny_workspace

RECORDING = textwrap.dedent(
    """
    import json, os
    from training.data import PlanLoader

    class RecordingLoader(PlanLoader):
        '''Appends every sequence it yields to $CONSUMED.<rank> (one JSON list of token ids a line).'''

        def __iter__(self):
            for batch in super().__iter__():
                with open(os.environ["CONSUMED"] + f".{self.dp_rank}", "a") as f:
                    for row in batch.input_ids.tolist():
                        f.write(json.dumps(row) + "\\n")
                yield batch
    """
)

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from recording import RecordingLoader
    from training.config import TrainConfig
    from training.trainer import train

    train(TrainConfig.from_yaml(sys.argv[1]), loader_factory=RecordingLoader)
    """
)

PHASES = [{"web": 24, "code": 8}, {"web": 8, "code": 24}]  # 2 phases of 4 steps (8 sequences a step)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The tiny workspace and the uninterrupted 1-rank run, shared by the resume tests."""
    root = tmp_path_factory.mktemp("reshard")
    write_tiny_workspace(root, phases=PHASES)
    (root / "recording.py").write_text(RECORDING)
    (root / "run.py").write_text(SCRIPT)
    sys.path.insert(0, str(root))
    _in_process(root, _config(root, "full"), root / "full.consumed")
    yield root
    sys.path.remove(str(root))


def _config(root, name, **overrides):
    return tiny_train_config(root, run_dir=root / name, **overrides)


def _in_process(root, cfg, consumed):
    from recording import RecordingLoader  # written into the workspace by the fixture

    from training.trainer import train

    os.environ["CONSUMED"] = str(consumed)
    try:
        train(cfg, loader_factory=RecordingLoader)
    finally:
        del os.environ["CONSUMED"]


def _torchrun(root, cfg, consumed, nproc=2):
    path = root / f"{cfg.run_dir.name}.{nproc}.yaml"
    path.write_text(yaml.safe_dump(json.loads(cfg.model_dump_json())))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MIDTRAIN_NUM_THREADS": "1", "CONSUMED": str(consumed)}
    proc = subprocess.run(
        [*cmd, str(root / "run.py"), str(path), str(root)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def _consumed(prefix) -> Counter:
    rows = Counter()
    for file in prefix.parent.glob(prefix.name + ".*"):
        rows.update(file.read_text().splitlines())
    return rows


def _check_against_uninterrupted(root, part_name):
    full = _config(root, "full")
    expected, got = _consumed(root / "full.consumed"), _consumed(root / f"{part_name}.consumed")
    assert sum(expected.values()) == 64 and len(expected) > 32
    assert got == expected  # the same multiset: nothing consumed twice, nothing skipped
    a, b = read_metrics(full.run_dir / "metrics.jsonl"), read_metrics(root / part_name / "metrics.jsonl")
    assert [r["step"] for r in b] == list(range(1, 9))
    for ra, rb in zip(a, b, strict=True):
        assert rb["loss"] == pytest.approx(ra["loss"], abs=1e-4), ra["step"]
        for key in ("loss/general", "loss/code"):
            assert rb[key] == pytest.approx(ra[key], abs=1e-4), (ra["step"], key)


@pytest.mark.slow
def test_checkpoint_at_two_ranks_resumes_at_one(workspace):
    root = workspace
    _torchrun(root, _config(root, "p21", max_steps=3), root / "p21.consumed")  # checkpoints step 3
    assert (root / "p21/checkpoints/step_3/rank_1.pt").is_file()
    state = json.loads((root / "p21/checkpoints/step_3/trainer_state.json").read_text())
    assert state["world_size"] == 2 and state["step"] == 3
    _in_process(root, _config(root, "p21"), root / "p21.consumed")  # 1 rank, to the plan's end
    assert "world size 2 -> 1" in json.loads((root / "p21/config.json").read_text())["start"]
    _check_against_uninterrupted(root, "p21")


@pytest.mark.slow
def test_checkpoint_at_one_rank_resumes_at_two(workspace):
    root = workspace
    _in_process(root, _config(root, "p12", max_steps=5), root / "p12.consumed")  # into phase 2
    _torchrun(root, _config(root, "p12"), root / "p12.consumed")
    assert "world size 1 -> 2" in json.loads((root / "p12/config.json").read_text())["start"]
    _check_against_uninterrupted(root, "p12")


def test_a_world_size_that_does_not_divide_the_global_batch_is_one_error(tmp_path):
    from training.trainer.reshard import check_resume_world_size

    write_tiny_workspace(tmp_path)
    cfg = tiny_train_config(tmp_path, max_steps=2)
    from training.trainer import train

    train(cfg)  # saved at world size 1; 256 tokens = micro 4 x seq 32 x 2 ranks fits 1, 2 but not 3
    with pytest.raises(ValueError) as err:
        check_resume_world_size(cfg, [32], 3)
    message = str(err.value)
    assert "saved at world size 1" in message and "world size 3" in message
    assert "256" in message and "[1, 2]" in message
    assert check_resume_world_size(cfg, [32], 2) == "world size 1 -> 2"
    assert check_resume_world_size(cfg, [32], 1) is None


def test_loader_seeks_a_global_position_on_any_layout(tmp_path):
    from training.data import PlanLoader
    from training.trainer.testing import write_tiny_workspace

    tokens, plan_path = write_tiny_workspace(tmp_path, phases=PHASES)
    import polars as pl

    plan = pl.read_parquet(plan_path)

    def rows(loader):
        return [tuple(r) for b in loader for r in b.input_ids.tolist()]

    whole = rows(PlanLoader(tokens, plan, micro_batch_size=4))
    for world in (1, 2, 4):
        for g in (0, 8, 28, 36, 64):
            got = []
            for rank in range(world):
                loader = PlanLoader(tokens, plan, micro_batch_size=2, dp_rank=rank, dp_world_size=world)
                loader.seek_global(g)
                assert loader.is_global_prefix(g)
                got += rows(loader)
            assert Counter(got) == Counter(whole[g:]), (world, g)
    saved = PlanLoader(tokens, plan, micro_batch_size=4, dp_world_size=2).state_dict()
    with pytest.raises(ValueError, match="no global position"):
        PlanLoader(tokens, plan, micro_batch_size=4).load_state_dict(saved)
