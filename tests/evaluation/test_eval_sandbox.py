"""HumanEval programs run in a limited subprocess: pass, fail, timeout, memory hog."""

from __future__ import annotations

import os
import time

from evaluation.benchmarks.humaneval import build_program, check_items
from evaluation.benchmarks.sandbox import run_program

RECORD = {
    "prompt": 'def add(a, b):\n    """Return a + b."""\n',
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
    "entry_point": "add",
}


def test_correct_solution_passes_and_wrong_one_fails_with_reason():
    results = check_items(
        [RECORD, RECORD],
        ["    return a + b\n", "    return a - b\n"],
        timeout_s=10,
        memory_mb=512,
        cpu_s=5,
        workers=2,
    )
    assert results[0].passed and results[0].reason == "passed"
    assert not results[1].passed and "AssertionError" in results[1].reason


def test_hanging_program_times_out():
    start = time.monotonic()
    result = run_program(
        build_program(RECORD, "    import time\n    time.sleep(60)\n"), timeout_s=1.5, cpu_s=5
    )
    assert not result.passed and result.reason.startswith("timeout")
    assert time.monotonic() - start < 10


def test_busy_loop_hits_cpu_limit():
    result = run_program(build_program(RECORD, "    while True:\n        pass\n"), timeout_s=20, cpu_s=1)
    assert not result.passed and ("cpu time limit" in result.reason or result.reason.startswith("timeout"))


def test_memory_hog_fails_without_hurting_the_evaluator():
    hog = "    blocks = []\n    while True:\n        blocks.append(bytearray(50 * 2**20))\n"
    result = run_program(build_program(RECORD, hog), timeout_s=20, memory_mb=256, cpu_s=10)
    assert not result.passed and result.reason.startswith("memory limit")


def test_program_runs_in_another_process_and_folder():
    program = f"import os\nassert os.getpid() != {os.getpid()}\nassert os.getcwd() != {os.getcwd()!r}\n"
    assert run_program(program).passed
    assert not run_program(f"import os\nassert os.getpid() == {os.getpid()}\n").passed
