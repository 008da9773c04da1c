"""Training fastText classifiers: metrics on a separable toy task, versioned files, reading inputs."""

from __future__ import annotations

import gzip
import json
import random

import pytest
import typer
from typer.testing import CliRunner

from curation.classifiers import (
    FastTextConfig,
    iterative_recall,
    load_report,
    normalize_for_fasttext,
    read_texts,
    train_fasttext_classifier,
)
from curation.classifiers.cli import train_classifier_command

# Tiny models: training takes ~0.1 s each.
FAST = FastTextConfig(dim=16, bucket=5_000, epochs=10, lr=0.5)

GOOD = [
    "theorem",
    "proof",
    "lemma",
    "integral",
    "derivative",
    "equation",
    "solve",
    "compute",
    "value",
    "hence",
]
BAD = ["click", "buy", "cheap", "free", "offer", "casino", "win", "now", "deal", "subscribe"]
SHARED = ["the", "a", "of", "and", "to", "in", "is", "it"]


def make_docs(words, n, seed, *, noise=0.0):
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        tokens = [rng.choice(words) if rng.random() > noise else rng.choice(SHARED) for _ in range(25)]
        docs.append(" ".join(tokens))
    return docs


def test_learns_separable_task_and_reports_metrics(tmp_path):
    examples = {"positive": make_docs(GOOD, 150, 0, noise=0.4), "negative": make_docs(BAD, 150, 1, noise=0.4)}
    report = train_fasttext_classifier(examples, tmp_path, name="quality", config=FAST)
    m = report.metrics
    assert m["f1"] >= 0.95 and m["roc_auc"] >= 0.98 and m["pr_auc"] >= 0.98
    assert m["precision"] >= 0.9 and m["recall"] >= 0.9
    assert report.positive_label == "positive"
    # 20% stratified hold-out, never trained on.
    assert report.num_test == {"positive": 30, "negative": 30}
    assert report.num_train == {"positive": 120, "negative": 120}
    saved = load_report(report.metrics_path)
    assert saved.model_path == report.model_path
    assert load_report(tmp_path / "quality-latest.json").model_path == report.model_path


def test_model_file_name_is_versioned_by_content(tmp_path):
    pos, neg = make_docs(GOOD, 60, 0), make_docs(BAD, 60, 1)
    first = train_fasttext_classifier({"positive": pos, "negative": neg}, tmp_path, name="q", config=FAST)
    again = train_fasttext_classifier({"positive": pos, "negative": neg}, tmp_path, name="q", config=FAST)
    # threads=1 + fixed seed: same data, same model, same name.
    assert again.model_path == first.model_path
    changed = train_fasttext_classifier(
        {"positive": pos + make_docs(GOOD, 20, 5), "negative": neg}, tmp_path, name="q", config=FAST
    )
    assert changed.model_path != first.model_path
    assert changed.data_sha256 != first.data_sha256
    # The old model is still there, the new one has its own file: nothing is shadowed.
    assert all(p.exists() for p in (tmp_path / first.model_path, tmp_path / changed.model_path))
    assert load_report(tmp_path / "q-latest.json").model_path == changed.model_path


def test_multiclass_metrics_and_bad_inputs(tmp_path):
    examples = {
        "math": make_docs(GOOD, 60, 0),
        "spam": make_docs(BAD, 60, 1),
        "general": make_docs(SHARED, 60, 2),
    }
    report = train_fasttext_classifier(examples, tmp_path, name="domain", config=FAST)
    assert report.positive_label is None
    assert report.metrics["macro_f1"] >= 0.9
    assert set(report.metrics["per_label"]) == {"math", "spam", "general"}
    with pytest.raises(ValueError, match="at least 2 labels"):
        train_fasttext_classifier({"math": ["x"]}, tmp_path, config=FAST)
    with pytest.raises(ValueError, match="no examples for label"):
        train_fasttext_classifier({"math": ["x y"], "code": []}, tmp_path, config=FAST)
    with pytest.raises(ValueError, match="positive_label"):
        train_fasttext_classifier(examples, tmp_path, config=FAST, positive_label="nope")


