"""Hostile programs against the HumanEval sandbox, each asserting the outcome docs/evaluation.md states.

Cases that hold at every isolation level run at ``process`` (no namespaces) and at the machine's
own level; cases that need namespaces or a root evaluator say so and are skipped elsewhere.
"""

from __future__ import annotations

import os
import random
import resource
import socket
import threading
import time
from pathlib import Path

import pytest

from evaluation.benchmarks.humaneval import build_program
from evaluation.benchmarks.sandbox import _hidden_interpreter, isolation, run_program

RECORD = {
    "prompt": 'def add(a, b):\n    """Return a + b."""\n',
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
    "entry_point": "add",
}
LEVELS = sorted({"process", isolation()})
NAMESPACES = pytest.mark.skipif(not isolation().startswith("namespaces"), reason="needs unshare")


def wrong(trick: str) -> str:
    """A wrong answer (a - b) that tries ``trick`` before the checks fail."""
    return build_program(RECORD, f"    {trick}\n    return a - b\n")


def forks_denied(level: str) -> bool:
    """Documented: no fork unless the program keeps root (root evaluator, no namespaces, hidden python)."""
    return os.geteuid() != 0 or level != "process" or not _hidden_interpreter()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    "trick",
    [
        "import sys; sys.exit(0)",
        "raise SystemExit(0)",
        "import os; os._exit(0)",
        "import atexit, os; atexit.register(lambda: os._exit(0))",
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
        "import os\n    for fd in range(3, 256):\n        try: os.write(fd, b'0' * 32)\n        except OSError: pass\n"
        "    os._exit(0)",
    ],
)
def test_exit_tricks_never_pass(level, trick):
    result = run_program(wrong(trick), timeout_s=20, level=level)
    assert not result.passed, result
    assert result.reason != "passed"


@pytest.mark.parametrize("level", LEVELS)
def test_correct_program_passes_at_every_level(level):
    result = run_program(build_program(RECORD, "    return a + b\n"), timeout_s=20, level=level)
    assert result.passed and result.reason == "passed" and result.isolation == level


GRANDCHILD = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # a daemon: new session, orphaned, holding stdout and stderr
        os.execv("/bin/sleep", ["sleep", "{seconds}"])
    os._exit(0)
time.sleep(0.5)
{tail}
"""


def _alive(seconds: str) -> list[int]:
    """Pids whose command line is exactly ``sleep <seconds>`` (the test's unique daemon)."""
    wanted = f"sleep\0{seconds}\0".encode()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if Path(f"/proc/{name}/cmdline").read_bytes() == wanted:
                    found.append(int(name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not Path("/proc").is_dir() or not Path("/bin/sleep").exists(), reason="Linux /proc")
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("tail", ["", "time.sleep(120)"], ids=["returns", "hangs"])
def test_setsid_grandchild_holding_pipes_is_killed_and_timeout_holds(level, tail):
    seconds = f"{random.randint(10**6, 10**7)}.25"  # a command line no other process has
    start = time.monotonic()
    result = run_program(
        GRANDCHILD.format(seconds=seconds, tail=tail), timeout_s=3, max_processes=64, level=level
    )
    elapsed = time.monotonic() - start
    assert elapsed < 3 + 2.5, f"timeout did not hold: {elapsed:.1f}s"
    if tail:
        assert not result.passed and result.reason == "timeout after 3s"
    else:
        assert result.passed, result
    time.sleep(0.3)
    assert _alive(seconds) == [], "the setsid daemon outlived the run"


def test_the_daemon_probe_sees_a_live_daemon():
    """Control for the test above: ``_alive`` finds such a process while it runs."""
    import subprocess

    seconds = f"{random.randint(10**6, 10**7)}.75"
    daemon = subprocess.Popen(["sleep", seconds], executable="/bin/sleep", start_new_session=True)
    try:
        time.sleep(0.2)
        assert _alive(seconds) == [daemon.pid]
    finally:
        daemon.kill()
        daemon.wait()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    "code",
    ["import os; os.fork()", "import subprocess; subprocess.run(['true'])"],
    ids=["fork", "subprocess"],
)
def test_fork_and_subprocess_are_denied_by_default(level, code):
    if not forks_denied(level):
        pytest.skip("documented: a root evaluator without namespaces keeps root when python is unreadable")
    result = run_program(build_program(RECORD, f"    {code}\n    return a + b\n"), timeout_s=20, level=level)
    assert not result.passed and "Resource temporarily unavailable" in result.reason


@pytest.mark.parametrize("level", LEVELS)
def test_20_gb_allocation_is_a_memory_failure_not_an_evaluator_problem(level):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_program(wrong("x = bytearray(20 * 2**30)"), timeout_s=20, memory_mb=512, level=level)
    assert not result.passed and result.reason == "memory limit (MemoryError)"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


@pytest.mark.parametrize("level", LEVELS)
def test_huge_output_is_capped_and_fails_fast(level):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    hog = "import sys\n    while True: sys.stdout.write('x' * 1_000_000)"
    result = run_program(wrong(hog), timeout_s=30, output_bytes=1 << 20, level=level)
    assert not result.passed and result.reason.startswith("output limit")
    assert time.monotonic() - start < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


@NAMESPACES
def test_writes_are_confined_to_the_run_folder(tmp_path):
    outside = tmp_path / "escaped.txt"  # a host path under /tmp: not visible inside
    repo_file = Path(__file__).with_name("escaped_by_sandbox.txt")  # a read-only mount inside
    program = f"""
import os
open("/tmp/scratch.txt", "w").write("ok")  # /tmp is the run folder
assert open("scratch.txt").read() == "ok"
for path in ({str(outside)!r}, {str(repo_file)!r}, "/var/tmp/x", "/dev/shm/x"):
    try:
        open(path, "w").write("escaped")
    except OSError as error:
        print(path, type(error).__name__)
"""
    result = run_program(program, timeout_s=20)
    assert result.passed, result
    assert not outside.exists() and not repo_file.exists()
    assert not Path("/tmp/scratch.txt").exists() and not Path("/var/tmp/x").exists()


@NAMESPACES
def test_no_network_not_even_localhost():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(3)
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(_accept(server)))
    thread.start()
    program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
    result = run_program(program, timeout_s=20)
    thread.join()
    server.close()
    assert not result.passed and "Network is unreachable" in result.reason
    assert accepted == [None]


def _accept(server: socket.socket):
    try:
        return server.accept()
    except OSError:
        return None


@pytest.mark.skipif(os.geteuid() != 0 or not isolation().startswith("namespaces"), reason="root + unshare")
def test_root_evaluator_drops_to_nobody_and_hides_root_files():
    program = """
import os
assert (os.getuid(), os.getgid()) == (65534, 65534), (os.getuid(), os.getgid())
try:
    open("/etc/shadow").read()
except PermissionError:
    pass
else:
    raise AssertionError("read /etc/shadow")
assert os.path.exists("/etc/passwd")  # world-readable system files stay readable
"""
    result = run_program(program, timeout_s=20)
    assert result.passed, result
