"""GSM8K final-answer extraction and exact match."""

from __future__ import annotations

import pytest

from evaluation.benchmarks.gsm8k import extract_answer, is_exact_match


@pytest.mark.parametrize(
    ("text", "strict", "flexible"),
    [
        ("She pays 3 * 4 = 12 dollars.\n#### 12", "12", "12"),
        ("#### 1,250", "1250", "1250"),
        ("so the total is $18.00.\n#### $18.00", "18", "18"),
        ("#### -3", "-3", "-3"),
        ("The answer is 42.", None, "42"),
        ("no numbers here", None, None),
        # strict takes the first '#### N' (lm-eval strict-match: regex then take_first); flexible the last number
        ("#### 5 then more text #### 6", "5", "5"),
    ],
)
def test_extract_answer(text, strict, flexible):
    assert extract_answer(text) == strict
    assert extract_answer(text, flexible=True) == flexible


def test_exact_match_compares_values_of_final_answers():
    reference = "Natalia sold 48/2 = 24 clips in May.\n#### 72"
    assert is_exact_match(" 48 + 24 = 72\n#### 72", reference)
    assert is_exact_match("#### 72.0", reference)
    assert not is_exact_match("#### 71", reference)
    assert not is_exact_match("the answer is 72", reference)  # strict needs '####'
    assert is_exact_match("the answer is 72", reference, flexible=True)
    with pytest.raises(ValueError, match="no '#### N'"):
        is_exact_match("#### 1", "no final answer")


def test_default_prompt_is_lm_eval_gsm8k_k_shot_and_never_shows_the_item_itself():
    from evaluation.benchmarks.gsm8k import build_prompt, choose_shots
    from evaluation.config import GSM8KConfig

    config = GSM8KConfig()
    assert config.num_fewshot == 5  # lm-eval's gsm8k default
    records = [{"question": f"Q{i}?", "answer": f"work {i}\n#### {i}"} for i in range(4)]
    shots = choose_shots(records, 2, config, None)
    assert [s["question"] for s in shots] == ["Q3?", "Q0?", "Q1?"]  # k capped at n - 1, item 2 excluded
    prompt = build_prompt(records[2]["question"], shots[:2], config)
    assert (
        prompt
        == "Question: Q3?\nAnswer: work 3\n#### 3\n\nQuestion: Q0?\nAnswer: work 0\n#### 0\n\nQuestion: Q2?\nAnswer:"
    )
    zero = GSM8KConfig(num_fewshot=0)
    assert build_prompt("Q?", choose_shots(records, 0, zero, None), zero) == "Question: Q?\nAnswer:"
    pool = [{"question": "P?", "answer": "#### 1"}] * 6
    assert choose_shots(records, 0, config, pool) == pool[:5]
