"""The `instruction-anneal` preset at toy size: the demo corpus's opt-in instruction source
(`math_instruct`, prompt/response) is curated as instruction data, tokenized with a loss mask and
trained on its responses only (`data.loss_mask: {math_instruct: response}`) beside a run that
trains every token. End to end through the recipe up to training."""

import gzip
import json

import numpy as np
import pytest

from curation.demo_corpus import DOMAINS, build_demo_corpus
from recipes.commands import run_recipe


def _jsonl(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.slow
def test_instruction_anneal_toy_keeps_structure_masks_and_trains_on_responses(tmp_path):
    run_recipe("instruction-anneal", tmp_path, overrides=["profile=toy"], until_stage="train")

    # the opt-in source leaves the demo's other files as they are
    plain = build_demo_corpus(tmp_path / "plain", scale=0.2, seed=0)
    for domain in DOMAINS:
        assert (tmp_path / "corpus" / "raw" / f"{domain}.jsonl").read_bytes() == plain.sources[
            domain
        ].read_bytes()

    # curation keeps each pair as written, and decontamination caught the eval questions in prompts
    raw = {r["id"]: r for r in _jsonl(tmp_path / "corpus" / "raw" / "math_instruct.jsonl")}
    truth = json.loads((tmp_path / "corpus" / "ground_truth.json").read_text())
    planted = {c["doc_id"] for c in truth["contaminated"] if c["doc_id"] in raw}
    assert len(planted) == 2
    kept = [
        r
        for p in sorted((tmp_path / "curate" / "curated" / "math_instruct").glob("*.jsonl.gz"))
        for r in _jsonl(p)
    ]
    assert len(kept) > 0.4 * len(raw) and not planted & {r["id"] for r in kept}
    for record in kept:
        source = raw[record["id"]]
        assert record["metadata"]["instruction"] == {
            "prompt": source["prompt"],
            "response": source["response"],
        }
        assert record["metadata"]["domain"] == "instruction"

    # token shards: a mask for the instruction source only, one document per curated record
    tokens = tmp_path / "tokens"
    mask = np.fromfile(tokens / "math_instruct" / "000.ds.mask", dtype=np.uint8)
    ends = np.fromfile(tokens / "math_instruct" / "000.ds.index", dtype="<u8")
    assert len(ends) == len(kept) and len(mask) == ends[-1] and 0.2 < mask.mean() < 0.9
    assert not any(any((tokens / name).glob("*.ds.mask")) for name in DOMAINS)

    # same init, same first batch: the general loss agrees, the instruction loss is a different mean
    def first_step(run):
        return json.loads((tmp_path / "runs" / run / "seed0" / "metrics.jsonl").read_text().splitlines()[0])

    masked, every = first_step("anneal"), first_step("anneal-all-tokens")
    assert masked["loss/general"] == every["loss/general"] and masked["loss/math"] == every["loss/math"]
    assert masked["loss/instruction"] != every["loss/instruction"]
    resolved = (tmp_path / "recipe.resolved.yaml").read_text()
    assert "math_instruct: response" in resolved
