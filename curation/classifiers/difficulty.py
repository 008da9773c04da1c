"""DifficultyTierer: a per-document difficulty score in [0, 1] and an integer tier (0 = easiest).

The score is a weighted mean of signals, each squashed to [0, 1] and non-decreasing in its raw
value, so the score and the tier are monotone in every signal (more length, denser symbols or
digits, more reasoning steps, a higher classifier score never lower the tier):

- ``length``: log(1 + words) / log(1 + length_saturation_words)
- ``symbols``: share of characters that are neither alphanumeric nor whitespace / symbol_saturation
- ``digits``: share of digit characters / digit_saturation
- ``steps``: reasoning steps / steps_saturation, where a step is a non-empty line holding an
  equation or starting with an enumerator or step word, plus connectives such as "therefore"
- any float metadata in [0, 1] listed in ``score_weights`` (e.g. ``quality_score``,
  ``domain_confidence``); a key a document lacks is left out of its mean.

Tiers use fixed edges (default: equal-width bins), not per-corpus quantiles, so a document's
tier does not depend on which other documents are in the task. The planner orders the
curriculum by ``difficulty_tier``.
"""

from __future__ import annotations

import math
import re

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curation.stats.batched import BatchedStats

_STEP_LINE = re.compile(
    r"^\s*(?:\d+[.)]|[-*•]|step\b|first\b|then\b|next\b|finally\b|so\b|therefore\b|thus\b)", re.I
)
_EQUATION = re.compile(r"[=<>≤≥]|\d\s*[-+*/×÷^]\s*\d")
_ASCII_ALNUM_OR_SPACE = bytes(c for c in range(128) if chr(c).isalnum() or chr(c).isspace())
_CONNECTIVE = re.compile(r"\b(?:therefore|thus|hence|because|so that|it follows|which means)\b", re.I)
# ASCII text: the same matches case-sensitively on ``text.lower()`` (re.I folds only ASCII case
# there; the non-ASCII letters it also folds, such as U+017F for "s", cannot occur), and none
# at all when no connective's first word is in it (a substring test, far cheaper than the scan).
_CONNECTIVE_LOWER = re.compile(r"\b(?:therefore|thus|hence|because|so that|it follows|which means)\b")
_CONNECTIVE_HEADS = ("therefore", "thus", "hence", "because", "so that", "it follows", "which means")


class DifficultyConfig(BaseModel):
    """How signals map to a difficulty score and tiers."""

    model_config = ConfigDict(extra="forbid")

    num_tiers: int = Field(3, ge=1, le=100, description="number of tiers; tiers are 0..num_tiers-1")
    edges: list[float] | None = Field(
        None, description="num_tiers-1 increasing score cut points in (0, 1); default equal width"
    )
    length_weight: float = Field(0.3, ge=0)
    symbols_weight: float = Field(0.2, ge=0)
    digits_weight: float = Field(0.2, ge=0)
    steps_weight: float = Field(0.3, ge=0)
    score_weights: dict[str, float] = Field(
        default_factory=dict, description="metadata key -> weight, for classifier scores in [0, 1]"
    )
    length_saturation_words: int = Field(2000, ge=2, description="words at which length scores 1")
    symbol_saturation: float = Field(0.15, gt=0, description="symbol share (per char) scoring 1")
    digit_saturation: float = Field(0.10, gt=0, description="digit share (per char) scoring 1")
    steps_saturation: int = Field(12, ge=1, description="reasoning steps scoring 1")

    @model_validator(mode="after")
    def _check(self) -> DifficultyConfig:
        if self.edges is not None:
            if len(self.edges) != self.num_tiers - 1:
                raise ValueError(
                    f"edges needs num_tiers-1={self.num_tiers - 1} values, got {len(self.edges)}"
                )
            if any(not 0 < e < 1 for e in self.edges) or sorted(set(self.edges)) != self.edges:
                raise ValueError(f"edges must be strictly increasing in (0, 1), got {self.edges}")
        if any(w < 0 for w in self.score_weights.values()):
            raise ValueError(f"score_weights must be >= 0, got {self.score_weights}")
        total = self.length_weight + self.symbols_weight + self.digits_weight + self.steps_weight
        if total + sum(self.score_weights.values()) <= 0:
            raise ValueError("at least one weight must be > 0")
        return self


def count_reasoning_steps(text: str) -> int:
    """Lines that look like a step (equation, enumerator, step word) plus connective words."""
    lines = [line for line in text.splitlines() if line.strip()]
    steps = sum(1 for line in lines if _EQUATION.search(line) or _STEP_LINE.match(line))
    return steps + _connectives(text)


