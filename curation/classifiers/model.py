"""Loading fastText models (once per process) and turning predictions into probability tables.

We load models with ``fasttext`` directly instead of going through datatrove's
``cached_asset_path_or_download``: that helper copies even a local file into a cache keyed by the
path *string*, so a model retrained at the same path would silently keep being served stale.
Our cache key includes the file's size and mtime, and trained models carry a content hash in
their file name anyway (see ``train.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LABEL_PREFIX = "__label__"

_CACHE: dict[tuple[str, int, int], object] = {}
_LOCK = threading.Lock()


def load_fasttext(model_path: str | Path):
    """The fastText model at ``model_path``, loaded once per process and file version."""
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no fastText model here; train one with `midtrain curate train-classifier`"
        )
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            # _FastText(...) rather than fasttext.load_model: same object, without the stderr warning.
            from fasttext.FastText import _FastText

            model = _FastText(model_path=str(path))
            _CACHE[key] = model
    return model


def model_labels(model) -> list[str]:
    """Label names of a supervised model, without the ``__label__`` prefix, in the model's order."""
    return [label.removeprefix(LABEL_PREFIX) for label in model.get_labels()]


def predict_proba(model, texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Probabilities, shape ``[len(texts), len(labels)]``, columns in the order of ``labels``.

    ``texts`` must already be normalised (single line). fastText's softmax can overshoot 1 by a
    few ulps, hence the clip.
    """
    out = np.zeros((len(texts), len(labels)), dtype=np.float64)
    if not texts:
        return out
    column = {label: i for i, label in enumerate(labels)}
    predicted_labels, predicted_probs = model.predict(list(texts), k=-1)
    for row, (names, probs) in enumerate(zip(predicted_labels, predicted_probs, strict=True)):
        for name, prob in zip(names, probs, strict=True):
            col = column.get(name.removeprefix(LABEL_PREFIX))
            if col is not None:
                out[row, col] = prob
    return np.clip(out, 0.0, 1.0)