def test_iterative_recall_grows_the_seed_set(tmp_path):
    seeds = {"math": make_docs(GOOD, 30, 0, noise=0.3), "general": make_docs(SHARED + BAD, 30, 1)}
    pool_math = make_docs(GOOD, 80, 7, noise=0.5)
    pool_general = make_docs(SHARED + BAD, 80, 8)
    pool = pool_math + pool_general
    truth = ["math"] * len(pool_math) + ["general"] * len(pool_general)
    result = iterative_recall(
        seeds, pool, tmp_path, rounds=2, min_confidence=0.8, max_added_per_round=40,
        grow_labels=["math"], config=FAST, pool_labels=truth,
    )  # fmt: skip
    rounds = result.rounds
    assert [r.round for r in rounds] == [0, 1, 2]
    sizes = [r.num_train["math"] for r in rounds]
    assert sizes[0] < sizes[1] < sizes[2]
    assert all(r.num_train["general"] == rounds[0].num_train["general"] for r in rounds)
    assert rounds[0].num_added["math"] > 0 and rounds[-1].num_added["math"] == 0
    assert rounds[0].added_precision is not None and rounds[0].added_precision >= 0.9
    assert rounds[1].pool_recall["math"] > rounds[0].pool_recall["math"]
    assert result.final_model_path == rounds[-1].model_path
    assert json.loads((tmp_path / "domain-recall.json").read_text())["rounds"][2]["round"] == 2


def test_read_texts_formats_and_errors(tmp_path):
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"question": "q1", "answer": "a1"}) + "\n")
        handle.write(json.dumps({"prompt": "def f():", "canonical_solution": "  return 1"}) + "\n")
    (tmp_path / "b.txt").write_text("para one\nline two\n\n \npara two\n")
    texts = read_texts(
        [tmp_path / "a.jsonl.gz", tmp_path / "b.txt"], text_key="question+answer,prompt+canonical_solution"
    )
    assert texts == ["q1\na1", "def f():\n  return 1", "para one\nline two", "para two"]
    assert len(read_texts(tmp_path, text_key="question+answer,prompt+canonical_solution")) == 4
    with pytest.raises(ValueError, match=r"a\.jsonl\.gz:2: no text key 'question\+answer'"):
        read_texts(tmp_path / "a.jsonl.gz", text_key="question+answer")
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_texts(tmp_path / "missing.jsonl")


def test_normalization_splits_punctuation_and_keeps_line_breaks():
    assert normalize_for_fasttext("Def F(x):\n  return x+1") == "def f ( x ) : __nl__ return x + 1"
    assert normalize_for_fasttext("a b c d e f g h i j", max_tokens=8).split() == list("abcdefgh")


def test_cli_trains_quality_classifier_from_files(tmp_path):
    for name, words, seed in (("pos", GOOD, 0), ("neg", BAD, 1)):
        with (tmp_path / f"{name}.jsonl").open("w") as handle:
            for text in make_docs(words, 50, seed):
                handle.write(json.dumps({"content": text}) + "\n")
    app = typer.Typer()
    app.command("train-classifier")(train_classifier_command)
    app.command("noop")(lambda: None)  # a second command keeps the subcommand name in argv
    result = CliRunner().invoke(
        app,
        ["train-classifier", "--positives", str(tmp_path / "pos.jsonl"), "--negatives",
         str(tmp_path / "neg.jsonl"), "--text-key", "content", "--out", str(tmp_path / "m"),
         "--epochs", "5", "--dim", "16"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = load_report(tmp_path / "m" / "quality-latest.json")
    assert report.labels == ["positive", "negative"] and report.metrics["roc_auc"] >= 0.95
    assert f"  {report.model_path}\n" in result.output
    bad = CliRunner().invoke(app, ["train-classifier", "--seeds", "nolabel", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "LABEL=PATH" in str(bad.exception)


def test_a_class_with_few_seeds_warns_about_imbalance(tmp_path):
    from curation.classifiers.train import FEW_SEEDS, IMBALANCE_RATIO, imbalance_warnings

    big = make_docs(["river", "castle", "king", "summer", "village", "music"], 200, 1)
    small = make_docs(["integral", "theorem", "lemma", "derivative", "prove", "sum"], 30, 2)
    config = FAST.model_copy(update={"holdout_fraction": 0.0})
    with pytest.warns(UserWarning, match=r"label 'math' has 30 training examples against 200 for 'general'"):
        report = train_fasttext_classifier({"general": big, "math": small}, tmp_path, name="d", config=config)
    assert len(report.warnings) == 1 and "balance=True" in report.warnings[0]
    assert load_report(report.metrics_path).warnings == report.warnings
    # with balance the ratio is handled, but a handful of seeds is still too few
    assert imbalance_warnings({"general": 200, "math": 30}, balance=True) == []
    few = imbalance_warnings({"general": 200, "math": FEW_SEEDS - 1}, balance=True)
    assert len(few) == 1 and "only 19 training examples" in few[0]
    assert imbalance_warnings({"a": 100, "b": int(IMBALANCE_RATIO * 100)}, balance=False) == []
