"""GSM8K-format math: k-shot greedy generation, exact match on the final answer.

The prompt is lm-eval's ``gsm8k`` format by default: ``num_fewshot`` (5) solved examples, each
``Question: <q>\nAnswer: <full solution ending #### N>``, joined by a blank line, then
``Question: <q>\nAnswer:``. Generation stops at ``Question:`` (the model starting a new item).

Answer extraction (both reported, as lm-eval's two filters):

- ``exact_match`` (lm-eval ``strict-match``): the **first** ``#### N`` in the completion;
  nothing else counts, so a completion without ``####`` is wrong.
- ``exact_match_flexible`` (lm-eval ``flexible-extract``): the **last** number in the completion.

Numbers compare after removing ``,``/``$``/a trailing ``.`` and as values (``7.0`` == ``7``); the
gold answer is the reference's ``#### N``.
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
    """The final answer: after the first ``####``, or (flexible, no ``####``) the last number."""
    match = _STRICT.search(text)  # the first one, as lm-eval's strict-match (regex + take_first)
    if match:
        return normalize_number(match.group(1))
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


def build_prompt(question: str, shots: list[dict] = (), config=None) -> str:
    """``shots`` (records with question and answer) then ``question``, in ``config``'s format."""
    template = config.prompt_template if config is not None else "Question: {question}\nAnswer:"
    between = config.fewshot_delimiter if config is not None else "\n\n"
    target = config.target_delimiter if config is not None else " "
    parts = [template.format(question=s["question"].strip()) + target + s["answer"].strip() for s in shots]
    return between.join([*parts, template.format(question=question.strip())])


def choose_shots(records: list[dict], index: int, config, pool: list[dict] | None) -> list[dict]:
    """The shots for item ``index``: the pool's first k, else the k items after it (cyclic)."""
    k = config.num_fewshot
    if pool is not None:
        return pool[:k]
    k = min(k, len(records) - 1)
    return [records[(index + step) % len(records)] for step in range(1, k + 1)]


def prompt_description(config) -> str:
    """One line for the report: prompt format, shots and extraction."""
    source = (
        f"the first {config.num_fewshot} of {config.fewshot_file}"
        if config.fewshot_file
        else ("the items after each question in the same file (never the question itself)")
    )
    shots = (
        f"{config.num_fewshot}-shot (fewer when a file has fewer other items: see num_fewshot) from {source}"
        if config.num_fewshot
        else "0-shot"
    )
    return (
        f"prompt {config.prompt_template!r} per question, {shots}, shots joined by "
        f"{config.fewshot_delimiter!r}; greedy, stop at 'Question:'. exact_match = first '#### N' in "
        "the completion (lm-eval strict-match); exact_match_flexible = last number (flexible-extract)"
    )


def run_gsm8k(loaded, files: list[Path], config):
    """Eval rows (task ``gsm8k`` per file: exact_match, exact_match_flexible, num_fewshot) and samples."""
    rows, samples = [], []
    pool = None
    if config.fewshot_file is not None and config.num_fewshot:
        pool = read_evalset(config.fewshot_file, "gsm8k")
        check_references(pool, Path(config.fewshot_file))
        if len(pool) < config.num_fewshot:
            raise ValueError(
                f"gsm8k.fewshot_file: {config.fewshot_file} has {len(pool)} items, num_fewshot is {config.num_fewshot}"
            )
    for path in files:
        records = read_evalset(path, "gsm8k", limit=config.limit)
        check_references(records, path)
        prompts = [
            build_prompt(r["question"], choose_shots(records, i, config, pool), config)
            for i, r in enumerate(records)
        ]
        completions = greedy_generate(
            loaded, prompts, max_new_tokens=config.max_new_tokens, batch_size=config.batch_size, stop=STOP
        )
        strict = flexible = 0
        for record, prompt, completion in zip(records, prompts, completions, strict=True):
            ok = is_exact_match(completion, record["answer"])
            ok_flex = is_exact_match(completion, record["answer"], flexible=True)
            strict += ok
            flexible += ok_flex
            samples.append(
                {
                    "file": str(path),
                    "line": record["_line"],
                    "prompt": prompt,
                    "completion": completion,
                    "gold": extract_answer(record["answer"]),
                    "extracted": extract_answer(completion),
                    "extracted_flexible": extract_answer(completion, flexible=True),
                    "exact_match": ok,
                    "exact_match_flexible": ok_flex,
                }
            )
        task = "gsm8k" if len(files) == 1 else f"gsm8k:{evalset_name(path)}"
        n = len(records)
        shots = len(choose_shots(records, 0, config, pool))
        rows += [
            {"task": task, "metric": "exact_match", "value": strict / n, "n": n},
            {"task": task, "metric": "exact_match_flexible", "value": flexible / n, "n": n},
            {"task": task, "metric": "num_fewshot", "value": float(shots), "n": n},
        ]
    return rows, samples
