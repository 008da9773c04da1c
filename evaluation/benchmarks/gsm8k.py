"""GSM8K-format math: greedy generation, exact match on the final ``#### N`` answer.

``exact_match`` is strict (the completion must itself write ``#### N``, as lm-eval's strict-match);
``exact_match_flexible`` takes the last number in the completion (lm-eval's flexible-extract).
Numbers compare after removing ``,``/``$``/trailing ``.`` and as values (``7.0`` == ``7``).
"""

from __future__ import annotations

import re
from pathlib import Path

from evaluation.benchmarks.generate import greedy_generate
from evaluation.evalsets import evalset_name, read_evalset

_STRICT = re.compile(r"####\s*(-?[$0-9.,]*[0-9])")
_NUMBER = re.compile(r"-?[$0-9.,]*[0-9]")
STOP = ["\n\nQuestion:", "Question:", "<|endoftext|>", "\n\n\n"]


def normalize_number(text: str) -> str | None:
    text = text.strip().replace(",", "").replace("$", "").rstrip(".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else repr(value)


def extract_answer(text: str, *, flexible: bool = False) -> str | None:
    """The final answer of a GSM8K solution: after ``####``, or (flexible) the last number."""
    match = _STRICT.findall(text)
    if match:
        return normalize_number(match[-1])
    if flexible:
        numbers = _NUMBER.findall(text)
        return normalize_number(numbers[-1]) if numbers else None
    return None


def is_exact_match(completion: str, reference: str, *, flexible: bool = False) -> bool:
    gold = extract_answer(reference)
    if gold is None:
        raise ValueError(f"reference answer has no '#### N' final answer: {reference[-60:]!r}")
    return extract_answer(completion, flexible=flexible) == gold


def check_references(records: list[dict], path: Path) -> None:
    for record in records:
        if extract_answer(record["answer"]) is None:
            raise ValueError(f"{path}:{record['_line']}: key 'answer' has no final '#### N' answer")


def build_prompt(question: str) -> str:
    return f"Question: {question.strip()}\nAnswer:"


def run_gsm8k(loaded, files: list[Path], *, limit: int | None, max_new_tokens: int, batch_size: int):
    """Eval rows (task ``gsm8k`` per file) and per-item samples."""
    rows, samples = [], []
    for path in files:
        records = read_evalset(path, "gsm8k", limit=limit)
        check_references(records, path)
        completions = greedy_generate(
            loaded,
            [build_prompt(r["question"]) for r in records],
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            stop=STOP,
        )
        strict = flexible = 0
        for record, completion in zip(records, completions, strict=True):
            ok = is_exact_match(completion, record["answer"])
            ok_flex = is_exact_match(completion, record["answer"], flexible=True)
            strict += ok
            flexible += ok_flex
            samples.append(
                {
                    "file": str(path),
                    "line": record["_line"],
                    "completion": completion,
                    "gold": extract_answer(record["answer"]),
                    "exact_match": ok,
                    "exact_match_flexible": ok_flex,
                }
            )
        task = "gsm8k" if len(files) == 1 else f"gsm8k:{evalset_name(path)}"
        n = len(records)
        rows += [
            {"task": task, "metric": "exact_match", "value": strict / n, "n": n},
            {"task": task, "metric": "exact_match_flexible", "value": flexible / n, "n": n},
        ]
    return rows, samples
