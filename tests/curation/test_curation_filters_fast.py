"""The fast Gopher rules decide like datatrove's own classes: same keep/drop, same reason, every document.

Reference: datatrove's ``GopherQualityFilter`` / ``GopherRepetitionFilter`` with the same options
and the same word tokenizer. Texts: a sample of the real sets in ``../shared/data`` (skipped with a
reason when absent), the same with a run of their own words pasted again (so the repetition rules
fire), the demo corpus, and random junk (controls, odd line breaks, astral code points, bullets).
"""

import json
import random

import pytest
from datatrove.data import Document
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.filters.base_filter import get_filter_result

from curation.demo_corpus import build_demo_corpus
from curation.filters import FastWordTokenizer, build_heuristic_filters
from curation.filters.gopher_fast import FastGopherQualityFilter, FastGopherRepetitionFilter, parsed
from curation.filters.profiles import BUILTIN_PROFILES
from curation.real_sets import find_shared_data, plant_web_junk, real_documents

DATA = find_shared_data()
_JUNK = list(
    "abc XYZ\n\t 7 0.5 &#;<>/:.-_'’“”—é ü ß 中 \u200b\ufffd\x01\x85\x1c\x0c\r\u2028\u3000 ####!!!! … • -"
)
_JUNK += [
    "the ",
    "and ",
    "\r\n",
    "\n\n",
    "to be or ",
    "\n- item",
    "\n• b",
    "...\n",
    "…\n",
    " x x x",
    "𝔘",
    "😀",
]


def _options(options: dict) -> dict:
    out = dict(options)
    for key in ("top_n_grams", "dup_n_grams"):
        if key in out:
            out[key] = tuple(tuple(x) for x in out[key])
    return out


CASES = [
    (GopherQualityFilter, FastGopherQualityFilter, "web", "gopher_quality"),
    (GopherQualityFilter, FastGopherQualityFilter, "curated", "gopher_quality"),
    (GopherQualityFilter, FastGopherQualityFilter, "math", "gopher_quality"),
    (GopherRepetitionFilter, FastGopherRepetitionFilter, "web", "gopher_repetition"),
    (GopherRepetitionFilter, FastGopherRepetitionFilter, "curated", "gopher_repetition"),
]


def _judge(step, text: str):
    try:
        return get_filter_result(step.filter(Document(text=text, id="x")))
    except ZeroDivisionError:  # datatrove's quality rule on a text without words
        return "ZeroDivisionError"


def _assert_same(texts: list[str], min_drops: int = 1) -> None:
    tokenizer = FastWordTokenizer()
    for ref_cls, fast_cls, kind, name in CASES:
        options = _options(BUILTIN_PROFILES[kind][name])
        ref, fast = ref_cls(language=tokenizer, **options), fast_cls(language=tokenizer, **options)
        want = [_judge(ref, t) for t in texts]
        got = [_judge(fast, t) for t in texts]
        bad = [(w, g, t[:80]) for w, g, t in zip(want, got, texts, strict=True) if w != g]
        assert not bad, f"{name} ({kind}): {len(bad)} of {len(texts)} differ, e.g. {bad[:3]}"
        # the rules must actually fire on this text, or the comparison proves little
        assert sum(w != (True, None) for w in want) >= min_drops, (name, kind)


