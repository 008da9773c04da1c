"""The demo corpus's opt-in instruction source: math word problems as prompt/response pairs.

``build_demo_corpus(..., instruction=True)`` writes ``raw/math_instruct.jsonl``: one record per
problem, ``{"id", "prompt", "response"}`` with the question as the prompt and the worked solution
(ending in ``#### <answer>``) as the response, the way SFT-format math is mixed into an anneal.
The problems come from their own random stream, so the other demo files stay byte-identical
whether the option is on or off. Two held-out evaluation questions are pasted into prompts (and
recorded in ``ground_truth.json`` under ``contaminated``): decontamination must see prompts too.

Curate it with ``instruction: prompt_response`` (recipes/stages.py ``demo_sources`` does) and
train it with ``data.loss_mask: {math_instruct: response}``.
"""

from __future__ import annotations

import random

from curation.demo_math import make_word_problem

SOURCE = "math_instruct"
NUM_CONTAMINATED = 2


def instruction_records(num_records: int, seed: int) -> list[dict[str, str]]:
    """``num_records`` prompt/response math problems, the same for the same ``seed``."""
    rng = random.Random(f"instruct-{seed}")
    records = []
    for i in range(num_records):
        problem = make_word_problem(rng)
        records.append(
            {"id": f"{SOURCE}-{i:05d}", "prompt": problem["question"], "response": problem["answer"]}
        )
    return records


def plant_contamination(records: list[dict], eval_items: list[dict], truth: dict, seed: int) -> None:
    """Ask a few held-out eval questions inside prompts (their answers are not pasted)."""
    rng = random.Random(f"instruct-contamination-{seed}")
    hosts = rng.sample(range(len(records)), NUM_CONTAMINATED)
    for host, item_index in zip(hosts, rng.sample(range(len(eval_items)), NUM_CONTAMINATED), strict=True):
        record = records[host]
        record["prompt"] = f"{record['prompt']}\nAlso: {eval_items[item_index]['question']}"
        truth["contaminated"].append({"evalset": "gsm8k_like", "item": item_index, "doc_id": record["id"]})
