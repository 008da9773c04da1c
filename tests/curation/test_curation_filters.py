"""Heuristic filters: fast tokenizer, profiles per source kind, merging, option errors, no edits."""

import pytest
from datatrove.data import Document

from curation.config import CurationConfig
from curation.filters import (
    BUILTIN_PROFILES,
    FastWordTokenizer,
    GopherQuality,
    build_heuristic_filters,
    make_filter,
    source_filters,
    source_kind,
)
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
    docs = [_doc(PROSE, i=0), _doc("buy now " * 3, i=1), _doc("12 34 56 78 " * 30, i=2)]
    kept = list(step.run(iter(docs)))
    assert [d.id for d in kept] == ["web-0"]
    assert step.stats["dropped"].total == 2
    assert step.stats["dropped/web"].total == 2


def _config(sources, **filters):
    return CurationConfig.model_validate({"sources": sources, "filters": filters})


def test_each_source_gets_its_kinds_profile():
    cfg = _config(
        [
            {"name": "crawl", "path": "x", "kind": "web"},
            {"name": "wiki", "path": "y", "domain": "general"},
            {"name": "gsm", "path": "z", "domain": "math"},
            {"name": "repo", "path": "w", "domain": "code"},
            {"name": "plain", "path": "v"},
        ]
    )
    plan = {s: [name for name, _ in f] for s, f in source_filters(cfg).items()}
    assert plan["crawl"] == ["gopher_quality", "gopher_repetition", "c4", "fineweb"]
    assert plan["wiki"] == plan["plain"] == ["gopher_quality", "gopher_repetition"]  # auto -> curated
    assert plan["gsm"] == ["gopher_quality", "gopher_repetition"]
    assert plan["repo"] == ["code_quality"]
    assert source_kind("auto", "reasoning") == "math" and source_kind("auto", None) == "curated"
    # one instance per distinct option set, each judging only its sources
    steps = build_heuristic_filters(cfg, FastWordTokenizer())
    gophers = [s for s in steps if isinstance(s, GopherQuality)]
    assert {frozenset(g.sources) for g in gophers} == {
        frozenset({"crawl"}),
        frozenset({"wiki", "plain"}),
        frozenset({"gsm"}),
    }


def test_filter_skips_other_sources_and_counts_them():
    cfg = _config(
        [{"name": "web", "path": "x", "kind": "web"}, {"name": "code", "path": "y", "domain": "code"}]
    )
    gopher = next(
        s for s in build_heuristic_filters(cfg, FastWordTokenizer()) if isinstance(s, GopherQuality)
    )
    junk = "x y z " * 5
    kept = list(gopher.run(iter([_doc(junk, "web", i=0), _doc(junk, "code", "code", i=1)])))
    assert [d.id for d in kept] == ["code-1"]
    assert gopher.stats["skipped"].total == 1 and gopher.stats["dropped/web"].total == 1


def test_profile_overrides_merge_and_null_removes_a_filter():
    cfg = _config(
        [{"name": "gsm", "path": "x", "domain": "math"}],
        profiles={"math": {"gopher_repetition": {"dup_line_frac": 0.9}, "gopher_quality": None}},
        gopher_repetition={"dup_para_frac": 0.8},
    )
    ((name, options),) = source_filters(cfg)["gsm"]
    assert name == "gopher_repetition"
    # the user's two options land on top of the built-in math profile, which keeps the rest
    assert options["dup_line_frac"] == 0.9 and options["dup_para_frac"] == 0.8
    assert options["top_n_grams"] == BUILTIN_PROFILES["math"]["gopher_repetition"]["top_n_grams"]
    # a filter the profile does not run can be added to it
    cfg = _config(
        [{"name": "gsm", "path": "x", "domain": "math"}], profiles={"math": {"c4": {"min_num_sentences": 1}}}
    )
    assert [n for n, _ in source_filters(cfg)["gsm"]] == ["gopher_quality", "gopher_repetition", "c4"]


