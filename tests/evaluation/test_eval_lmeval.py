"""lm-evaluation-harness adapter. lm-eval is an OPTIONAL extra and is not installed by default:
the end-to-end test below is SKIPPED when `lm_eval` cannot be imported (install `midtrain[lmeval]`
to run it). The task-file and result-conversion tests run always."""

from __future__ import annotations

import pytest
import yaml
from conftest import write_jsonl

from evaluation import EvalConfig
from evaluation.lmeval import results_to_rows, write_task_files


def _config(tmp_path) -> EvalConfig:
    gsm = write_jsonl(tmp_path / "gsm.jsonl", [{"question": "What is 2 + 2?", "answer": "2 + 2 = 4\n#### 4"}])
    mc = write_jsonl(tmp_path / "mc.jsonl", [{"question": "Sky?", "choices": ["blue", "green"], "answer": 0}])
    he = write_jsonl(
        tmp_path / "he.jsonl",
        [
            {
                "prompt": "def add(a, b):\n",
                "entry_point": "add",
                "test": "def check(f):\n    assert f(1, 2) == 3\n",
            }
        ],
    )
    return EvalConfig(
        gsm8k={"files": [gsm], "max_new_tokens": 8},
        mc={"files": [mc]},
        humaneval={"files": [he], "max_new_tokens": 8},
        device="cpu",
    )


def test_task_files_point_at_local_data(tmp_path):
    names = write_task_files(_config(tmp_path), tmp_path / "tasks")
    assert names == ["midtrain_gsm8k_gsm", "midtrain_mc_mc", "midtrain_humaneval_he"]
    mc = yaml.safe_load((tmp_path / "tasks" / "midtrain_mc_mc.yaml").read_text())
    assert mc["output_type"] == "multiple_choice" and mc["dataset_path"] == "json"
    assert mc["dataset_kwargs"]["data_files"]["test"] == str((tmp_path / "mc.jsonl").resolve())
    humaneval = (tmp_path / "tasks" / "midtrain_humaneval_he.yaml").read_text()
    assert "process_results: !function midtrain_humaneval_utils.process_results" in humaneval
    assert (tmp_path / "tasks" / "midtrain_humaneval_utils.py").is_file()


def test_humaneval_hook_uses_the_sandbox(tmp_path, monkeypatch):
    write_task_files(_config(tmp_path), tmp_path / "tasks")
    monkeypatch.syspath_prepend(str(tmp_path / "tasks"))
    import midtrain_humaneval_utils as utils

    doc = {
        "prompt": "def add(a, b):\n",
        "entry_point": "add",
        "test": "def check(f):\n    assert f(1, 2) == 3\n",
    }
    assert utils.process_results(doc, ["    return a + b\ndef junk(): pass"]) == {"pass@1": 1.0}
    assert utils.process_results(doc, ["    return a - b\n"]) == {"pass@1": 0.0}


def test_results_to_rows():
    rows = results_to_rows(
        {
            "midtrain_mc_mc": {"alias": "mc", "acc,none": 0.5, "acc_stderr,none": 0.1, "acc_norm,none": 1.0},
            "midtrain_gsm8k_gsm": {"exact_match,strict-match": 0.25, "sample_len": 4, "samples": 4},
        },
        {"midtrain_mc_mc": {"original": 4, "effective": 4}},
    )
    assert {"task": "lmeval:midtrain_mc_mc", "metric": "acc", "value": 0.5, "n": 4} in rows
    assert {
        "task": "lmeval:midtrain_gsm8k_gsm",
        "metric": "exact_match[strict-match]",
        "value": 0.25,
        "n": None,
    } in rows
    assert len(rows) == 3


def test_lm_eval_end_to_end(tmp_path, loaded_base, capfd, monkeypatch):
    pytest.importorskip(
        "lm_eval",
        reason="lm-eval (optional extra midtrain[lmeval]) is not installed: "
        "the lm-eval adapter end-to-end test is skipped",
    )
    from evaluation.lmeval import run_lm_eval

    monkeypatch.chdir(tmp_path)  # outside any git checkout, where lm-eval's `git describe` says "fatal"
    rows = run_lm_eval(loaded_base, _config(tmp_path))
    tasks = {r["task"] for r in rows}
    assert {"lmeval:midtrain_gsm8k_gsm", "lmeval:midtrain_mc_mc", "lmeval:midtrain_humaneval_he"} <= tasks
    assert all(0.0 <= r["value"] <= 1.0 for r in rows)
    assert not {r["metric"] for r in rows} & {"sample_len", "samples", "alias"}  # metrics only
    assert "fatal: not a git repository" not in capfd.readouterr().err  # lm-eval's git call is skipped
