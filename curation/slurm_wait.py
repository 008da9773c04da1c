"""Wait for a curation submitted to Slurm, and refuse to submit it twice.

datatrove's ``SlurmPipelineExecutor`` submits one array job per stage, each depending on the one
before, and returns at once. ``midtrain curate`` may stop there; a recipe cannot (tokenization
reads the curated files), so ``run_curation(..., wait=True)`` polls the queue here until the
chain has left it, then checks that every rank of every stage wrote its completion marker.
The job ids go to ``WORK/slurm_jobs.json``: a rerun while they are still queued is refused, since
datatrove would submit the ranks that have not finished yet a second time.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

JOBS_FILE = "slurm_jobs.json"


def refuse_if_jobs_queued(work: Path) -> None:
    record = work / JOBS_FILE
    if not record.is_file():
        return
    queued = _queued(list(json.loads(record.read_text()).values()))
    if queued:
        raise ValueError(
            f"curation Slurm jobs {', '.join(queued)} for {work} are still queued or running; "
            f"wait for them (squeue -j {','.join(queued)}) or scancel them, then rerun"
        )


def record_jobs(work: Path, stages: dict[str, object]) -> list[str]:
    """Write stage -> job id for the stages that were submitted (-1: all ranks already done)."""
    jobs = {name: str(e.job_id) for name, e in stages.items() if e.job_id not in (None, -1, "-1")}
    tmp = work / f".{JOBS_FILE}.tmp"
    tmp.write_text(json.dumps(jobs, indent=1))
    os.replace(tmp, work / JOBS_FILE)
    return list(jobs.values())


def wait_for_jobs(
    stages: dict[str, object], work: Path, *, poll_s: float = 30.0, log: Callable[[str], None] = print
) -> None:
    """Block until the submitted chain has left the queue; raise if any rank did not finish."""
    job_ids = record_jobs(work, stages)
    last_status = None
    try:
        while _queued(job_ids):
            status = ", ".join(f"{name} {_done(e)}/{e.world_size}" for name, e in stages.items())
            if status != last_status:
                log(f"curation on Slurm (jobs {','.join(job_ids)}): ranks done per stage: {status}")
                last_status = status
            time.sleep(poll_s)
    except KeyboardInterrupt:
        subprocess.run(["scancel", *job_ids], check=False)
        log(f"cancelled curation Slurm jobs {', '.join(job_ids)}")
        raise
    for name, executor in stages.items():
        incomplete = executor.get_incomplete_ranks()
        if incomplete:
            raise RuntimeError(
                f"curation stage {name!r}: ranks {incomplete[:10]}{' ...' if len(incomplete) > 10 else ''} "
                f"of {executor.world_size} did not finish on Slurm (jobs {', '.join(job_ids) or '-'}); "
                f"their logs are in {executor.logging_dir.path}/slurm_logs. Rerun to resume: finished ranks "
                "are skipped"
            )


def _done(executor) -> int:
    return executor.world_size - len(executor.get_incomplete_ranks())


def _queued(job_ids: list[str]) -> list[str]:
    """The ids among ``job_ids`` that squeue still lists (array tasks show as ``<id>_<task>``)."""
    if not job_ids:
        return []
    try:
        listed = subprocess.run(
            ["squeue", "-h", "-o", "%i", "-j", ",".join(job_ids)], capture_output=True, text=True
        )
    except FileNotFoundError:
        raise ValueError("squeue not found: cannot follow the curation's Slurm jobs from here") from None
    if listed.returncode != 0:
        if "invalid job id" in listed.stderr.lower():  # every job has left the queue
            return []
        return list(job_ids)  # the controller did not answer (timeout, restart): keep waiting
    return sorted({line.split("_")[0] for line in listed.stdout.split()} & set(job_ids))
