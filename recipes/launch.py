"""Start a training run's ranks: torchrun on this node, or one Slurm job across ``nnodes`` nodes.

Every launcher writes the run's TrainConfig to ``OUT/train_config.yaml`` and runs
``python -m torch.distributed.run ... -m recipes.cli train OUT/train_config.yaml`` on each node.

- ``launcher: {nproc_per_node: 8}``: torchrun ``--standalone`` here.
- ``launcher: {nnodes: 4, rdzv_endpoint: host:port}``: torchrun here; the other nodes run the
  command this writes to ``OUT/other_nodes.sh`` (and prints).
- ``launcher: {nnodes: 4, slurm: {...}}``: ``OUT/train.sbatch`` is submitted as one job of 4 nodes,
  one torchrun agent per node meeting at the first node. The job id goes to
  ``OUT/slurm_job.json`` as soon as Slurm gives it, the job's output to ``OUT/slurm-<id>.out``.
  A rerun after a failed or killed job resumes from the run's last checkpoint.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from recipes.config import LauncherSpec, SlurmLauncherSpec
from recipes.runner import atomic_write

if TYPE_CHECKING:
    from training import TrainConfig

JOB_FILE = "slurm_job.json"
SCRIPT_FILE = "train.sbatch"
LOG_TAIL_LINES = 20


def run_distributed(config: TrainConfig, launcher: LauncherSpec, out: Path) -> None:
    """Train ``config`` on the launcher's ranks; returns when every rank has finished."""
    out = Path(out).resolve()
    if launcher.slurm is not None:
        refuse_if_job_running(out, launcher.slurm)
    config_path = atomic_write(out / "train_config.yaml", _config_yaml(config))
    if launcher.slurm is not None:
        run_slurm_job(launcher, out, config_path)
    else:
        run_torchrun(launcher, out, config_path)


def torchrun_command(
    launcher: LauncherSpec, config_path: Path, *, python: str, rdzv: list[str], nnodes: str | None = None
) -> list[list[str]]:
    """``python -m torch.distributed.run ... -m recipes.cli train CONFIG``, as groups of arguments."""
    return [
        [python, "-m", "torch.distributed.run"],
        ["--nnodes", nnodes or str(launcher.nnodes), "--nproc_per_node", str(launcher.nproc_per_node)],
        rdzv,
        launcher.torchrun_args,
        ["-m", "recipes.cli", "train", str(config_path)],
    ]


# --- torchrun on this node -------------------------------------------------------------------------


def run_torchrun(launcher: LauncherSpec, out: Path, config_path: Path) -> None:
    if launcher.nnodes == 1:
        rdzv = ["--standalone"]
    else:
        rdzv = ["--rdzv_backend", "c10d", "--rdzv_endpoint", str(launcher.rdzv_endpoint)]
    command = sum(torchrun_command(launcher, config_path, python=sys.executable, rdzv=rdzv), [])
    if launcher.nnodes > 1:
        script = write_other_nodes_script(launcher, out, command)
        others = launcher.nnodes - 1
        print(
            f"launcher: this node is one of {launcher.nnodes}; start the other {others} (node_rank 1..{others}) "
            f"with this same command on each, c10d's rendezvous assigns the ranks:\n  {shlex.join(command)}\n"
            f"(also in {script})",
            file=sys.stderr,
            flush=True,
        )
    completed = subprocess.run(command)
    if completed.returncode != 0:
        raise RuntimeError(
            f"torchrun training in {out} failed with exit code {completed.returncode}; "
            f"its output is above, the config is {config_path}"
        )


def write_other_nodes_script(launcher: LauncherSpec, out: Path, command: list[str]) -> Path:
    text = "\n".join(
        [
            "#!/bin/bash",
            f"# The other nodes of the {launcher.nnodes}-node training run in {out}: run this on each of them",
            f"# (node_rank 1..{launcher.nnodes - 1}) while node 0 runs midtrain. c10d's rendezvous assigns",
            "# the ranks, so the command is the same on every node. The run folder must be on a",
            "# filesystem all nodes share, and this python must exist there.",
            "set -euo pipefail",
            f"exec {shlex.join(command)}",
            "",
        ]
    )
    path = atomic_write(out / "other_nodes.sh", text)
    path.chmod(0o755)
    return path


