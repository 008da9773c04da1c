"""Train a fastText classifier, score it on a held-out split, save it under a content-hashed name.

The model file is ``<out_dir>/<name>-<sha256[:12]>.bin`` where the hash is of the model bytes, so
a retrained model always gets a new path and no path-keyed cache (datatrove's asset cache, our
own loader, a worker that already loaded the old file) can serve the old one. Next to it:
``<name>-<hash>.json`` (the :class:`ClassifierReport`: metrics, config, data hash) and
``<name>-latest.json`` (a copy pointing at the newest model).

fastText is deterministic only with ``threads=1`` (Hogwild updates race otherwise); the default
is 1, and with more threads the same data can give a different model and hash. Training runs in
a short-lived subprocess to work around a fastText initialisation bug (``_fasttext_worker.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from curation.classifiers.metrics import classification_metrics
from curation.classifiers.model import LABEL_PREFIX, load_fasttext, model_labels, predict_proba
from curation.classifiers.text import NORMALIZATION_VERSION, normalize_for_fasttext


class FastTextConfig(BaseModel):
    """fastText supervised training settings (names follow fastText's own flags)."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(25, ge=1, description="passes over the training data")
    lr: float = Field(
        0.5, gt=0, description="learning rate; 0.1 (fastText default) underfits small seed sets"
    )
    word_ngrams: int = Field(2, ge=1, le=5, description="word n-gram length (2 = bigrams, as DCLM)")
    dim: int = Field(32, ge=2, description="embedding size")
    bucket: int = Field(
        100_000, ge=1_000, description="hash buckets for n-grams; model bytes ~ 4 * dim * bucket"
    )
    min_count: int = Field(1, ge=1, description="drop words seen fewer times")
    threads: int = Field(1, ge=1, description="training threads; >1 makes training non-deterministic")
    seed: int = Field(0, description="fastText and split seed")
    holdout_fraction: float = Field(
        0.2, ge=0.0, lt=1.0, description="share of examples held out for metrics (stratified)"
    )
    max_tokens: int = Field(1024, ge=8, description="tokens per document kept after normalisation")
    balance: bool = Field(False, description="upsample smaller classes (by repetition) in the training file")


class ClassifierReport(BaseModel):
    """What a training run produced; saved as JSON next to the model."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model_path: str = Field(description="versioned model file (<name>-<hash>.bin)")
    metrics_path: str = Field(description="this report as JSON")
    labels: list[str]
    positive_label: str | None = Field(description="label whose probability is the score (binary)")
    num_train: dict[str, int] = Field(description="training documents per label")
    num_test: dict[str, int] = Field(description="held-out documents per label")
    num_duplicates_dropped: int = Field(description="exact duplicates (after normalisation) removed")
    metrics: dict = Field(description="held-out metrics (empty when nothing was held out)")
    data_sha256: str = Field(description="hash of the normalised labelled training data")
    normalization: str = NORMALIZATION_VERSION
    config: FastTextConfig
    warnings: list[str] = Field(default_factory=list, description="data problems found (class imbalance)")


# A label with fewer training examples than this, or under this share of the largest label,
# is under-predicted by fastText's softmax (it rarely wins the argmax).
FEW_SEEDS = 20
IMBALANCE_RATIO = 0.2


def imbalance_warnings(num_train: Mapping[str, int], *, balance: bool) -> list[str]:
    """One message per label with few seeds, or (without ``balance``) far fewer than the largest label."""
    biggest_label = max(num_train, key=num_train.__getitem__)
    biggest = num_train[biggest_label]
    messages = []
    for label, count in num_train.items():
        if count < FEW_SEEDS:
            messages.append(
                f"label {label!r} has only {count} training examples (fewer than {FEW_SEEDS}): its "
                "precision/recall are unreliable; add seed documents for it"
            )
        elif not balance and count < IMBALANCE_RATIO * biggest:
            messages.append(
                f"label {label!r} has {count} training examples against {biggest} for {biggest_label!r} "
                f"(ratio {count / biggest:.2f} < {IMBALANCE_RATIO}): the classifier will under-predict it; "
                "add seeds or set balance=True (upsamples smaller classes)"
            )
    return messages


def _dedup(examples: Mapping[str, Sequence[str]], max_tokens: int) -> tuple[list[tuple[str, str]], int]:
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    dropped = 0
    for label, texts in examples.items():
        for text in texts:
            norm = normalize_for_fasttext(text, max_tokens=max_tokens)
            if not norm or norm in seen:
                dropped += 1
                continue
            seen.add(norm)
            rows.append((label, norm))
    return rows, dropped


def _split(rows: list[tuple[str, str]], fraction: float, seed: int):
    if fraction == 0:
        return rows, []
    from sklearn.model_selection import train_test_split

    labels = [label for label, _ in rows]
    counts = {label: labels.count(label) for label in set(labels)}
    stratify = labels if min(counts.values()) >= 2 else None
    train, test = train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
    return train, test


def _write_train_file(path: Path, rows: list[tuple[str, str]], balance: bool, seed: int) -> None:
    rows = list(rows)
    if balance:
        by_label: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            by_label.setdefault(row[0], []).append(row)
        biggest = max(len(v) for v in by_label.values())
        rows = []
        for group in by_label.values():
            rows.extend(group * (biggest // len(group)) + group[: biggest % len(group)])
    # fastText reads the file in order; shuffle so one label's block does not end the last epoch.
    random.Random(seed).shuffle(rows)
    with path.open("w", encoding="utf-8") as handle:
        for label, text in rows:
            handle.write(f"{LABEL_PREFIX}{label} {text}\n")


def _counts(rows: list[tuple[str, str]], labels: Sequence[str]) -> dict[str, int]:
    return {label: sum(1 for r in rows if r[0] == label) for label in labels}


def _train_in_subprocess(train_file: Path, model_out: Path, config: FastTextConfig) -> None:
    """Run fastText in a fresh process with zero-filled allocations (see ``_fasttext_worker.py``)."""
    params = {
        "epoch": config.epochs,
        "lr": config.lr,
        "wordNgrams": config.word_ngrams,
        "dim": config.dim,
        "bucket": config.bucket,
        "minCount": config.min_count,
        "thread": config.threads,
        "seed": config.seed,
        "loss": "softmax",
        "verbose": 0,
    }
    spec = train_file.with_suffix(".spec.json")
    spec.write_text(json.dumps({"input": str(train_file), "output": str(model_out), "params": params}))
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"}
    env["MALLOC_MMAP_THRESHOLD_"] = "4096"
    worker = Path(__file__).with_name("_fasttext_worker.py")
    proc = subprocess.run([sys.executable, str(worker), str(spec)], env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not model_out.is_file():
        detail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        hint = " (training diverged: lower lr)" if "NaN" in proc.stderr else ""
        raise RuntimeError(f"fastText training failed{hint}: {detail[0]}")


def train_fasttext_classifier(
    examples: Mapping[str, Sequence[str]],
    out_dir: str | Path,
    *,
    name: str = "classifier",
    config: FastTextConfig | None = None,
    positive_label: str | None = None,
    eval_examples: Mapping[str, Sequence[str]] | None = None,
) -> ClassifierReport:
    """Train on ``examples`` (label -> raw texts), evaluate, save a versioned model + metrics JSON.

    With two labels, ``positive_label`` (default: ``"positive"`` if present) names the class whose
    probability is the score; precision/recall/F1 are reported for it at 0.5, ROC-AUC and PR-AUC
    over its probability. With more labels, macro averages and per-label figures are reported.
    ``eval_examples`` replaces the random hold-out with a fixed evaluation set. A label with few
    training examples, or far fewer than the largest one (without ``config.balance``), warns and
    is listed in the report's ``warnings`` (:func:`imbalance_warnings`).
    """
    config = config or FastTextConfig()
    labels = list(examples)
    if len(labels) < 2:
        raise ValueError(f"need examples for at least 2 labels, got {labels}")
    bad = [label for label in labels if not label or any(c.isspace() for c in label)]
    if bad:
        raise ValueError(f"label names must be non-empty without spaces, got {bad}")
    empty = [label for label in labels if not examples[label]]
    if empty:
        raise ValueError(f"no examples for label(s) {empty}")
    if positive_label is None and len(labels) == 2 and "positive" in labels:
        positive_label = "positive"
    if positive_label is not None and positive_label not in labels:
        raise ValueError(f"positive_label {positive_label!r} is not one of the labels {labels}")

    rows, num_dup = _dedup(examples, config.max_tokens)
    if eval_examples is not None:
        train_rows = rows
        test_rows, _ = _dedup(eval_examples, config.max_tokens)
        train_texts = {t for _, t in train_rows}
        test_rows = [r for r in test_rows if r[1] not in train_texts]  # no leakage
    else:
        train_rows, test_rows = _split(rows, config.holdout_fraction, config.seed)
    missing = [label for label in labels if not any(r[0] == label for r in train_rows)]
    if missing:
        raise ValueError(f"no training examples left for label(s) {missing} after de-duplication")

    problems = imbalance_warnings(_counts(train_rows, labels), balance=config.balance)
    for message in problems:
        warnings.warn(f"{name}: {message}", UserWarning, stacklevel=2)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for label, text in sorted(train_rows):
        digest.update(f"{label}\t{text}\n".encode())
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".train-") as tmp:
        train_file = Path(tmp) / "train.txt"
        _write_train_file(train_file, train_rows, config.balance, config.seed)
        tmp_model = Path(tmp) / "model.bin"
        _train_in_subprocess(train_file, tmp_model, config)
        model_hash = hashlib.sha256(tmp_model.read_bytes()).hexdigest()[:12]
        model_path = out_dir / f"{name}-{model_hash}.bin"
        tmp_model.replace(model_path)

    model = load_fasttext(model_path)
    assert set(model_labels(model)) == set(labels), (model_labels(model), labels)
    metrics: dict = {}
    if test_rows:
        probs = predict_proba(model, [t for _, t in test_rows], labels)
        y_true = np.array([labels.index(label) for label, _ in test_rows])
        metrics = classification_metrics(y_true, probs, labels, positive_label=positive_label)

    report = ClassifierReport(
        name=name,
        model_path=str(model_path),
        metrics_path=str(out_dir / f"{name}-{model_hash}.json"),
        labels=labels,
        positive_label=positive_label,
        num_train=_counts(train_rows, labels),
        num_test=_counts(test_rows, labels),
        num_duplicates_dropped=num_dup,
        metrics=metrics,
        data_sha256=digest.hexdigest(),
        config=config,
        warnings=problems,
    )
    payload = json.dumps(report.model_dump(), indent=2)
    Path(report.metrics_path).write_text(payload + "\n")
    (out_dir / f"{name}-latest.json").write_text(payload + "\n")
    return report


def load_report(path: str | Path) -> ClassifierReport:
    """Read a report JSON (``<name>-<hash>.json`` or ``<name>-latest.json``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no classifier report here")
    return ClassifierReport.model_validate_json(path.read_text())


def labels_of(model_path: str | Path) -> list[str]:
    """Label names of a saved model."""
    return model_labels(load_fasttext(model_path))
