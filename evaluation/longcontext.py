"""Long-context probes generated locally: passkey retrieval and single needle in a haystack.

A prompt is built in token space so its length is exact: intro + haystack (filler tokens) with the
key sentence inserted after ``depth`` of the haystack + question. The model answers greedily; an
answer is right when the first number it writes is the key. Accuracy per (length, depth) cell over
``num_trials`` prompts with different keys (and, for the needle, different haystacks).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from evaluation.benchmarks.generate import greedy_generate_ids

PASSKEY_INTRO = (
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
    "I will quiz you about the important information there.\n"
)
PASSKEY_FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
PASSKEY_NEEDLE = "The pass key is {key}. Remember it. {key} is the pass key. "
PASSKEY_QUESTION = "\nWhat is the pass key? The pass key is"

NEEDLE_INTRO = "Read the essay below and answer the question at the end.\n"
NEEDLE_NEEDLE = "The special magic number for {city} is {key}. "
NEEDLE_QUESTION = "\nWhat is the special magic number for {city}? The special magic number for {city} is"
_CITIES = ["Lisbon", "Nairobi", "Osaka", "Quito", "Tallinn", "Hobart", "Tromso", "Cusco", "Dakar", "Perth"]
_SUBJECTS = [
    "The committee",
    "A young painter",
    "The old sailor",
    "Our neighbour",
    "The small museum",
    "The research team",
    "A quiet student",
    "The village baker",
]
_VERBS = ["discussed", "remembered", "described", "studied", "planned", "questioned", "admired", "repaired"]
_OBJECTS = [
    "the harbour at dawn",
    "a forgotten letter",
    "the price of grain",
    "the winter garden",
    "an unfinished bridge",
    "the county archive",
    "a borrowed telescope",
    "the evening train",
]
_TAILS = [
    "before the rain.",
    "with great care.",
    "for most of the year.",
    "without a word.",
    "as the town slept.",
    "in the spring.",
    "after the long meeting.",
    "once again.",
]


@dataclass
class Probe:
    prompt_ids: list[int]
    answer: str
    key_offset: int  # index in prompt_ids where the key sentence starts
    haystack_start: int  # index where the haystack begins
    haystack_len: int  # haystack tokens (key sentence excluded)


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _essay(rng: random.Random, min_chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < min_chars:
        sentence = (
            " ".join([rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_TAILS)])
            + " "
        )
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)


def make_probe(tokenizer, kind: str, *, length: int, depth: float, rng: random.Random) -> Probe:
    """One prompt of exactly ``length`` tokens with its key ``depth`` of the way into the haystack."""
    key = str(rng.randint(10000, 99999))
    if kind == "passkey":
        intro, needle, question = PASSKEY_INTRO, PASSKEY_NEEDLE.format(key=key), PASSKEY_QUESTION
        filler_unit = _ids(tokenizer, PASSKEY_FILLER)
    elif kind == "needle":
        city = rng.choice(_CITIES)
        intro, needle, question = (
            NEEDLE_INTRO,
            NEEDLE_NEEDLE.format(city=city, key=key),
            NEEDLE_QUESTION.format(city=city),
        )
        filler_unit = _ids(tokenizer, _essay(rng, min_chars=8 * length))  # ~>1 token/char/8: enough text
    else:
        raise ValueError(f"unknown probe {kind!r}; choose passkey or needle")
    intro_ids, needle_ids, question_ids = (
        _ids(tokenizer, intro),
        _ids(tokenizer, needle),
        _ids(tokenizer, question),
    )
    haystack_len = length - len(intro_ids) - len(needle_ids) - len(question_ids)
    if haystack_len < 1:
        raise ValueError(
            f"length {length} is too short for the {kind} probe (needs > "
            f"{length - haystack_len} tokens of intro, key and question)"
        )
    repeats = haystack_len // len(filler_unit) + 1
    haystack = (filler_unit * repeats)[:haystack_len]
    cut = round(depth * haystack_len)
    if kind == "passkey":  # snap to a filler-sentence boundary so the key is not glued into a word
        cut = min(haystack_len, round(cut / len(filler_unit)) * len(filler_unit))
    prompt = intro_ids + haystack[:cut] + needle_ids + haystack[cut:] + question_ids
    assert len(prompt) == length, (len(prompt), length)
    return Probe(prompt, key, len(intro_ids) + cut, len(intro_ids), haystack_len)


_FIRST_NUMBER = re.compile(r"\d+")


def is_correct(completion: str, answer: str) -> bool:
    match = _FIRST_NUMBER.search(completion)
    return match is not None and match.group(0) == answer


def run_longcontext(loaded, config, *, batch_size: int = 4) -> tuple[list[dict], list[dict], list[str]]:
    """Rows ``<probe>`` / ``accuracy@<length>@<depth>`` (+ overall ``accuracy``), samples, warnings."""
    rows, samples, warnings = [], [], []
    if loaded.max_positions is not None and max(config.lengths, default=0) > loaded.max_positions:
        warnings.append(
            f"{loaded.label}: probe lengths above max_position_embeddings={loaded.max_positions} "
            "run anyway (RoPE extrapolation)"
        )
    for kind in config.probes:
        total = correct_total = 0
        for length in config.lengths:
            for depth in config.depths:
                rng = random.Random(f"{config.seed}-{kind}-{length}-{depth}")
                try:
                    probes = [
                        make_probe(loaded.tokenizer, kind, length=length, depth=depth, rng=rng)
                        for _ in range(config.num_trials)
                    ]
                except ValueError as error:  # this tokenizer needs more tokens: skip the cell, say so
                    warnings.append(f"{loaded.label}: {error}; cell skipped")
                    continue
                completions = greedy_generate_ids(
                    loaded,
                    [p.prompt_ids for p in probes],
                    max_new_tokens=12,
                    batch_size=batch_size,
                    stop=["\n"],
                )
                correct = 0
                for probe, completion in zip(probes, completions, strict=True):
                    ok = is_correct(completion, probe.answer)
                    correct += ok
                    samples.append(
                        {
                            "probe": kind,
                            "length": length,
                            "depth": depth,
                            "answer": probe.answer,
                            "completion": completion,
                            "correct": ok,
                        }
                    )
                rows.append(
                    {
                        "task": kind,
                        "metric": f"accuracy@{length}@{depth:g}",
                        "value": correct / len(probes),
                        "n": len(probes),
                    }
                )
                total += len(probes)
                correct_total += correct
        if total:
            rows.append({"task": kind, "metric": "accuracy", "value": correct_total / total, "n": total})
    return rows, samples, warnings