def test_source_filter_list_and_enabled_pick_filters_not_options():
    cfg = _config(
        [{"name": "raw", "path": "z", "filters": ["c4"]}, {"name": "wiki", "path": "y"}],
        enabled=["gopher_repetition"],
    )
    plan = source_filters(cfg)
    assert [n for n, _ in plan["raw"]] == ["c4"] and [n for n, _ in plan["wiki"]] == ["gopher_repetition"]
    assert (
        plan["wiki"][0][1]["dup_line_frac"]
        == BUILTIN_PROFILES["curated"]["gopher_repetition"]["dup_line_frac"]
    )


def test_bad_filter_options_name_the_key_and_the_valid_names():
    with pytest.raises(ValueError, match="unknown filter name"):
        _config([{"name": "a", "path": "x"}], enabled=["gopher"])
    with pytest.raises(
        ValueError, match=r"filters.gopher_quality: unknown option\(s\) \['min_words'\].*min_doc_words"
    ):
        _config([{"name": "a", "path": "x"}], gopher_quality={"min_words": 3})
    with pytest.raises(
        ValueError, match=r"filters.profiles.web.c4: unknown option.*filter_no_terminal_punct"
    ):
        _config([{"name": "a", "path": "x"}], profiles={"web": {"c4": {"terminal_punct": False}}})
    with pytest.raises(ValueError, match="filters.profiles.prose: unknown kind"):
        _config([{"name": "a", "path": "x"}], profiles={"prose": {}})
    with pytest.raises(ValueError, match="domain_overrides.*filters.profiles"):
        _config([{"name": "a", "path": "x"}], domain_overrides={"math": {}})


def test_min_alpha_words_ratio_is_the_clear_name_of_gophers_minimum():
    cfg = _config([{"name": "a", "path": "x", "kind": "web"}], gopher_quality={"min_alpha_words_ratio": 0.6})
    options = dict(source_filters(cfg)["a"])["gopher_quality"]
    assert options["max_non_alpha_words_ratio"] == 0.6 and "min_alpha_words_ratio" not in options


LINES = "A line without an end\nThe answer follows here.\nok\n#### 72"


def test_c4_judges_but_never_edits_unless_allowed():
    doc = _doc(LINES)
    judge = make_filter("c4", {"min_num_sentences": 1}, FastWordTokenizer())
    (kept,) = list(judge.run(iter([doc])))
    assert kept.text == LINES  # byte-identical: the line rules decided, nothing was removed
    assert "modified/web" not in judge.stats.stats  # (Stats has no __contains__: `in` on it never ends)
    editor = make_filter("c4", {"min_num_sentences": 1, "allow_edits": True}, FastWordTokenizer())
    (edited,) = list(editor.run(iter([_doc(LINES)])))
    assert edited.text == "The answer follows here."
    assert editor.stats["modified/web"].total == 1
    assert editor.stats["chars_removed/web"].total == len(LINES) - len(edited.text)


def test_code_quality_drops_minified_and_binary_like_files():
    step = make_filter("code_quality", {}, None)
    code = "def f(x):\n    return x + 1\n"
    docs = [_doc(code, i=0), _doc("var a=1;" * 200, i=1), _doc("%%%% ==== \n" * 20, i=2)]
    kept = list(step.run(iter(docs)))
    assert [d.id for d in kept] == ["web-0"]
    assert step.stats["dropped_code_line_too_long"].total == 1
    assert step.stats["dropped_code_low_alnum_fraction"].total == 1


def test_tokenizer_agreement_step_counts_sampled_docs(tmp_path):
    from curation.filters.agreement import TokenizerAgreement, merge_agreement

    step = TokenizerAgreement({"gopher_quality": {}, "fineweb": {}}, str(tmp_path), sample_rate=1.0)
    docs = [_doc(PROSE, i=0), _doc("tiny", i=1)]
    assert len(list(step.run(iter(docs)))) == 2  # pass-through
    merged = merge_agreement(tmp_path)
    assert merged["gopher_quality"]["docs"] == 2 and merged["gopher_quality"]["agreement"] == 1.0
    assert merged["gopher_quality"]["fast_kept"] == 1