def _with_pasted_runs(texts: list[str], rng: random.Random) -> list[str]:
    out = []
    for text in texts:
        words = text.split(" ")
        k = rng.randint(1, max(1, len(words) // 2))
        i = rng.randint(0, max(0, len(words) - k))
        out.append(" ".join(words + words[i : i + k]))
    return out


@pytest.mark.skipif(DATA is None, reason="../shared/data (real public sets) is absent")
def test_same_decisions_and_reasons_as_datatrove_on_real_sets():
    rng = random.Random(0)
    sets = real_documents(DATA)
    web, _ = plant_web_junk(sets["web"])
    texts = []
    steps = {"wikitext": 3, "shakespeare": 12, "gsm8k": 20, "humaneval": 1, "flask": 4, "web": 1}
    for name, docs in {**sets, "web": web}.items():  # ~1 MB of text, every set in it
        texts += [d["text"] for d in docs[:: steps[name]]]
    texts += _with_pasted_runs(texts[::3], rng)
    _assert_same(texts)


def test_same_decisions_and_reasons_as_datatrove_on_demo_corpus_and_junk(tmp_path):
    corpus = build_demo_corpus(tmp_path, scale=0.05)
    texts = [json.loads(x)["text"] for p in corpus.sources.values() for x in p.read_text().splitlines()]
    rng = random.Random(1)
    texts += ["".join(rng.choice(_JUNK) for _ in range(rng.randint(0, 150))) for _ in range(600)]
    texts += ["", " ", "\n", "a", "- a\n- b\n- c", "x...\ny…\nz", "word " * 60, "the and " * 30]
    _assert_same(texts)


def test_words_are_tokenized_once_per_document_for_both_rules():
    calls = []

    class Counting(FastWordTokenizer):
        def word_tokenize(self, text):
            calls.append(text)
            return super().word_tokenize(text)

    tokenizer = Counting()
    text = "The cat sat on the mat, and the dog sat on the log. " * 5
    doc = Document(text=text, id="d")
    FastGopherQualityFilter(language=tokenizer).filter(doc)
    FastGopherRepetitionFilter(language=tokenizer).filter(doc)
    assert len(calls) == 1
    assert parsed(text, tokenizer).words == FastWordTokenizer().word_tokenize(text)
    FastGopherQualityFilter(language=tokenizer).filter(Document(text=text + " x", id="e"))
    assert len(calls) == 2  # another text is tokenized anew


def test_pipeline_steps_use_the_fast_rules_and_keep_their_scope():
    from curation.config import CurationConfig

    cfg = CurationConfig.model_validate(
        {
            "sources": [
                {"name": "wiki", "path": "w.jsonl"},
                {"name": "crawl", "path": "c.jsonl", "kind": "web"},
            ]
        }
    )
    steps = build_heuristic_filters(cfg, FastWordTokenizer())
    gophers = [s for s in steps if isinstance(s, (FastGopherQualityFilter, FastGopherRepetitionFilter))]
    assert len(gophers) == 4  # quality + repetition, per distinct set of options (web, curated)
    junk = Document(text="#### #### ####", id="j", metadata={"source": "crawl"})
    on_crawl = [s for s in gophers if s.sources == frozenset({"crawl"})]
    assert len(on_crawl) == 2
    assert all(get_filter_result(s.filter(junk))[0] is False for s in on_crawl)
    wiki_steps = [s for s in gophers if s.sources == frozenset({"wiki"})]
    assert all(s.filter(junk) is True for s in wiki_steps)  # not its source: passed untouched


def test_difficulty_unicode_counts_equal_the_per_character_loop():
    from curation.classifiers.difficulty import _unicode_symbols_and_digits

    rng = random.Random(2)
    alphabet = list("ab 1 = ² ½ ٣ 中 é \u3000\u00a0\ud800 • . ) 😀 𝟙 𝔘 \x85 ﬁ") + _JUNK
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))) for _ in range(3000)]
    if DATA is not None:
        texts += [d["text"] for d in real_documents(DATA)["wikitext"] if not d["text"].isascii()]
    for text in texts:
        symbols = sum(1 for c in text if not c.isalnum() and not c.isspace())
        digits = sum(1 for c in text if c.isdigit())
        assert _unicode_symbols_and_digits(text) == (symbols, digits), repr(text[:60])


def test_difficulty_step_count_equals_the_case_insensitive_scan():
    from curation.classifiers import difficulty as d

    rng = random.Random(3)
    words = ["Therefore", "THUS", "hence,", "because", "so that", "So  that", "it follows", "Which means"]
    words += ["ſo that", "becauses", "thus\n", "3 + 4", "\n- ", "1. ", " ", "x", "\n", "é"]
    texts = [
        "".join(rng.choice(words) + rng.choice([" ", ""]) for _ in range(rng.randint(0, 30)))
        for _ in range(3000)
    ]
    for text in texts:
        lines = [line for line in text.splitlines() if line.strip()]
        steps = sum(1 for line in lines if d._EQUATION.search(line) or d._STEP_LINE.match(line))
        assert d.count_reasoning_steps(text) == steps + len(d._CONNECTIVE.findall(text)), repr(text)
