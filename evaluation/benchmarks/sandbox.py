"""Run a generated program in a separate, contained, resource-limited process tree.

``run_program(program)`` writes the program into a fresh temporary folder and runs it through
``sandbox_harness.py`` (a supervisor that forks the program process). What is guaranteed depends
on what the OS allows; ``isolation()`` says which level this machine gets, docs/evaluation.md has
the table. In short:

- **Pass means the checks ran to their end**: the harness writes a per-run random token to a pipe
  only after the program and its checks returned; ``sys.exit``, ``os._exit``, ``atexit`` tricks,
  signals and crashes never write it. Exit status 0 alone is not a pass.
- **The timeout holds** however the program holds its pipes: output is read with ``select`` in
  bounded chunks (never ``communicate()``), capped at ``output_bytes``, and at the deadline the
  whole tree is killed: with namespaces, the PID namespace's init dies and the kernel kills every
  process in it (``setsid`` ones included); without, the supervisor is a child subreaper and the
  evaluator kills its process group and every descendant found in ``/proc``.
- **Limits** (``setrlimit``): address space, CPU seconds, file size, no core files, and processes
  (``max_processes``, default 1: no fork). A root evaluator drops the program to uid/gid 65534
  (nobody) so the process limit applies and root-only files are unreadable.
- **Namespaces** (Linux with ``unshare``; as root, or as a user where user namespaces are on): no
  network (an empty network namespace: even 127.0.0.1 is unreachable), a PID namespace, and a mount
  namespace where every mount is read-only except the run folder, which is also bound over /tmp,
  /var/tmp, /dev/shm and /run/lock: writes land in the run folder and vanish with it.

Not a defence against code written to attack this harness (it runs in the same interpreter as the
checks and could search its memory for the token) or the kernel: run untrusted models in a container.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
TEMP_DIRS = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"]
_HARNESS = (Path(__file__).parent / "sandbox_harness.py").read_text(encoding="utf-8")
_FLAGS = ["--net", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc"]


@dataclass
class RunResult:
    passed: bool
    reason: str  # "passed" or why not: "timeout after 5s", "memory limit (MemoryError)", ...
    returncode: int | None
    isolation: str = ""  # the level it ran under: see isolation()


@functools.cache
def isolation() -> str:
    """``namespaces-root``, ``namespaces-user`` or ``process`` (no namespaces: see the module doc).

    Checked once per process: ``unshare`` must run and a trivial program must pass through the whole
    namespaced harness; otherwise the level is ``process``.
    """
    unshare = shutil.which("unshare")
    if not sys.platform.startswith("linux") or unshare is None:
        return "process"
    root = os.geteuid() == 0
    command = [unshare, *([] if root else ["--map-root-user"]), *_FLAGS, "true"]
    try:
        ok = subprocess.run(command, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    level = "namespaces-root" if root else "namespaces-user"
    # the whole harness once (mounts, privilege drop): a kernel or container that refuses a step
    # gets the process level, never a sandbox that fails every program
    if not ok or not run_program("assert True\n", timeout_s=30, level=level).passed:
        return "process"
    return level


def run_program(
    program: str,
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    cpu_s: int = 10,
    output_bytes: int = 1 << 20,
    file_mb: int = 16,
    max_processes: int = 1,
    level: str | None = None,
) -> RunResult:
    """Run ``program`` contained; passed only if it and its checks ran to the end within the limits.

    ``level`` forces ``"process"`` (no namespaces) for tests; the default is ``isolation()``.
    """
    level = level or isolation()
    root = os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="midtrain-sandbox-") as workdir:
        Path(workdir, "program.py").write_text(program, encoding="utf-8")
        if root:
            os.chown(workdir, NOBODY, NOBODY)
            os.chmod(workdir, 0o700)
        token = secrets.token_hex(16).encode()
        token_r, token_w = os.pipe()
        result_r, result_w = os.pipe()
        os.write(token_w, token)
        os.close(token_w)
        config = {
            "workdir": os.path.realpath(workdir),
            "temp_dirs": TEMP_DIRS,
            "confine_files": level.startswith("namespaces"),
            "drop_uid": NOBODY if root and (level != "process" or not _hidden_interpreter()) else None,
            "expose": _hidden_interpreter() if root and level != "process" else {},
            "memory_bytes": memory_mb << 20,
            "cpu_s": cpu_s,
            "file_bytes": file_mb << 20,
            "max_processes": max_processes,
            "token_fd": token_r,
            "result_fd": result_w,
        }
        command = [sys.executable, "-I", "-c", _HARNESS, json.dumps(config)]
        if level != "process":
            command = [shutil.which("unshare"), *([] if root else ["--map-root-user"]), *_FLAGS, *command]
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
        env |= {"OMP_NUM_THREADS": "1", "TMPDIR": "/tmp"}
        try:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(token_r, result_w),
                start_new_session=True,
            )
        finally:
            os.close(token_r)
            os.close(result_w)
        try:
            outcome, out = _watch(process, result_r, timeout_s=timeout_s, output_bytes=output_bytes)
        finally:
            _kill_tree(process)
            os.close(result_r)
            process.stdout.close()
            process.stderr.close()
    stderr = out[2].decode("utf-8", "replace")
    if outcome == "timeout":
        return RunResult(False, f"timeout after {timeout_s:g}s", None, level)
    if outcome == "output":
        return RunResult(False, f"output limit (more than {output_bytes} bytes)", None, level)
    passed = out[result_r] == token and process.returncode == 0
    return RunResult(passed, _reason(passed, process.returncode, stderr), process.returncode, level)


@functools.cache
def _hidden_interpreter() -> dict[str, list[str]]:
    """``{folder others cannot enter: [interpreter folders below it]}`` (e.g. a pyenv under /root)."""
    hidden: dict[str, list[str]] = {}
    for prefix in sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}):
        parts = Path(prefix).parts
        for depth in range(2, len(parts) + 1):
            folder = str(Path(*parts[:depth]))
            if not os.stat(folder).st_mode & 0o001:
                paths = hidden.setdefault(folder, [])
                if prefix not in paths and not any(prefix.startswith(p + "/") for p in paths):
                    paths.append(prefix)
                break
    return hidden


def _watch(process: subprocess.Popen, result_fd: int, *, timeout_s: float, output_bytes: int):
    """Read stdout, stderr and the result pipe until all close or the deadline; bounded memory."""
    deadline = time.monotonic() + timeout_s
    streams = {process.stdout.fileno(): 1, process.stderr.fileno(): 2, result_fd: result_fd}
    out: dict[int, bytes] = {1: b"", 2: b"", result_fd: b""}
    selector = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    exited_at = None
    try:
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                return "timeout", out
            if exited_at is None and process.poll() is not None:
                exited_at = now
                _kill_tree(process)  # the program is done: whatever it left behind goes now
            if exited_at is not None and now - exited_at > 1.0:
                break  # something outside our reach still holds a pipe: stop listening
            for key, _ in selector.select(timeout=min(0.1, deadline - now)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                name = streams[key.fd]
                out[name] += chunk[: 64 if name == result_fd else None]
                if len(out[1]) + len(out[2]) > output_bytes:
                    return "output", out
        remaining = max(0.1, deadline - time.monotonic())
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            return "timeout", out
        return "done", out
    finally:
        selector.close()


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill the process group and every descendant (children of the subreaper included), then reap.

    Descendants are looked up only while the supervisor is not reaped yet (after that its pid may
    belong to another process; its leftovers were already killed by the supervisor or the
    namespace). A process group id is never reused while a member is alive, so ``killpg`` is safe.
    """
    for _ in range(50 if process.returncode is None else 0):
        victims = [p for p in _descendants(process.pid) if p != process.pid]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not victims:
            break
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _descendants(root: int) -> list[int]:
    """Every live process whose parent chain reaches ``root`` (from /proc; empty elsewhere)."""
    parents: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = Path(f"/proc/{name}/stat").read_bytes()
                    parents[int(name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _reason(passed: bool, returncode: int, stderr: str) -> str:
    if passed:
        return "passed"
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    if "MemoryError" in stderr:
        return "memory limit (MemoryError)"
    if abs(returncode) % 128 in (signal.SIGXCPU, signal.SIGKILL) and returncode != 0:
        return f"cpu time limit (killed by signal {abs(returncode) % 128})"
    if returncode > 128 or returncode < 0:
        return f"killed by signal {abs(returncode) % 128}"
    if returncode == 0:
        return "exited with status 0 before the checks finished (no completion token)"
    if last.startswith("SandboxExit:"):
        return last.removeprefix("SandboxExit: ")[:200]
    return last[:200] or f"exit status {returncode}"
