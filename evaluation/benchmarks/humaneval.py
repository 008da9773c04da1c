"""HumanEval-format code: greedy completion of ``prompt``, pass@1 by running ``test`` in the sandbox.

The program is ``prompt + completion + test + check(entry_point)``, run by
``evaluation.benchmarks.sandbox.run_program`` in a separate limited process; a program that fails,
hangs or eats memory is a failed item with its reason, and the evaluation goes on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evaluation.benchmarks.generate import greedy_generate
from evaluation.benchmarks.sandbox import RunResult, run_program
from evaluation.evalsets import evalset_name, read_evalset

# Where a function body ends (the usual HumanEval stop sequences).
STOP = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ", '\n"""', "<|endoftext|>"]


def build_program(record: dict, completion: str) -> str:
    return f"{record['prompt']}{completion}\n\n{record['test']}\n\ncheck({record['entry_point']})\n"


def check_items(
    records: list[dict], completions: list[str], *, timeout_s: float, memory_mb: int, cpu_s: int, workers: int
) -> list[RunResult]:
    """Run every (record, completion) program; threads only wait on the subprocesses."""
    programs = [build_program(r, c) for r, c in zip(records, completions, strict=True)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(
                lambda p: run_program(p, timeout_s=timeout_s, memory_mb=memory_mb, cpu_s=cpu_s), programs
            )
        )


def run_humaneval(loaded, files: list[Path], config) -> tuple[list[dict], list[dict]]:
    """Eval rows (task ``humaneval``, metric ``pass@1``) and per-item samples with reasons."""
    rows, samples = [], []
    for path in files:
        records = read_evalset(path, "humaneval", limit=config.limit)
        completions = greedy_generate(
            loaded,
            [r["prompt"] for r in records],
            max_new_tokens=config.max_new_tokens,
            batch_size=config.batch_size,
            stop=STOP,
        )
        results = check_items(
            records,
            completions,
            timeout_s=config.timeout_s,
            memory_mb=config.memory_mb,
            cpu_s=config.cpu_s,
            workers=config.workers,
        )
        for record, completion, result in zip(records, completions, results, strict=True):
            samples.append(
                {
                    "file": str(path),
                    "line": record["_line"],
                    "task_id": record.get("task_id"),
                    "completion": completion,
                    "passed": result.passed,
                    "reason": result.reason,
                }
            )
        task = "humaneval" if len(files) == 1 else f"humaneval:{evalset_name(path)}"
        passed = sum(r.passed for r in results)
        rows.append({"task": task, "metric": "pass@1", "value": passed / len(records), "n": len(records)})
    return rows, samples
