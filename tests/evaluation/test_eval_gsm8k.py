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
