"""A recipe killed mid-training resumes: finished stages are skipped, training continues from its
last checkpoint, and the result matches an uninterrupted run's metrics step for step."""

import json
import signal
import subprocess
import sys
import time

import pytest
import yaml

TINY = ["scale=0.12", "base.train.checkpoint.every_steps=4", "base.train.log_every=1"]


def _metrics(path):
    return {line["step"]: line["loss"] for line in map(json.loads, path.read_text().splitlines())}


def _command(out):
    args = [sys.executable, "-m", "recipes.cli", "run", "demo", "--out", str(out), "--until", "base"]
    for item in TINY:
        args += ["--set", item]
    return args


@pytest.mark.slow
def test_killed_recipe_resumes_from_the_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    args = _command(out)
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = out / "base" / "run" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if any(p.name.startswith("step_") for p in checkpoints.glob("step_*")):
            break
        time.sleep(0.1)
    if process.poll() is not None:
        pytest.fail("the run ended before it could be killed mid-training")
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = max(int(p.name.split("_")[1]) for p in checkpoints.glob("step_*"))
    assert not (out / ".stages" / "base.train.json").exists()  # not marked finished

    resumed = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "[skip] curate" in resumed.stderr and "[run ] base.train" in resumed.stderr
    resumed_metrics = _metrics(out / "base" / "run" / "metrics.jsonl")

    # the uninterrupted reference: the same training config in a fresh run folder, trained in one go
    # by `midtrain train` (curation and tokenization are the killed run's; only training is compared)
    resumed_config = json.loads((out / "base" / "run" / "config.json").read_text())
    assert f"resumed from {checkpoints / f'step_{killed_at}'} at step {killed_at}" in resumed_config["start"]
    config = resumed_config["config"]
    fresh = tmp_path / "fresh"
    config["run_dir"] = str(fresh)
    (tmp_path / "fresh.yaml").write_text(yaml.safe_dump(config))
    reference = subprocess.run(
        [sys.executable, "-m", "recipes.cli", "train", str(tmp_path / "fresh.yaml")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert reference.returncode == 0, reference.stderr[-2000:]
    fresh_metrics = _metrics(fresh / "metrics.jsonl")
    assert killed_at < max(fresh_metrics)  # it really was killed before the end
    assert resumed_metrics.keys() == fresh_metrics.keys()
    for step, loss in fresh_metrics.items():
        assert resumed_metrics[step] == pytest.approx(loss, abs=1e-5), step