# --- one Slurm job --------------------------------------------------------------------------------


def render_sbatch_script(launcher: LauncherSpec, out: Path, config_path: Path, *, job_name: str) -> str:
    """The batch script: nnodes nodes, one task per node, each running a torchrun agent."""
    slurm = launcher.slurm
    assert slurm is not None
    if any(c.isspace() for c in str(out)):
        raise ValueError(
            f"{out}: a Slurm run folder must not contain whitespace (#SBATCH --output cannot quote it)"
        )
    gpus = launcher.nproc_per_node if slurm.gpus_per_node is None else slurm.gpus_per_node
    directives = [
        f"--job-name={job_name}",
        f"--nodes={launcher.nnodes}",
        "--ntasks-per-node=1",
        f"--output={out}/slurm-%j.out",
    ]
    directives += [f"--gpus-per-node={gpus}"] if gpus else []
    for option, value in (
        ("cpus-per-task", slurm.cpus_per_task),
        ("mem", slurm.mem),
        ("partition", slurm.partition),
        ("account", slurm.account),
        ("qos", slurm.qos),
        ("time", slurm.time),
    ):
        if value is not None:
            directives.append(f"--{option}={value}")
    directives += slurm.sbatch_args
    rdzv = [
        "--rdzv_id",
        "$SLURM_JOB_ID",
        "--rdzv_backend",
        "c10d",
        "--rdzv_endpoint",
        f"$head_node:{slurm.rdzv_port}",
    ]
    torchrun = torchrun_command(
        launcher, config_path, python=slurm.python or sys.executable, rdzv=rdzv, nnodes="$SLURM_JOB_NUM_NODES"
    )
    # Slurm 22.05+ no longer hands the job's --cpus-per-task down to srun's tasks: say it again.
    srun = ["srun", "--kill-on-bad-exit=1"]
    srun += [f"--cpus-per-task={slurm.cpus_per_task}"] if slurm.cpus_per_task else []
    # One line per group of arguments, so that the script reads (and edits) easily.
    srun_line = " \\\n    ".join(" ".join(map(_shell_word, group)) for group in [srun, *torchrun] if group)
    lines = [
        "#!/bin/bash",
        f"# midtrain: the training run in {out}, one torchrun agent per node.",
        f"# Resubmit with: sbatch {out}/{SCRIPT_FILE} (training resumes from its last checkpoint).",
        *(f"#SBATCH {directive}" for directive in directives),
        "set -euo pipefail",
        *slurm.setup,
        'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f'echo "midtrain: job $SLURM_JOB_ID, $SLURM_JOB_NUM_NODES nodes, rendezvous at $head_node:{slurm.rdzv_port}"',
        srun_line,
        "",
    ]
    return "\n".join(lines)


