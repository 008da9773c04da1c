"""The files evaluation reads and writes.

Reads
    model folders written by HF ``save_pretrained`` (config + weights + tokenizer files), and
    held-out slices ``heldout/<source>/*.jsonl.gz`` (curation's contract: ``text`` and
    ``metadata.domain``).

Writes ``DIR/eval.parquet`` with one row per (checkpoint, task, metric), columns in
``EVAL_COLUMNS``; ``DIR/report.md`` with tables and PNG plots beside it.

Tasks are named ``loss/<domain>`` for held-out loss (metrics ``loss`` and ``perplexity``;
reference sets are ``loss/reference:<name>``), ``delta/<domain>`` and ``gains_vs_retention``
(``target_gain``, ``general_change``, ``reference_change``, ``forgetting``) for retention,
``gsm8k``/``humaneval``/``mc:<name>`` for benchmarks, ``passkey``/``needle`` for long-context probes
(metric ``accuracy@<length>@<depth>``), ``contamination/<evalset>`` for the audit.
"""

from __future__ import annotations

import polars as pl

EVAL_COLUMNS: dict[str, pl.DataType] = {
    "checkpoint": pl.String(),  # a label, by default the model folder's name
    "task": pl.String(),
    "metric": pl.String(),
    "value": pl.Float64(),
    "n": pl.Int64(),  # items or tokens the value was computed on
}


def check_eval(frame: pl.DataFrame, *, where: str = "eval") -> pl.DataFrame:
    missing = [c for c in EVAL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; written by `midtrain eval`")
    return frame.with_columns([pl.col(c).cast(t, strict=False) for c, t in EVAL_COLUMNS.items()])
