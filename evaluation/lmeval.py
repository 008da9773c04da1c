"""The same local tasks through lm-evaluation-harness (optional extra: ``pip install 'midtrain[lmeval]'``).

lm-eval is imported inside the functions, so midtrain never needs it. ``write_task_files`` turns the
local GSM8K / multiple-choice / HumanEval jsonl files into lm-eval task YAMLs (``dataset_path: json``
with ``data_files``, nothing downloaded); HumanEval items are checked with midtrain's own sandbox
through a ``process_results`` hook. ``run_lm_eval`` wraps the already loaded model and its tokenizer
in ``HFLM`` and runs ``simple_evaluate``; results come back as eval rows ``lmeval:<task>``.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from evaluation.evalsets import evalset_name

_HUMANEVAL_UTILS = '''"""lm-eval hook written by midtrain: HumanEval pass@1 through midtrain's subprocess sandbox."""
from evaluation.benchmarks.humaneval import STOP, build_program
from evaluation.benchmarks.sandbox import run_program
from evaluation.benchmarks.generate import cut_at_stop

LIMITS = {limits}


def process_results(doc, results):
    completion = cut_at_stop(results[0], STOP)
    return {{"pass@1": float(run_program(build_program(doc, completion), **LIMITS).passed)}}
'''


def _task_name(kind: str, path: Path) -> str:
    safe = "".join(c if c.isalnum() else "_" for c in evalset_name(path))
    return f"midtrain_{kind}_{safe}"


def _dataset(path: Path, fewshot: Path | None = None) -> dict:
    files = {"test": str(Path(path).resolve())}
    if fewshot is not None:
        files["train"] = str(Path(fewshot).resolve())
    return {"dataset_path": "json", "dataset_kwargs": {"data_files": files}, "test_split": "test"}


def write_task_files(config, task_dir: Path) -> list[str]:
    """Write one lm-eval task YAML per local file into ``task_dir``; return the task names."""
    import yaml

    task_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    gsm = config.gsm8k
    for path in gsm.files:
        name = _task_name("gsm8k", Path(path))
        # lm-eval's own gsm8k task, on the local file: same prompt, shots, stops and both filters
        task = {
            "task": name,
            **_dataset(path, gsm.fewshot_file if gsm.num_fewshot else None),
            "output_type": "generate_until",
            "doc_to_text": gsm.prompt_template.replace("{question}", "{{question}}"),
            "doc_to_target": "{{answer}}",
            "target_delimiter": gsm.target_delimiter,
            "fewshot_delimiter": gsm.fewshot_delimiter,
            "num_fewshot": gsm.num_fewshot if gsm.fewshot_file else min(gsm.num_fewshot, _count(path) - 1),
            **(
                {"fewshot_split": "train", "fewshot_config": {"sampler": "first_n"}}
                if gsm.fewshot_file is not None and gsm.num_fewshot
                else {"fewshot_split": "test"}
            ),
            "generation_kwargs": {
                "until": ["Question:", "</s>", "<|im_end|>"],
                "do_sample": False,
                "max_gen_toks": gsm.max_new_tokens,
            },
            "filter_list": [
                {
                    "name": "strict-match",
                    "filter": [
                        {"function": "regex", "regex_pattern": "#### (\\-?[0-9\\.\\,]+)"},
                        {"function": "take_first"},
                    ],
                },
                {
                    "name": "flexible-extract",
                    "filter": [
                        {
                            "function": "regex",
                            "group_select": -1,
                            "regex_pattern": "(-?[$0-9.,]{2,})|(-?[0-9]+)",
                        },
                        {"function": "take_first"},
                    ],
                },
            ],
            "metric_list": [
                {
                    "metric": "exact_match",
                    "aggregation": "mean",
                    "higher_is_better": True,
                    "ignore_case": True,
                    "ignore_punctuation": False,
                    "regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"],
                }
            ],
        }
        names.append(_dump(yaml, task_dir, task))
    for path in config.mc.files:
        name = _task_name("mc", Path(path))
        task = {
            "task": name,
            **_dataset(path),
            "output_type": "multiple_choice",
            "doc_to_text": "Question: {{question}}\nAnswer:",
            "doc_to_choice": "choices",
            "doc_to_target": "answer",
            "target_delimiter": " ",
            "metric_list": [
                {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
            ],
        }
        names.append(_dump(yaml, task_dir, task))
    if config.humaneval.files:
        limits = {
            "timeout_s": config.humaneval.timeout_s,
            "memory_mb": config.humaneval.memory_mb,
            "cpu_s": config.humaneval.cpu_s,
        }
        (task_dir / "midtrain_humaneval_utils.py").write_text(_HUMANEVAL_UTILS.format(limits=repr(limits)))
    for path in config.humaneval.files:
        name = _task_name("humaneval", Path(path))
        task = {
            "task": name,
            **_dataset(path),
            "output_type": "generate_until",
            "doc_to_text": "{{prompt}}",
            "doc_to_target": "{{entry_point}}",
            "target_delimiter": "",
            "generation_kwargs": {
                "until": ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"],
                "do_sample": False,
                "max_gen_toks": config.humaneval.max_new_tokens,
            },
            "process_results": "!function midtrain_humaneval_utils.process_results",
            "metric_list": [{"metric": "pass@1", "aggregation": "mean", "higher_is_better": True}],
        }
        names.append(_dump(yaml, task_dir, task))
    return names


def _count(path: Path) -> int:
    from evaluation.evalsets import read_evalset

    return len(read_evalset(path, "gsm8k"))


def _dump(yaml, task_dir: Path, task: dict) -> str:
    text = yaml.safe_dump(task, sort_keys=False, allow_unicode=True)
    # `!function` is an lm-eval YAML tag, not a string: unquote it after safe_dump quoted it
    text = text.replace(
        "'!function midtrain_humaneval_utils.process_results'",
        "!function midtrain_humaneval_utils.process_results",
    )
    (task_dir / f"{task['task']}.yaml").write_text(text)
    return task["task"]


def _limit(config, name: str) -> int | None:
    if name.startswith("midtrain_gsm8k_"):
        return config.gsm8k.limit
    if name.startswith("midtrain_mc_"):
        return config.mc.limit
    return config.humaneval.limit


def run_lm_eval(loaded, config) -> list[dict]:
    """Eval rows ``lmeval:<task>`` from lm-eval's ``simple_evaluate`` on the loaded model."""
    try:
        from lm_eval import simple_evaluate
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
    except ImportError as error:
        raise ValueError(
            "lm_eval.enabled: lm-evaluation-harness is not installed; "
            "`pip install 'midtrain[lmeval]'` or set lm_eval.enabled: false"
        ) from error
    lm = HFLM(
        pretrained=loaded.model,
        tokenizer=loaded.tokenizer,
        batch_size=config.lm_eval.batch_size,
        max_length=loaded.max_positions,
        device=str(loaded.device),
    )
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="midtrain-lmeval-") as task_dir:
        names = write_task_files(config, Path(task_dir))
        manager = TaskManager(include_path=task_dir)
        for name in names:  # one call per task: each has its own item limit
            with _quiet():
                out = simple_evaluate(
                    model=lm,
                    tasks=[name],
                    task_manager=manager,
                    limit=_limit(config, name),
                    log_samples=False,
                )
            rows += results_to_rows(out["results"], out.get("n-samples", {}))
    return rows


@contextlib.contextmanager
def _quiet():
    """lm-eval shells out to ``git describe`` (``fatal: not a git repository`` outside a checkout)
    and logs at INFO: skip the git call (the run records its own commit) and keep warnings only."""
    import logging
    from unittest import mock

    logger = logging.getLogger("lm_eval")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with mock.patch("lm_eval.evaluator.get_git_commit_hash", return_value=None):
            yield
    finally:
        logger.setLevel(level)


def results_to_rows(results: dict, n_samples: dict) -> list[dict]:
    """lm-eval's ``{"task": {"acc,none": 0.5, "acc_stderr,none": ...}}`` as eval rows."""
    rows = []
    for task, metrics in results.items():
        n = (n_samples.get(task) or {}).get("effective")
        for key, value in metrics.items():
            # only "metric,filter" keys are metrics (not alias, sample_len, ...)
            if "," not in key or "_stderr" in key or not isinstance(value, int | float):
                continue
            metric, _, filter_name = key.partition(",")
            name = metric if filter_name in ("", "none") else f"{metric}[{filter_name}]"
            rows.append({"task": f"lmeval:{task}", "metric": name, "value": float(value), "n": n})
    return rows


def dump_tasks(config, out_dir: str | Path) -> list[Path]:
    """Write the task YAMLs where a user can run them with ``lm_eval --include_path``."""
    out_dir = Path(out_dir)
    names = write_task_files(config, out_dir)
    (out_dir / "README.json").write_text(json.dumps({"tasks": names}, indent=2))
    return [out_dir / f"{n}.yaml" for n in names]
