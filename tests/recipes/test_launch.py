"""Launching a training run's ranks: the Slurm batch script, a real two-node job through fake Slurm
commands on this host, failed and still-running jobs, Ctrl-C, and the manual multi-node mode."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recipes import launch
from recipes.config import LauncherSpec, load_recipe

# Slurm on one host: sbatch runs the script with bash (like --wait), srun starts one copy of its
# command per "node", scontrol names the only node, squeue/scancel read and kill the jobs sbatch
# records under $FAKE_SLURM.
FAKE_SLURM = {
    "sbatch": """
        import os, re, subprocess, sys
        from pathlib import Path
        state = Path(os.environ["FAKE_SLURM"])
        assert "--parsable" in sys.argv and "--wait" in sys.argv, sys.argv
        script = sys.argv[-1]
        options = dict(re.findall(r"^#SBATCH --([\\w-]+)=(\\S+)$", Path(script).read_text(), re.M))
        counter = state / "last_job_id"
        job_id = str(int(counter.read_text()) + 1 if counter.exists() else 100)
        counter.write_text(job_id)
        print(job_id, flush=True)
        env = dict(os.environ, SLURM_JOB_ID=job_id, SLURM_JOB_NUM_NODES=options["nodes"],
                   SLURM_JOB_NODELIST="localhost")
        with open(options["output"].replace("%j", job_id), "w") as log:
            job = subprocess.Popen(["bash", script], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        (state / f"{job_id}.pgid").write_text(str(job.pid))
        with open(state / "queue", "a") as queue:
            queue.write(job_id + "\\n")
        code = job.wait()
        sys.exit(code if code >= 0 else 1)
    """,
    "srun": """
        import os, subprocess, sys, time
        args = sys.argv[1:]
        while args[0].startswith("--"):
            args.pop(0)
        tasks = [
            subprocess.Popen(args, env=dict(os.environ, SLURM_NODEID=str(i), SLURM_PROCID=str(i)))
            for i in range(int(os.environ["SLURM_JOB_NUM_NODES"]))
        ]
        while any(t.poll() is None for t in tasks):
            if any(t.poll() not in (None, 0) for t in tasks):  # --kill-on-bad-exit
                for t in tasks:
                    if t.poll() is None:
                        t.kill()
            time.sleep(0.1)
        sys.exit(0 if all(t.returncode == 0 for t in tasks) else 1)
    """,
    "scontrol": """
        import sys
        assert sys.argv[1:3] == ["show", "hostnames"], sys.argv
        print("localhost")
    """,
    "squeue": """
        import os, sys
        from pathlib import Path
        job_id = sys.argv[sys.argv.index("-j") + 1]
        queue = Path(os.environ["FAKE_SLURM"]) / "queue"
        if queue.exists() and job_id in queue.read_text().split():
            print(job_id)
        else:
            sys.exit("slurm_load_jobs error: Invalid job id specified")
    """,
    "scancel": """
        import os, signal, sys
        from pathlib import Path
        state = Path(os.environ["FAKE_SLURM"])
        with open(state / "cancelled", "a") as cancelled:
            cancelled.write(sys.argv[1] + "\\n")
        os.killpg(int((state / f"{sys.argv[1]}.pgid").read_text()), signal.SIGTERM)
    """,
}


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    bin_dir, state = tmp_path / "bin", tmp_path / "slurm"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in FAKE_SLURM.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM", str(state))
    return state


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _slurm_launcher(**slurm) -> LauncherSpec:
    return LauncherSpec.model_validate({"nnodes": 2, "nproc_per_node": 1, "slurm": slurm})


def test_sbatch_script_has_the_directives_and_the_torchrun_command(tmp_path):
    launcher = LauncherSpec.model_validate(
        {
            "nnodes": 4,
            "nproc_per_node": 8,
            "torchrun_args": ["--max_restarts", "1"],
            "slurm": {
                "partition": "gpu",
                "account": "proj",
                "time": "12:00:00",
                "cpus_per_task": 32,
                "mem": "0",
                "sbatch_args": ["--exclusive"],
                "setup": ["module load cuda/12.4", "source .venv/bin/activate"],
                "python": "/opt/venv/bin/python",
                "rdzv_port": 29600,
            },
        }
    )
    text = launch.render_sbatch_script(
        launcher, tmp_path, tmp_path / "train_config.yaml", job_name="midtrain-x"
    )
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for directive in (
        "--nodes=4",
        "--ntasks-per-node=1",
        "--gpus-per-node=8",  # defaults to nproc_per_node
        "--cpus-per-task=32",
        "--mem=0",
        "--partition=gpu",
        "--account=proj",
        "--time=12:00:00",
        f"--output={tmp_path}/slurm-%j.out",
        "--exclusive",
    ):
        assert f"#SBATCH {directive}" in lines, directive
    assert not any("--qos" in line for line in lines)
    order = [lines.index(line) for line in ("set -euo pipefail", "module load cuda/12.4")]
    assert order == sorted(order)  # setup runs under set -euo pipefail, before srun
    assert 'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)' in lines
    command = text[text.index("srun ") :].replace("\\\n", " ").split()
    assert command == [
        "srun",
        "--kill-on-bad-exit=1",
        "--cpus-per-task=32",
        "/opt/venv/bin/python",
        "-m",
        "torch.distributed.run",
        "--nnodes",
        '"$SLURM_JOB_NUM_NODES"',
        "--nproc_per_node",
        "8",
        "--rdzv_id",
        '"$SLURM_JOB_ID"',
        "--rdzv_backend",
        "c10d",
        "--rdzv_endpoint",
        '"$head_node:29600"',
        "--max_restarts",
        "1",
        "-m",
        "recipes.cli",
        "train",
        str(tmp_path / "train_config.yaml"),
    ]
    cpu = LauncherSpec.model_validate({"nnodes": 2, "nproc_per_node": 4, "slurm": {"gpus_per_node": 0}})
    text = launch.render_sbatch_script(cpu, tmp_path, tmp_path / "c.yaml", job_name="x")
    assert "--gpus-per-node" not in text and "--partition" not in text
    assert f"srun --kill-on-bad-exit=1 \\\n    {sys.executable} -m torch.distributed.run" in text


def test_launcher_errors_name_the_key_path():
    with pytest.raises(ValueError, match=r"runs\.anneal\.launcher: nnodes: 4 needs slurm: \{\.\.\.\}"):
        load_recipe("demo", overrides=["runs.anneal.launcher.nnodes=4"])
    with pytest.raises(ValueError, match=r"runs\.anneal\.launcher\.slurm\.time: a Slurm time limit"):
        load_recipe("demo", overrides=["runs.anneal.launcher.slurm.time=12h"])
    with pytest.raises(ValueError, match=r"slurm\.time: write the time limit as a quoted string"):
        load_recipe("demo", overrides=["runs.anneal.launcher.slurm.time=12:00:00"])
    with pytest.raises(ValueError, match=r"runs\.anneal\.launcher\.slurm\.partion: unknown key"):
        load_recipe("demo", overrides=["runs.anneal.launcher.slurm.partion=gpu"])
    recipe = load_recipe(
        "demo", overrides=["runs.anneal.launcher.nnodes=4", "runs.anneal.launcher.slurm.qos=high"]
    )
    assert recipe.runs["anneal"].launcher.slurm.qos == "high"
    assert not recipe.runs["anneal"].launcher.in_process


def test_how_a_run_is_launched_does_not_change_its_key_nor_does_the_world_size(tmp_path):
    from recipes.stages import build_stages

    def train_key(*overrides: str) -> str:
        stages = build_stages(load_recipe("demo", overrides=list(overrides)), tmp_path)
        return next(s.key for s in stages if s.name == "train.anneal.seed0")

    slurm = ["runs.anneal.launcher.nnodes=2", "runs.anneal.launcher.slurm.partition=gpu"]
    assert train_key(*slurm) == train_key(*slurm, "runs.anneal.launcher.slurm.time='12:00:00'")
    assert train_key(*slurm) == train_key()  # 2 nodes: the same run, resumable on another world size
    assert train_key() != train_key("runs.anneal.train.optimizer.lr=0.001")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_node_slurm_job_trains_one_model_over_both_nodes(tmp_path, fake_slurm):
    from recipes.stages import final_hf_dir
    from training.trainer.testing import read_metrics, tiny_train_config

    out = tmp_path / "run"
    config = tiny_train_config(tmp_path, run_dir=out, max_steps=4, checkpoint={"final_export": True})
    launcher = _slurm_launcher(
        rdzv_port=_free_port(), setup=["export MIDTRAIN_NUM_THREADS=1 OMP_NUM_THREADS=1"]
    )

    launch.run_distributed(config, launcher, out)

    assert final_hf_dir(out).is_dir()
    assert [m["step"] for m in read_metrics(out / "metrics.jsonl")] == [1, 2, 3, 4]
    # One model over 2 ranks (one per node): two separate one-node runs would each record world size 1.
    assert json.loads((out / "config.json").read_text())["world_size"] == 2
    record = json.loads((out / launch.JOB_FILE).read_text())
    assert record["job_id"] == "100" and record["exit_code"] == 0
    assert (out / "train.sbatch").is_file()
    assert "2 nodes, rendezvous at localhost:" in (out / "slurm-100.out").read_text()


def test_failed_job_raises_with_its_id_exit_code_script_and_log_tail(tmp_path, fake_slurm):
    out = tmp_path / "run"
    setup = [*(f"echo 'setting up {i}'" for i in range(30)), "echo 'module: cuda/99 not found' >&2", "exit 3"]
    with pytest.raises(RuntimeError) as failure:
        launch.run_slurm_job(_slurm_launcher(setup=setup), out, out / "train_config.yaml")
    message = str(failure.value)
    assert "Slurm job 100" in message and "exit code 3" in message
    assert str(out / "train.sbatch") in message and str(out / "slurm-100.out") in message
    assert "module: cuda/99 not found" in message and "setting up 29" in message
    assert "setting up 5\n" not in message  # only the tail of the log
    assert json.loads((out / launch.JOB_FILE).read_text())["exit_code"] == 3


def test_a_second_job_is_refused_while_the_first_is_queued(tmp_path, fake_slurm):
    out = tmp_path / "run"
    out.mkdir()
    (out / launch.JOB_FILE).write_text(json.dumps({"job_id": "77"}))
    (fake_slurm / "queue").write_text("77\n")
    launcher = _slurm_launcher(setup=["exit 0"])
    with pytest.raises(ValueError, match=r"Slurm job 77 for this run .* still queued/running; .*scancel 77"):
        launch.refuse_if_job_running(out, launcher.slurm)
    assert not (fake_slurm / "last_job_id").exists()  # nothing submitted

    (fake_slurm / "queue").write_text("")  # job 77 is over: a rerun submits a new job
    launch.refuse_if_job_running(out, launcher.slurm)
    launch.run_slurm_job(launcher, out, out / "train_config.yaml")
    assert json.loads((out / launch.JOB_FILE).read_text())["job_id"] == "100"


def test_ctrl_c_while_waiting_cancels_the_job(tmp_path, fake_slurm):
    out = tmp_path / "run"
    code = (
        "import sys; from pathlib import Path; from recipes import launch; from recipes.config import LauncherSpec\n"
        "spec = LauncherSpec.model_validate({'nnodes': 2, 'slurm': {'setup': ['sleep 60']}})\n"
        "launch.run_slurm_job(spec, Path(sys.argv[1]), Path(sys.argv[1]) / 'train_config.yaml')\n"
    )
    runner = subprocess.Popen([sys.executable, "-c", code, str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while not (out / launch.JOB_FILE).exists() and time.time() < deadline:  # the id is recorded at once
        time.sleep(0.05)
    start = time.time()
    runner.send_signal(signal.SIGINT)
    stderr = runner.communicate(timeout=30)[1]
    assert runner.returncode != 0 and "KeyboardInterrupt" in stderr
    assert "cancelled Slurm job 100" in stderr
    assert (fake_slurm / "cancelled").read_text().split() == ["100"]
    assert time.time() - start < 20  # it did not wait for the 60 s job


def test_manual_multi_node_writes_and_prints_the_other_nodes_command(tmp_path, monkeypatch, capsys):
    started = []
    monkeypatch.setattr(launch.subprocess, "run", lambda command: started.append(command) or _Done())
    launcher = LauncherSpec(nnodes=3, nproc_per_node=2, rdzv_endpoint="node0:29500")
    config_path = tmp_path / "train_config.yaml"
    launch.run_torchrun(launcher, tmp_path, config_path)

    (command,) = started
    assert command[command.index("--rdzv_endpoint") + 1] == "node0:29500"
    assert command[command.index("--nnodes") + 1] == "3" and command[-4:] == [
        "-m",
        "recipes.cli",
        "train",
        str(config_path),
    ]
    script = (tmp_path / "other_nodes.sh").read_text()
    assert script.splitlines()[-1] == "exec " + " ".join(command)
    assert os.access(tmp_path / "other_nodes.sh", os.X_OK)
    printed = capsys.readouterr().err
    assert "start the other 2 (node_rank 1..2)" in printed and " ".join(command) in printed


class _Done:
    returncode = 0


def test_no_sbatch_is_a_clear_error(tmp_path):
    launcher = _slurm_launcher(sbatch=str(tmp_path / "no" / "sbatch"))
    with pytest.raises(
        ValueError, match=r"launcher\.slurm\.sbatch: .* not found; run from a Slurm login node"
    ):
        launch.run_slurm_job(launcher, tmp_path, tmp_path / "train_config.yaml")
    assert Path(tmp_path / "train.sbatch").is_file()
