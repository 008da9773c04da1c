"""Build the datatrove executor of one stage: local (default), Ray or Slurm."""

from __future__ import annotations

from curation.config import ExecutorConfig
from curation.task_logging import cache_library_dirs


def make_executor(
    config: ExecutorConfig, pipeline: list, *, tasks: int, logging_dir: str, job_name: str, depends=None
):
    workers = config.workers if config.workers > 0 else tasks
    workers = min(workers, tasks)
    cache_library_dirs()  # each task opens a log sink; see curation/task_logging.py
    if config.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(
            pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir, skip_completed=True
        )
    if config.kind == "ray":
        try:
            import ray  # noqa: F401
            from datatrove.executor.ray import RayPipelineExecutor
        except ImportError as error:
            raise ValueError(
                "executor.kind: 'ray' needs the ray extra (pip install 'midtrain[ray]')"
            ) from error
        return RayPipelineExecutor(
            pipeline,
            tasks=tasks,
            workers=workers,
            logging_dir=logging_dir,
            depends=depends,
            skip_completed=True,
            **config.ray,
        )
    if config.kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        options = {"time": "4:00:00", "partition": "cpu", **config.slurm}
        return SlurmPipelineExecutor(
            pipeline,
            tasks=tasks,
            logging_dir=logging_dir,
            depends=depends,
            job_name=f"midtrain-{job_name}",
            skip_completed=True,
            **options,
        )
    raise AssertionError(config.kind)
