"""Held-out classification metrics (scikit-learn) for binary and multi-class fastText models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _safe(fn, *args, **kwargs) -> float | None:
    # AUCs are undefined when the held-out set lacks a class; report None rather than crash.
    try:
        value = float(fn(*args, **kwargs))
    except ValueError:
        return None
    return None if np.isnan(value) else value


def classification_metrics(
    y_true: np.ndarray,
    probs: np.ndarray,
    labels: Sequence[str],
    *,
    positive_label: str | None = None,
) -> dict:
    """Accuracy, macro-F1, per-label P/R/F1, ROC-AUC and PR-AUC.

    ``y_true`` holds column indices into ``labels``; ``probs`` is ``[n, len(labels)]``. With a
    ``positive_label``, the top-level ``precision``/``recall``/``f1`` are for that class at
    probability 0.5 and the AUCs use its probability; otherwise they are macro averages.
    """
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    indices = list(range(len(labels)))
    y_pred = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=indices, zero_division=0
    )
    out: dict = {
        "num_examples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(np.mean(f1)),
        "per_label": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
    }
    if positive_label is not None:
        pos = list(labels).index(positive_label)
        y_bin = (y_true == pos).astype(int)
        score = probs[:, pos]
        p, r, f, _ = precision_recall_fscore_support(
            y_bin, (score >= 0.5).astype(int), average="binary", zero_division=0
        )
        out.update(
            precision=float(p),
            recall=float(r),
            f1=float(f),
            roc_auc=_safe(roc_auc_score, y_bin, score),
            pr_auc=_safe(average_precision_score, y_bin, score),
        )
    else:
        onehot = np.eye(len(labels))[y_true]
        present = onehot.sum(axis=0) > 0
        out.update(
            precision=float(np.mean(precision)),
            recall=float(np.mean(recall)),
            f1=float(np.mean(f1)),
            roc_auc=_safe(roc_auc_score, onehot[:, present], probs[:, present], average="macro"),
            pr_auc=_safe(average_precision_score, onehot[:, present], probs[:, present], average="macro"),
        )
    return out
