"""Instruction tokenization (chat rendering + loss mask) vs plain text tokenization, side by side.

GSM8K train (../shared/data) is written twice as curated output: once as instruction records
(``metadata.instruction = {prompt: question, response: answer}``, what curation writes for an
``instruction: prompt_response`` source) and once as text (``"Question: ...\\nAnswer: ..."``, a
``text_template`` source). Both are tokenized with ``tokenize_curated`` and the real 32k Llama
tokenizer; the instruction path renders the fallback format and writes a ``.ds.mask``, the text
path is the batched text step (``training/tokenize/text_shards.py``). Prints seconds, tokens/s and the ratio.

    .venv/bin/python bench/bench_training_tokenize_instruct.py [--rows 7473]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _write(folder: Path, records: list[dict]) -> None:
    folder.mkdir(parents=True)
    with gzip.open(folder / "00000.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=7473)
    args = parser.parse_args()
    from training.tokenize import TokenizeConfig, tokenize_curated

    with (SHARED / "gsm8k_train.jsonl").open() as f:
        rows = [json.loads(line) for _, line in zip(range(args.rows), f, strict=False)]
    config = TokenizeConfig(tokenizer=str(SHARED / "llama_tokenizer.json"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        chat = [
            {
                "text": f"{r['question']}\n\n{r['answer']}",
                "id": f"gsm-{i}",
                "metadata": {
                    "source": "gsm",
                    "instruction": {"prompt": r["question"], "response": r["answer"]},
                },
            }
            for i, r in enumerate(rows)
        ]
        text = [
            {"text": f"Question: {r['question']}\nAnswer: {r['answer']}", "id": f"gsm-{i}", "metadata": {}}
            for i, r in enumerate(rows)
        ]
        _write(root / "instruct" / "curated" / "gsm", chat)
        _write(root / "text" / "curated" / "gsm", text)
        tokenize_curated(root / "text", root / "warm", config)  # imports and tokenizer load, once
        results = {}
        for name in ("text", "instruct"):
            start = time.perf_counter()
            counts = tokenize_curated(root / name, root / f"tokens-{name}", config)
            seconds = time.perf_counter() - start
            results[name] = (seconds, int(counts["num_tokens"].sum()))
        assert (root / "tokens-instruct" / "gsm" / "000.ds.mask").is_file()
    for name, (seconds, tokens) in results.items():
        print(
            f"{name:9s} {len(rows):,} docs  {tokens:,} tokens  {seconds:6.2f} s  {tokens / seconds:,.0f} tokens/s"
        )
    ratio = (results["instruct"][1] / results["instruct"][0]) / (results["text"][1] / results["text"][0])
    print(f"instruction (render + mask) / text (batched text step) tokens/s: {ratio:.2f}x")


if __name__ == "__main__":
    main()