def _connectives(text: str) -> int:
    if not text.isascii():
        return len(_CONNECTIVE.findall(text))
    lower = text.lower()
    if not any(head in lower for head in _CONNECTIVE_HEADS):
        return 0
    return len(_CONNECTIVE_LOWER.findall(lower))


_BMP = 0x10000
_CLASS_TABLE: list[np.ndarray] = []  # per BMP code point: 1 = symbol, 2 = digit (built once, ~50 ms)


def _class_table() -> np.ndarray:
    if not _CLASS_TABLE:
        chars = [chr(c) for c in range(_BMP)]
        symbol = np.frombuffer(bytes(not c.isalnum() and not c.isspace() for c in chars), np.uint8)
        digit = np.frombuffer(bytes(c.isdigit() for c in chars), np.uint8)
        _CLASS_TABLE.append(symbol | (digit << 1))
    return _CLASS_TABLE[0]


def _unicode_symbols_and_digits(text: str) -> tuple[int, int]:
    """Characters neither alphanumeric nor whitespace, and digits (``str`` methods), by table.

    The same counts as a loop over the characters: a per-code-point table of those methods'
    answers for the BMP, the methods themselves for the rare code points beyond it.
    """
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    astral = cps >= _BMP
    flags = _class_table()[cps[~astral]] if astral.any() else _class_table()[cps]
    symbols = int(np.count_nonzero(flags & 1))
    digits = int(np.count_nonzero(flags & 2))
    if astral.any():
        for c in map(chr, cps[astral].tolist()):
            symbols += not c.isalnum() and not c.isspace()
            digits += c.isdigit()
    return symbols, digits


def difficulty_signals(text: str) -> dict[str, int | float]:
    """Raw signals: words, symbol share, digit share, reasoning steps."""
    num_chars = max(1, len(text))
    if text.isascii():  # the same counts by two C-level deletions instead of a loop per character
        raw = text.encode("ascii")
        symbols = len(raw.translate(None, _ASCII_ALNUM_OR_SPACE))
        digits = len(raw) - len(raw.translate(None, b"0123456789"))
    else:
        symbols, digits = _unicode_symbols_and_digits(text)
    return {
        "num_words": len(text.split()),
        "symbol_share": symbols / num_chars,
        "digit_share": digits / num_chars,
        "num_steps": count_reasoning_steps(text),
    }


def difficulty_score(text: str, metadata: dict, config: DifficultyConfig) -> float:
    """Weighted mean of the squashed signals, in [0, 1]."""
    sig = difficulty_signals(text)
    parts = [
        (config.length_weight, math.log1p(sig["num_words"]) / math.log1p(config.length_saturation_words)),
        (config.symbols_weight, sig["symbol_share"] / config.symbol_saturation),
        (config.digits_weight, sig["digit_share"] / config.digit_saturation),
        (config.steps_weight, sig["num_steps"] / config.steps_saturation),
    ]
    for key, weight in config.score_weights.items():
        value = metadata.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append((weight, float(value)))
    total = sum(w for w, _ in parts)
    assert total > 0, "validated in DifficultyConfig"
    return sum(w * min(1.0, max(0.0, v)) for w, v in parts) / total


def tier_of(score: float, config: DifficultyConfig) -> int:
    """Tier index for a score: the number of edges at or below it."""
    edges = config.edges or [i / config.num_tiers for i in range(1, config.num_tiers)]
    return sum(1 for edge in edges if score >= edge)


class DifficultyTierer(BatchedStats, PipelineStep):
    """Write ``difficulty_score`` (float in [0, 1]) and ``difficulty_tier`` (int, 0 = easiest)."""

    name = "📶 Difficulty tierer"
    type = "🏷 - TAGGER"

    def __init__(self, num_tiers: int = 3, *, config: DifficultyConfig | None = None, **overrides):
        super().__init__()
        if config is None:
            config = DifficultyConfig(num_tiers=num_tiers, **overrides)
        elif overrides or (num_tiers != 3 and num_tiers != config.num_tiers):
            raise ValueError("pass either config= or num_tiers/keyword settings, not both")
        self.config = config

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        for doc in data:
            with self.track_time():
                score = difficulty_score(doc.text, doc.metadata, self.config)
                tier = tier_of(score, self.config)
            doc.metadata["difficulty_score"] = score
            doc.metadata["difficulty_tier"] = tier
            self.stat_update(f"tier_{tier}")
            self.stat_update("total")
            yield doc


def tier_document(doc: Document, config: DifficultyConfig | None = None) -> int:
    """Tier of one document (convenience for tests and notebooks)."""
    config = config or DifficultyConfig()
    return tier_of(difficulty_score(doc.text, doc.metadata, config), config)
