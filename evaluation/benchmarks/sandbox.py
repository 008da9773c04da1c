"""Run a generated program in a separate, resource-limited Python process.

Never in the evaluating process: the program runs as ``python -I`` in a fresh temporary folder, in
its own session (so a timeout kills its whole process group), after a prologue that lowers its
limits with ``resource.setrlimit``: address space (memory), CPU seconds, file size and process
count (no fork bombs). The wall-clock timeout catches programs that sleep or block.

This contains accidents (loops, memory hogs, crashes), not attackers: the program still sees the
file system and network as the user running the evaluation. Run untrusted models in a container.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_PROLOGUE = """\
import resource, sys
def _limit(kind, value):
    soft, hard = resource.getrlimit(kind)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (value, value if hard == resource.RLIM_INFINITY else hard))
_limit(resource.RLIMIT_AS, {memory_bytes})
_limit(resource.RLIMIT_CPU, {cpu_s})
_limit(resource.RLIMIT_FSIZE, 16 * 1024 * 1024)
try:
    _limit(resource.RLIMIT_NPROC, 0)  # with setrlimit per process: no new processes from here
except (ValueError, OSError):
    pass
sys.setrecursionlimit(10000)
_source = open("program.py", encoding="utf-8").read()
exec(compile(_source, "program.py", "exec"), {{"__name__": "__main__"}})
"""


@dataclass
class RunResult:
    passed: bool
    reason: (
        str  # "passed" or why not: "timeout after 5s", "memory limit (MemoryError)", "AssertionError: ..."
    )
    returncode: int | None


def run_program(
    program: str, *, timeout_s: float = 10.0, memory_mb: int = 1024, cpu_s: int = 10
) -> RunResult:
    """Run ``program`` in a limited subprocess; passed means exit status 0 within the limits."""
    with tempfile.TemporaryDirectory(prefix="midtrain-sandbox-") as workdir:
        Path(workdir, "program.py").write_text(program, encoding="utf-8")
        prologue = _PROLOGUE.format(memory_bytes=memory_mb * 1024 * 1024, cpu_s=cpu_s)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONHASHSEED": "0",
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
        }
        process = subprocess.Popen(
            [sys.executable, "-I", "-c", prologue],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            return RunResult(False, f"timeout after {timeout_s:g}s", None)
        finally:
            _kill_group(process)  # children the program left behind
    return RunResult(
        process.returncode == 0,
        _reason(process.returncode, stderr.decode("utf-8", "replace")),
        process.returncode,
    )


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _reason(returncode: int, stderr: str) -> str:
    if returncode == 0:
        return "passed"
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    if "MemoryError" in stderr:
        return "memory limit (MemoryError)"
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"cpu time limit (killed by signal {-returncode})"
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return last[:200] or f"exit status {returncode}"
