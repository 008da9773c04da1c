"""The files training reads and writes.

Reads
    ``DIR/curated/<source>/*.jsonl.gz`` (curation's contract, ``text`` field) to tokenize, and
    ``plan.parquet`` (mixing's contract; the columns this package needs are checked on read).

Writes
    ``tokens/tokenizer.json``                 the tokenizer used (trained locally when none given);
                                              with ``tokenizer_config.json`` the folder loads with
                                              ``AutoTokenizer.from_pretrained(tokens/)``
    ``tokens/tokenize.json``                  EOS/PAD tokens and ids, vocab size, the config used
    ``tokens/inventory.parquet``              curation's inventory with exact ``num_tokens``
    ``tokens/<source>/*.ds`` + ``.ds.index``  datatrove token shards (uint16 when vocab <= 65,536
                                              else uint32; index = uint64 cumulative document ends,
                                              in tokens); documents end with EOS
    ``tokens/<source>/*.ds.difficulty``       float32 per document (curated difficulty), also ``.ds.quality``
    ``tokens/counts.parquet``                 ``source``, ``num_docs``, ``num_tokens`` (exact)
    ``RUN/checkpoints/step_N/``               torch DCP: model, optimizer, loader, RNG, trainer_state.json,
                                              hf_config.json (the architecture)
    ``RUN/hf/step_N/``                        HF ``save_pretrained`` model + tokenizer (special tokens
                                              agree) + ``midtrain_state.json`` (trainer/export.py)
    ``RUN/metrics.jsonl``                     one JSON object per logged step; keys below
    ``RUN/config.json``                       the resolved train config, versions, git commit
"""

from __future__ import annotations

import polars as pl

# Columns of plan.parquet the loader relies on (mixing/schema.py documents them all).
PLAN_COLUMNS_USED = (
    "phase",
    "source",
    "domain",
    "num_sequences",
    "share",
    "order",
    "phase_start_step",
    "phase_end_step",
    "seq_len",
)

# Keys of every line of metrics.jsonl. Per-domain losses are extra keys "loss/<domain>".
METRICS_KEYS = ("step", "tokens", "loss", "lr", "grad_norm", "tokens_per_s", "phase")


def check_plan_columns(frame: pl.DataFrame, *, where: str = "plan") -> None:
    missing = [c for c in PLAN_COLUMNS_USED if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; write it with `midtrain plan`")
