"""Heuristic filters: fast tokenizer, per-source/per-domain scoping, config errors."""

import pytest
from datatrove.data import Document

from curation.config import CurationConfig
from curation.filters import FastWordTokenizer, GopherQuality, build_heuristic_filters
from curation.filters.word_tokenizer import make_word_tokenizer

PROSE = (
    "The committee met on Tuesday to review the budget and the plans that have been proposed for the "
    "new library. Members agreed that the building should be open to the public with longer hours, and "
    "that the reading rooms need better light. The chair said the work will start in the spring and "
    "that residents will be able to follow the progress online. Several speakers asked about parking, "
    "and the council promised to publish a report with the answers before the next meeting of the year."
)


def _doc(text, source="web", domain=None, i=0):
    meta = {"source": source}
    if domain:
        meta["domain"] = domain
    return Document(text=text, id=f"{source}-{i}", metadata=meta)


def test_fast_tokenizer_splits_like_spacy():
    tok = FastWordTokenizer()
    assert tok.word_tokenize("Don't stop (now), it's 80%.") == [
        "Do",
        "n't",
        "stop",
        "(",
        "now",
        ")",
        ",",
        "it",
        "'s",
        "80",
        "%",
        ".",
    ]
    assert tok.word_tokenize("e.g. well-known x=y") == ["e.g.", "well", "-", "known", "x", "=", "y"]
    assert len(tok.sent_tokenize("One sentence. Two sentences! Three?")) == 3
    assert make_word_tokenizer("spacy") == "en"
    with pytest.raises(ValueError, match="unknown tokenizer"):
        make_word_tokenizer("nltk")


def test_gopher_with_fast_tokenizer_keeps_prose_and_drops_junk():
    step = GopherQuality(language=FastWordTokenizer())
    step._scope(None, None, set())
    docs = [_doc(PROSE, i=0), _doc("buy now " * 3, i=1), _doc("12 34 56 78 " * 30, i=2)]
    kept = list(step.run(iter(docs)))
    assert [d.id for d in kept] == ["web-0"]
    assert step.stats["dropped"].total == 2
    assert step.stats["dropped/web"].total == 2


def test_filters_scoped_by_domain_and_source():
    cfg = CurationConfig.model_validate(
        {
            "sources": [
                {"name": "web", "path": "x"},
                {"name": "code", "path": "y", "domain": "code"},
                {"name": "raw", "path": "z", "filters": ["c4"]},
            ],
            "filters": {"enabled": ["gopher_quality"]},
        }
    )
    steps = build_heuristic_filters(cfg, FastWordTokenizer())
    gopher = [s for s in steps if isinstance(s, GopherQuality)]
    junk = "x y z " * 5
    docs = [_doc(junk, "web", i=0), _doc(junk, "code", "code", i=1), _doc(junk, "raw", i=2)]
    kept = list(gopher[0].run(iter(docs)))
    # code is skipped by domain, raw does not use gopher: both pass; web junk is dropped
    assert sorted(d.id for d in kept) == ["code-1", "raw-2"]
    assert gopher[0].stats["skipped"].total == 2
    assert any(type(s).__name__ == "C4Quality" for s in steps)


def test_unknown_filter_name_fails_at_config_time():
    with pytest.raises(ValueError, match="unknown filter name"):
        CurationConfig.model_validate(
            {"sources": [{"name": "a", "path": "x"}], "filters": {"enabled": ["gopher"]}}
        )
    with pytest.raises(ValueError, match="bad option"):
        cfg = CurationConfig.model_validate(
            {"sources": [{"name": "a", "path": "x"}], "filters": {"gopher_quality": {"min_words": 3}}}
        )
        build_heuristic_filters(cfg, FastWordTokenizer())


def test_tokenizer_agreement_step_counts_sampled_docs(tmp_path):
    from curation.filters.agreement import TokenizerAgreement, merge_agreement

    step = TokenizerAgreement({"gopher_quality": {}, "fineweb": {}}, str(tmp_path), sample_rate=1.0)
    docs = [_doc(PROSE, i=0), _doc("tiny", i=1)]
    assert len(list(step.run(iter(docs)))) == 2  # pass-through
    merged = merge_agreement(tmp_path)
    assert merged["gopher_quality"]["docs"] == 2 and merged["gopher_quality"]["agreement"] == 1.0
    assert merged["gopher_quality"]["fast_kept"] == 1
