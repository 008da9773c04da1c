"""Long-context probes: exact prompt length and the key at the asked depth."""

from __future__ import annotations

import random

import pytest

from evaluation.longcontext import is_correct, make_probe


@pytest.mark.parametrize("kind", ["passkey", "needle"])
@pytest.mark.parametrize("depth", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_probe_places_key_at_depth(tokenizer, kind, depth):
    probe = make_probe(tokenizer, kind, length=1024, depth=depth, rng=random.Random(0))
    assert len(probe.prompt_ids) == 1024
    text = tokenizer.decode(probe.prompt_ids)
    assert text.count(probe.answer) >= 1
    key_ids = tokenizer(f" {probe.answer}" if kind == "needle" else probe.answer, add_special_tokens=False)[
        "input_ids"
    ]
    assert key_ids  # the key sentence sits at key_offset and the key follows shortly after
    tail = tokenizer.decode(probe.prompt_ids[probe.key_offset : probe.key_offset + 40])
    assert probe.answer in tail
    relative = (probe.key_offset - probe.haystack_start) / probe.haystack_len
    unit = 40 / probe.haystack_len  # passkey snaps to a filler sentence (~30 tokens here)
    assert abs(relative - depth) <= unit


def test_probes_differ_by_trial_but_are_reproducible(tokenizer):
    first = [make_probe(tokenizer, "passkey", length=512, depth=0.5, rng=random.Random(3)) for _ in range(1)]
    again = [make_probe(tokenizer, "passkey", length=512, depth=0.5, rng=random.Random(3)) for _ in range(1)]
    rng = random.Random(3)
    two = [make_probe(tokenizer, "passkey", length=512, depth=0.5, rng=rng) for _ in range(2)]
    assert first[0].prompt_ids == again[0].prompt_ids
    assert two[0].answer != two[1].answer


def test_too_short_length_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="too short"):
        make_probe(tokenizer, "passkey", length=64, depth=0.5, rng=random.Random(0))


def test_answer_check_takes_the_first_number():
    assert is_correct(" 71432. Remember", "71432")
    assert not is_correct(" 7143 2", "71432")
    assert not is_correct(" no idea", "71432")