def run_slurm_job(launcher: LauncherSpec, out: Path, config_path: Path) -> None:
    """Submit ``OUT/train.sbatch`` and wait for it; on Ctrl-C cancel the job."""
    slurm = launcher.slurm
    assert slurm is not None
    job_name = "midtrain-" + "-".join(out.parts[-2:])
    script = atomic_write(
        out / SCRIPT_FILE, render_sbatch_script(launcher, out, config_path, job_name=job_name)
    )
    command = [slurm.sbatch, "--parsable", "--wait", str(script)]
    process, stdout = _start(command)
    job_id = None
    try:
        job_id = _read_job_id(stdout)
        if job_id is None:
            stderr = process.communicate()[1]
            raise RuntimeError(
                f"{shlex.join(command)} did not submit the job (exit code {process.returncode}): {stderr.strip()}"
            )
        record = {"job_id": job_id, "script": str(script), "submitted_at": _now()}
        atomic_write(out / JOB_FILE, json.dumps(record, indent=1))
        print(
            f"launcher: Slurm job {job_id} ({launcher.nnodes} nodes), log {out}/slurm-{job_id}.out",
            file=sys.stderr,
            flush=True,
        )
        stderr = process.communicate()[1]
    except KeyboardInterrupt:
        if job_id is not None:
            subprocess.run([_sibling(slurm.sbatch, "scancel"), job_id], check=False)
            print(f"launcher: cancelled Slurm job {job_id}", file=sys.stderr, flush=True)
        process.terminate()
        raise
    record.update(exit_code=process.returncode, finished_at=_now())
    atomic_write(out / JOB_FILE, json.dumps(record, indent=1))
    if process.returncode != 0:
        log = out / f"slurm-{job_id}.out"
        tail = (
            "\n".join(log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]) if log.is_file() else ""
        )
        raise RuntimeError(
            f"Slurm job {job_id} for the training run in {out} failed with exit code {process.returncode} "
            f"(script {script}, log {log}); {stderr.strip() + '; ' if stderr.strip() else ''}"
            f"last lines of the log:\n{tail or '(no log written)'}\n"
            "Rerun to resume from the last checkpoint."
        )


def refuse_if_job_running(out: Path, slurm: SlurmLauncherSpec) -> None:
    """A second job on the same run folder would race the first one's checkpoints: refuse it."""
    record = out / JOB_FILE
    if not record.is_file():
        return
    job_id = str(json.loads(record.read_text()).get("job_id") or "")
    if not job_id:
        return
    try:
        listed = subprocess.run(
            [_sibling(slurm.sbatch, "squeue"), "-h", "-o", "%i", "-j", job_id], capture_output=True, text=True
        )
    except FileNotFoundError:
        return  # no squeue here: sbatch will say what is missing
    if listed.returncode == 0 and job_id in listed.stdout.split():
        raise ValueError(
            f"Slurm job {job_id} for this run ({out}) is still queued/running; "
            f"wait for it or scancel {job_id}, then rerun"
        )


def _start(command: list[str]) -> tuple[subprocess.Popen, int]:
    """Start sbatch with its stdout on a pseudo-terminal; return it and the terminal's read end.

    On a terminal sbatch's C stdio is line-buffered, so the job id it prints before waiting
    arrives at once; on a pipe it would be held back until the job ends.
    """
    import pty

    try:
        primary, secondary = pty.openpty()
    except OSError:  # no pseudo-terminals here: the id arrives when sbatch exits
        primary, secondary = os.pipe()
    try:
        process = subprocess.Popen(command, stdout=secondary, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        os.close(primary)
        raise ValueError(
            f"launcher.slurm.sbatch: {command[0]!r} not found; run from a Slurm login node "
            "(or set launcher.slurm.sbatch to its path)"
        ) from None
    finally:
        os.close(secondary)
    return process, primary


def _read_job_id(fd: int) -> str | None:
    """The first line sbatch --parsable prints: ``<id>`` or ``<id>;<cluster>``; closes ``fd``."""
    line = b""
    try:
        while not line.endswith(b"\n"):
            chunk = os.read(fd, 256)
            if not chunk:
                break
            line += chunk
    except OSError:  # EIO: sbatch exited and closed the terminal
        pass
    finally:
        os.close(fd)
    job_id = line.decode(errors="replace").strip().split(";")[0]
    return job_id if job_id.isdigit() else None


def _sibling(sbatch: str, name: str) -> str:
    """squeue/scancel next to a configured sbatch path, or from PATH."""
    return str(Path(sbatch).with_name(name)) if os.sep in sbatch else name


def _shell_word(word: str) -> str:
    # Words holding the job's shell variables are double-quoted so that they expand on the node.
    return f'"{word}"' if "$" in word else shlex.quote(word)


def _config_yaml(config: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
