"""Real data: GSM8K as an instruction source (prompt = question, response = answer) through curation
and tokenization with the real 32k Llama tokenizer, both from ../shared/data (skipped without it).

Nothing is lost or changed: every question/answer pair comes out of curation as it went in (or
is accounted for in removed/ with its reason), and the loss mask covers exactly the answer tokens
and the closing EOS.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
from shared_data import LLAMA, gsm8k_rows, needs_shared

NUM_ROWS = 300


@needs_shared
def test_gsm8k_as_prompt_response_keeps_every_pair_and_masks_exactly_the_answers(tmp_path):
    from tokenizers import Tokenizer

    from curation import CurationConfig, run_curation
    from training.tokenize import TokenizeConfig, tokenize_curated

    rows = gsm8k_rows(NUM_ROWS)
    raw = tmp_path / "gsm8k.jsonl"  # the first rows, in a scratch folder (the data stays in shared/)
    raw.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    source = {"name": "gsm8k", "path": str(raw), "domain": "math"}
    source["instruction"] = {"format": "prompt_response", "prompt_key": "question", "response_key": "answer"}
    config = CurationConfig.model_validate(
        {"sources": [source], "dedup": {"minhash": False}, "heldout": {"fraction": 0.0, "max_docs": 0}}
    )
    result = run_curation(config, tmp_path / "cur")

    curated = []
    for path in sorted((tmp_path / "cur" / "curated" / "gsm8k").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            curated += [json.loads(line) for line in f]
    removed = result.funnel["by_source"]["gsm8k"]
    assert removed["input"] == NUM_ROWS and removed["rejected"] == 0
    assert (
        len(curated)
        == removed["curated"]
        == NUM_ROWS - sum(n for step in removed["reasons"].values() for n in step.values())
    )
    by_line = {int(r["id"].rsplit("/", 1)[1]): r for r in curated}  # ids are gsm8k/<file>/<line>
    for line, record in by_line.items():
        row = rows[line - 1]
        assert record["metadata"]["instruction"] == {"prompt": row["question"], "response": row["answer"]}
    assert len(curated) >= 0.98 * NUM_ROWS  # the math profile keeps GSM8K (5 of 7,473 dropped in all)

    tokens = tmp_path / "tokens"
    tokenize_curated(tmp_path / "cur", tokens, TokenizeConfig(tokenizer=str(LLAMA)))
    meta = json.loads((tokens / "tokenize.json").read_text())
    ids = np.fromfile(tokens / "gsm8k" / "000.ds", dtype="<u2")
    mask = np.fromfile(tokens / "gsm8k" / "000.ds.mask", dtype=np.uint8)
    ends = np.fromfile(tokens / "gsm8k" / "000.ds.index", dtype="<u8").astype(np.int64)
    assert len(ends) == len(curated) and len(ids) == len(mask) == ends[-1]
    llama = Tokenizer.from_file(str(LLAMA))
    for record, a, b in zip(curated, np.concatenate([[0], ends[:-1]]), ends, strict=True):
        doc, m = ids[a:b], mask[a:b].astype(bool)
        assert doc[0] == meta["bos_token_id"] and not m[0]
        assert doc[-1] == meta["eos_token_id"] and m[-1]
        trained = np.flatnonzero(m[:-1])
        assert trained.size and np.all(np.diff(trained) == 1)  # one run: the answer, then EOS
        assert trained[-1] == len(doc) - 2  # nothing after the answer but the EOS
        answer = record["metadata"]["instruction"]["response"]
        assert llama.decode(doc[trained].tolist()).strip() == answer.strip()
        prompt = llama.decode(doc[1 : trained[0]].tolist())
        assert record["metadata"]["instruction"]["prompt"].strip() in prompt  # the question: input only
