"""Task log sinks reuse one library-folder lookup and format tracebacks as before."""

from __future__ import annotations

import sysconfig

from loguru import logger
from loguru._better_exceptions import ExceptionFormatter

from curation.task_logging import cache_library_dirs


def test_lookup_runs_once_and_gives_the_same_folders(tmp_path, monkeypatch):
    before = ExceptionFormatter._get_lib_dirs()
    cache_library_dirs()
    cache_library_dirs()  # a second call does not wrap the wrapper
    calls = []
    real = sysconfig.get_scheme_names
    monkeypatch.setattr(sysconfig, "get_scheme_names", lambda: calls.append(1) or real())
    import sys

    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path)])  # a new sys.path: one fresh lookup
    sinks = [logger.add(tmp_path / f"task_{i}.log") for i in range(5)]
    for sink in sinks:
        logger.remove(sink)
    assert len(calls) == 1
    assert ExceptionFormatter._get_lib_dirs() == before


def test_tracebacks_still_logged(tmp_path):
    cache_library_dirs()
    sink = logger.add(tmp_path / "task.log", backtrace=True, diagnose=False)
    try:
        raise ValueError("boom in a task")
    except ValueError:
        logger.exception("task failed")
    logger.remove(sink)
    text = (tmp_path / "task.log").read_text()
    assert "ValueError: boom in a task" in text and "Traceback" in text
