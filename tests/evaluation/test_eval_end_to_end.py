"""evaluate() and `midtrain eval` on two tiny checkpoints: every output written, bad items contained."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import write_heldout, write_jsonl

from evaluation import EvalConfig, evaluate
from evaluation.schema import EVAL_COLUMNS, check_eval

pytestmark = pytest.mark.slow


def _config(tmp_path) -> EvalConfig:
    root = write_heldout(tmp_path / "cur")
    question = (
        "Tom has three apples and buys four more apples at the market, how many apples does Tom have now"
    )
    write_jsonl(
        root / "curated" / "math_src" / "0.jsonl.gz", [{"text": question, "metadata": {"domain": "math"}}]
    )
    gsm = write_jsonl(
        tmp_path / "gsm.jsonl",
        [{"question": question, "answer": "#### 7"}, {"question": "What is 2 + 2?", "answer": "#### 4"}],
    )
    he = write_jsonl(
        tmp_path / "he.jsonl",
        [
            {
                "prompt": "def add(a, b):\n",
                "test": "def check(f):\n    assert f(1, 2) == 3\n",
                "entry_point": "add",
            },
            {
                "prompt": "def spin():\n",
                "test": "def check(f):\n    import time\n    time.sleep(60)\n",
                "entry_point": "spin",
            },
        ],
    )
    mc = write_jsonl(tmp_path / "mc.jsonl", [{"question": "Sky?", "choices": ["blue", "green"], "answer": 0}])
    return EvalConfig(
        heldout_dir=root,
        seq_len=64,
        batch_size=4,
        max_tokens_per_domain=300,
        gsm8k={"files": [gsm], "max_new_tokens": 8},
        humaneval={"files": [he], "max_new_tokens": 8, "timeout_s": 2},
        mc={"files": [mc]},
        longcontext={"lengths": [256], "depths": [0.0, 1.0], "num_trials": 1},
        contamination={"curated_dir": root},
        forgetting_threshold=0.0,
        device="cpu",
    )


def expected_scored_tokens(tokenizer, texts: list[str], *, seq_len: int, cap: int) -> int:
    """Scored tokens of a domain capped at ``cap`` packed tokens, derived from first principles.

    Documents (tokens + EOS) are laid end to end and cut into ``seq_len`` windows; the first
    ``cap`` tokens are kept. Every kept token is scored except the first of each window (nothing
    before it in the window) and the first of each document (not predicted across documents).
    """
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts]
    kept = min(cap, sum(lengths))
    starts = {sum(lengths[:i]) for i in range(len(lengths))} & set(range(kept))
    window_starts = set(range(0, kept, seq_len))
    return kept - len(window_starts | starts)


def test_evaluate_writes_parquet_report_and_plots(tmp_path, checkpoints, monkeypatch, tokenizer):
    import evaluation.benchmarks.humaneval as humaneval

    # A random tiny model writes junk code; fix the completions so one passes and one hangs.
    monkeypatch.setattr(humaneval, "greedy_generate", lambda *a, **k: ["    return a + b\n", "    pass\n"])
    out = tmp_path / "out"
    frame = evaluate(checkpoints, _config(tmp_path), out)
    on_disk = check_eval(pl.read_parquet(out / "eval.parquet"))
    assert on_disk.schema == pl.Schema(EVAL_COLUMNS)
    assert on_disk.height == frame.height
    tasks = set(frame["task"])
    assert {
        "loss/math",
        "loss/code",
        "loss/general",
        "loss/all",
        "gsm8k",
        "humaneval",
        "mc:mc",
        "passkey",
        "needle",
        "contamination/gsm",
        "delta/general",
        "gains_vs_retention",
    } <= tasks
    losses = frame.filter((pl.col("metric") == "loss") & (pl.col("task") == "loss/math"))
    # capped at max_tokens_per_domain packed tokens (n counts the scored ones), same for both checkpoints
    from evaluation.heldout import read_heldout

    math_texts = read_heldout(tmp_path / "cur")["math"]
    expected = expected_scored_tokens(tokenizer, math_texts, seq_len=64, cap=300)
    assert losses["n"].to_list() == [expected, expected]
    contamination = frame.filter((pl.col("task") == "contamination/gsm") & (pl.col("metric") == "share"))
    assert contamination["value"].item() == 0.5
    # the hanging test program is a failed item with its reason; the evaluation went on
    report = (out / "report.md").read_text()
    assert "timeout after 2s" in report
    samples = pl.read_ndjson(out / "samples" / "annealed" / "humaneval.jsonl")
    assert samples["reason"].to_list() == ["passed", "timeout after 2s"]
    pass_at_1 = frame.filter((pl.col("task") == "humaneval") & (pl.col("checkpoint") == "base"))["value"]
    assert pass_at_1.to_list() == [0.5]
    for name in (
        "loss_per_domain.png",
        "gains_vs_retention.png",
        "longcontext_passkey.png",
        "longcontext_needle.png",
    ):
        assert (out / name).stat().st_size > 1000 and f"]({name})" in report


def test_cli_eval(tmp_path, checkpoints):
    import typer
    import yaml
    from typer.testing import CliRunner

    from evaluation.cli import register

    data = _config(tmp_path).model_dump(mode="json")
    data.update(gsm8k={"files": []}, humaneval={"files": []}, longcontext={"lengths": []})
    yaml_path = tmp_path / "eval.yaml"
    yaml_path.write_text(yaml.safe_dump(data))
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer in multi-command mode, as in the real app
        pass

    out = tmp_path / "cli_out"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(checkpoints["base"]),
            str(checkpoints["annealed"]),
            "--config",
            str(yaml_path),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "loss/general" in result.output and "report.md" in result.output
    frame = pl.read_parquet(out / "eval.parquet")
    assert set(frame["checkpoint"]) >= {"base", "annealed"}
