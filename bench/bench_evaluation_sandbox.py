"""The HumanEval sandbox's added cost per problem: midtrain's sandbox vs a plain ``python -I`` run.

Both run the same HumanEval-format programs (a correct and a wrong solution of small problems),
one at a time, alternating, in one process:

- baseline: ``subprocess.run([python, "-I", "program.py"], timeout=...)`` in a temp folder, exit
  status 0 = pass (what the sandbox did before: no token, no namespaces, ``communicate()``);
- midtrain: ``evaluation.benchmarks.sandbox.run_program`` at this machine's isolation level, and at
  ``process`` level (no namespaces).

Prints milliseconds per problem for each and the added cost. Run with ``nice -n 10`` on a shared machine.

    python bench/bench_evaluation_sandbox.py [--problems 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluation.benchmarks.humaneval import build_program  # noqa: E402
from evaluation.benchmarks.sandbox import isolation, run_program  # noqa: E402

PROBLEMS = [
    (
        "add",
        "a, b",
        "return a + b",
        "return a - b",
        "assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0",
    ),
    ("rev", "s", "return s[::-1]", "return s", "assert candidate('abc') == 'cba'"),
    (
        "fib",
        "n",
        "x, y = 0, 1\n    for _ in range(n):\n        x, y = y, x + y\n    return x",
        "return n",
        "assert [candidate(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]",
    ),
    (
        "evens",
        "xs",
        "return [x for x in xs if x % 2 == 0]",
        "return xs",
        "assert candidate([1, 2, 3, 4]) == [2, 4]",
    ),
]


def programs(count: int) -> list[tuple[str, bool]]:
    out = []
    for i in range(count):
        name, args, good, bad, test = PROBLEMS[i % len(PROBLEMS)]
        record = {
            "prompt": f"def {name}({args}):\n",
            "test": f"def check(candidate):\n    {test}\n",
            "entry_point": name,
        }
        correct = i % 2 == 0
        out.append((build_program(record, f"    {good if correct else bad}\n"), correct))
    return out


def baseline(program: str) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "program.py").write_text(program)
        done = subprocess.run(
            [sys.executable, "-I", "program.py"], cwd=folder, capture_output=True, timeout=10
        )
        return done.returncode == 0


def timed(fn, items) -> tuple[float, int]:
    start = time.perf_counter()
    passed = sum(fn(p) for p, _ in items)
    return (time.perf_counter() - start) / len(items) * 1000, passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    items = programs(args.problems)
    expected = sum(ok for _, ok in items)
    level = isolation()
    runners = {
        "plain python -I": baseline,
        f"sandbox ({level})": lambda p: run_program(p).passed,
        "sandbox (process)": lambda p: run_program(p, level="process").passed,
    }
    best: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.repeats):
        for name, fn in runners.items():
            ms, passed = timed(fn, items)
            assert passed == expected, f"{name}: {passed} passed, expected {expected}"
            best[name].append(ms)
    base = min(best["plain python -I"])
    print(f"isolation level here: {level}; {args.problems} problems x {args.repeats} repeats (best, median)")
    print("| runner | ms/problem (best) | ms/problem (median) | added vs plain |")
    print("|---|---|---|---|")
    for name, times in best.items():
        print(f"| {name} | {min(times):.1f} | {statistics.median(times):.1f} | {min(times) - base:+.1f} ms |")


if __name__ == "__main__":
    main()
