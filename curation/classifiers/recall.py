"""Iterative recall (DeepSeekMath style): train on seeds, score a pool, add confident hits, retrain.

Round 0 trains on the seeds alone. Each following round adds, per growing label, the pool
documents the previous model assigns to that label with probability >= ``min_confidence``
(best first, at most ``max_added_per_round``), then retrains. Every round is evaluated on the
same fixed held-out slice of the *seeds* (pool documents never enter it), so rounds compare
like for like. When the pool's true labels are known (benchmarks, tests), each round also
reports the precision of what it added and the recall of the pool so far.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from curation.classifiers.model import load_fasttext, predict_proba
from curation.classifiers.text import normalize_for_fasttext
from curation.classifiers.train import (
    ClassifierReport,
    FastTextConfig,
    _dedup,
    _split,
    train_fasttext_classifier,
)


class RecallRound(BaseModel):
    """One round: the model trained on the current set, and what it added from the pool."""

    model_config = ConfigDict(extra="forbid")

    round: int
    model_path: str
    num_train: dict[str, int] = Field(description="training documents per label this round")
    heldout_macro_f1: float | None
    heldout_metrics: dict
    num_added: dict[str, int] = Field(description="pool documents added per label after this round")
    added_precision: float | None = Field(
        None, description="share of added documents whose true pool label matches (if known)"
    )
    pool_recall: dict[str, float] | None = Field(
        None, description="per label, share of its true pool documents in the set so far (if known)"
    )


class RecallReport(BaseModel):
    """All rounds, and the final model (the last round's)."""

    model_config = ConfigDict(extra="forbid")

    rounds: list[RecallRound]
    final_model_path: str
    report_path: str


def iterative_recall(
    seeds: Mapping[str, Sequence[str]],
    pool: Sequence[str],
    out_dir: str | Path,
    *,
    rounds: int = 3,
    min_confidence: float = 0.9,
    max_added_per_round: int | None = None,
    grow_labels: Sequence[str] | None = None,
    config: FastTextConfig | None = None,
    name: str = "domain",
    pool_labels: Sequence[str] | None = None,
) -> RecallReport:
    """Grow ``seeds`` (label -> texts) from ``pool`` over ``rounds`` expansion rounds.

    ``rounds`` expansions mean ``rounds + 1`` trainings. ``grow_labels`` limits which labels
    grow (default all; DeepSeekMath grows only "math"). ``pool_labels``, if given, are the
    pool's true labels, used only for reporting. Writes ``<name>-recall.json``.
    """
    config = config or FastTextConfig()
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    if not 0 < min_confidence <= 1:
        raise ValueError(f"min_confidence must be in (0, 1], got {min_confidence}")
    labels = list(seeds)
    grow = list(grow_labels) if grow_labels is not None else labels
    unknown = [label for label in grow if label not in labels]
    if unknown:
        raise ValueError(f"grow_labels {unknown} are not seed labels {labels}")
    if pool_labels is not None and len(pool_labels) != len(pool):
        raise ValueError(f"pool_labels has {len(pool_labels)} entries, pool has {len(pool)}")

    # A fixed held-out slice of the seeds, shared by all rounds.
    rows, _ = _dedup(seeds, config.max_tokens)
    train_rows, test_rows = _split(rows, config.holdout_fraction, config.seed)
    eval_examples = {label: [t for lab, t in test_rows if lab == label] for label in labels}
    eval_examples = eval_examples if test_rows else None
    train_sets = {label: [t for lab, t in train_rows if lab == label] for label in labels}
    pool_norm = [normalize_for_fasttext(t, max_tokens=config.max_tokens) for t in pool]
    added = np.zeros(len(pool), dtype=bool)
    added_as: list[str | None] = [None] * len(pool)

    history: list[RecallRound] = []
    out_dir = Path(out_dir)
    for r in range(rounds + 1):
        report: ClassifierReport = train_fasttext_classifier(
            train_sets, out_dir, name=f"{name}-r{r}", config=config, eval_examples=eval_examples
        )
        num_added = {label: 0 for label in labels}
        added_precision = None
        if r < rounds:
            probs = predict_proba(load_fasttext(report.model_path), pool_norm, labels)
            best = probs.argmax(axis=1)
            newly: list[int] = []
            for label in grow:
                col = labels.index(label)
                hits = np.flatnonzero((best == col) & (probs[:, col] >= min_confidence) & ~added)
                hits = hits[np.argsort(-probs[hits, col], kind="stable")][:max_added_per_round]
                for i in hits:
                    train_sets[label].append(pool[i])
                    added[i] = True
                    added_as[i] = label
                num_added[label] = len(hits)
                newly.extend(int(i) for i in hits)
            if pool_labels is not None and newly:
                added_precision = float(np.mean([pool_labels[i] == added_as[i] for i in newly]))
        pool_recall = None
        if pool_labels is not None:
            pool_recall = {}
            for label in grow:
                truth = [i for i, lab in enumerate(pool_labels) if lab == label]
                if truth:
                    pool_recall[label] = float(np.mean([added_as[i] == label for i in truth]))
        history.append(
            RecallRound(
                round=r,
                model_path=report.model_path,
                num_train=report.num_train,
                heldout_macro_f1=report.metrics.get("macro_f1"),
                heldout_metrics=report.metrics,
                num_added=num_added,
                added_precision=added_precision,
                pool_recall=pool_recall,
            )
        )
    report_path = out_dir / f"{name}-recall.json"
    result = RecallReport(
        rounds=history, final_model_path=history[-1].model_path, report_path=str(report_path)
    )
    report_path.write_text(json.dumps(result.model_dump(), indent=2) + "\n")
    return result
