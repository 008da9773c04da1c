"""``midtrain curate train-classifier``: train a quality (positives vs negatives) or domain classifier.

A plain function with typer annotations; ``curation/cli.py`` registers it. Quality mode:
``--positives``/``--negatives`` (labels ``positive``/``negative``). Domain mode: ``--seeds
LABEL=PATH`` (repeatable) and/or ``--labelled FILE`` (jsonl with a label key), optionally
``--iterative-pool`` to grow the seeds from a pool over ``--rounds`` rounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curation.classifiers.text import read_texts

_FIGURES = ("accuracy", "macro_f1", "precision", "recall", "f1", "roc_auc", "pr_auc")


def _parse_seed(spec: str) -> tuple[str, Path]:
    label, sep, path = spec.partition("=")
    if not sep or not label or not path:
        raise ValueError(f"--seeds {spec!r}: expected LABEL=PATH, e.g. --seeds math=gsm8k.jsonl")
    return label.strip(), Path(path)


def _read_labelled(path: Path, text_key: str, label_key: str) -> dict[str, list[str]]:
    import gzip
    import json

    out: dict[str, list[str]] = {}
    opener = gzip.open if path.suffix == ".gz" else open
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such labelled-seed file")
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            for key in (text_key, label_key):
                if key not in row:
                    raise ValueError(f"{path}:{line_no}: missing key {key!r}; keys: {sorted(row)}")
            out.setdefault(str(row[label_key]), []).append(str(row[text_key]))
    return out


def _collect_examples(
    positives, negatives, seeds, labelled, labels, text_key, label_key, max_per_label
) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    if positives or negatives:
        if not (positives and negatives):
            raise ValueError("quality mode needs both --positives and --negatives")
        if seeds or labelled:
            raise ValueError("use either --positives/--negatives or --seeds/--labelled, not both")
        examples["positive"] = read_texts(positives, text_key=text_key, limit=max_per_label)
        examples["negative"] = read_texts(negatives, text_key=text_key, limit=max_per_label)
    for spec in seeds or []:
        label, path = _parse_seed(spec)
        examples.setdefault(label, []).extend(read_texts(path, text_key=text_key, limit=max_per_label))
    for path in labelled or []:
        for label, texts in _read_labelled(path, text_key, label_key).items():
            examples.setdefault(label, []).extend(texts)
    if not examples:
        raise ValueError("no training data: give --positives and --negatives, or --seeds LABEL=PATH")
    if labels:
        wanted = [label.strip() for label in labels.split(",") if label.strip()]
        missing = [label for label in wanted if label not in examples]
        if missing:
            raise ValueError(f"--labels {wanted}: no examples for {missing}; found {sorted(examples)}")
        examples = {label: examples[label] for label in wanted}
    if max_per_label:
        examples = {label: texts[:max_per_label] for label, texts in examples.items()}
    return examples


def train_classifier_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the model and metrics JSON")],
    positives: Annotated[
        list[Path] | None, typer.Option("--positives", help="high-quality examples (jsonl[.gz]/txt/folder)")
    ] = None,
    negatives: Annotated[
        list[Path] | None, typer.Option("--negatives", help="low-quality examples (jsonl[.gz]/txt/folder)")
    ] = None,
    seeds: Annotated[
        list[str] | None, typer.Option("--seeds", help="LABEL=PATH labelled seeds (repeatable)")
    ] = None,
    labelled: Annotated[
        list[Path] | None, typer.Option("--labelled", help="jsonl with text and label keys")
    ] = None,
    labels: Annotated[str | None, typer.Option(help="comma-separated labels to keep, in order")] = None,
    text_key: Annotated[
        str, typer.Option(help="jsonl text field; join fields with '+', alternatives with ','")
    ] = "text",
    label_key: Annotated[str, typer.Option(help="jsonl label field for --labelled")] = "label",
    name: Annotated[str | None, typer.Option(help="model name (default: quality or domain)")] = None,
    epochs: Annotated[int, typer.Option(help="fastText epochs")] = 25,
    ngrams: Annotated[int, typer.Option(help="fastText word n-grams")] = 2,
    dim: Annotated[int, typer.Option(help="embedding size")] = 32,
    lr: Annotated[float, typer.Option(help="learning rate")] = 0.5,
    holdout: Annotated[float, typer.Option(help="held-out share for metrics")] = 0.2,
    threads: Annotated[int, typer.Option(help="threads (>1 is non-deterministic)")] = 1,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    balance: Annotated[bool, typer.Option(help="upsample smaller classes")] = False,
    max_per_label: Annotated[int | None, typer.Option(help="cap examples per label")] = None,
    iterative_pool: Annotated[
        list[Path] | None, typer.Option("--iterative-pool", help="unlabelled pool to recall from")
    ] = None,
    rounds: Annotated[int, typer.Option(help="iterative-recall expansion rounds")] = 3,
    recall_confidence: Annotated[float, typer.Option(help="min probability to add a pool doc")] = 0.9,
    grow: Annotated[
        list[str] | None, typer.Option("--grow", help="labels that grow from the pool (default all)")
    ] = None,
) -> None:
    """Train a fastText classifier, report held-out precision/recall/F1/ROC-AUC/PR-AUC, save it versioned."""
    from rich.console import Console
    from rich.table import Table

    from curation.classifiers.recall import iterative_recall
    from curation.classifiers.train import FastTextConfig, train_fasttext_classifier

    examples = _collect_examples(
        positives, negatives, seeds, labelled, labels, text_key, label_key, max_per_label
    )
    config = FastTextConfig(
        epochs=epochs, word_ngrams=ngrams, dim=dim, lr=lr, holdout_fraction=holdout,
        threads=threads, seed=seed, balance=balance,
    )  # fmt: skip
    name = name or ("quality" if "positive" in examples else "domain")
    console = Console()
    console.print(f"training {name!r} on " + ", ".join(f"{k}: {len(v)}" for k, v in examples.items()))
    if iterative_pool:
        pool = read_texts(iterative_pool, text_key=text_key)
        result = iterative_recall(
            examples, pool, out, rounds=rounds, min_confidence=recall_confidence,
            grow_labels=grow, config=config, name=name,
        )  # fmt: skip
        table = Table(title=f"iterative recall over {len(pool)} pool documents")
        for col in ("round", "train docs", "added", "held-out macro-F1"):
            table.add_column(col)
        for r in result.rounds:
            f1 = "-" if r.heldout_macro_f1 is None else f"{r.heldout_macro_f1:.3f}"
            table.add_row(str(r.round), str(sum(r.num_train.values())), str(sum(r.num_added.values())), f1)
        console.print(table)
        files = [r.model_path for r in result.rounds] + [result.report_path]
    else:
        report = train_fasttext_classifier(examples, out, name=name, config=config)
        table = Table(title=f"{name}: held-out metrics ({sum(report.num_test.values())} docs)")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key in _FIGURES:
            value = report.metrics.get(key)
            table.add_row(key, "-" if value is None else f"{value:.4f}")
        console.print(table)
        for message in report.warnings:
            typer.echo(f"warning: {message}", err=True)
        files = [report.model_path, report.metrics_path, str(Path(out) / f"{name}-latest.json")]
    # Plain echo: rich would wrap long paths, and users copy these.
    typer.echo("files written:")
    for path in files:
        typer.echo(f"  {path}")
