"""The demo corpus: deterministic, three domains, planted defects recorded truthfully."""

import json

from curation.demo_corpus import build_demo_corpus, word_shingle_jaccard


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = build_demo_corpus(tmp_path / "a", scale=0.1, seed=0)
    b = build_demo_corpus(tmp_path / "b", scale=0.1, seed=0)
    c = build_demo_corpus(tmp_path / "c", scale=0.1, seed=1)
    for domain in ("general", "code", "math"):
        assert a.sources[domain].read_bytes() == b.sources[domain].read_bytes()
    assert a.sources["math"].read_bytes() != c.sources["math"].read_bytes()


def test_planted_defects_are_in_the_files_as_recorded(tmp_path):
    corpus = build_demo_corpus(tmp_path, scale=0.2, seed=0)
    texts = {}
    for domain, path in corpus.sources.items():
        for row in _records(path):
            assert row["text"].strip(), f"{domain} has an empty document"
            texts[row["id"]] = row["text"]
    assert len(texts) == sum(corpus.num_docs.values())  # ids are unique
    truth = corpus.ground_truth()
    for dup in truth["exact_duplicates"]:
        original, copy = texts[dup["original"]], texts[dup["copy"]]
        if dup["normalised_only"]:
            assert " ".join(original.lower().split()) == " ".join(copy.lower().split()) and original != copy
        else:
            assert original == copy
    for near in truth["near_duplicates"]:
        assert (
            abs(word_shingle_jaccard(texts[near["original"]], texts[near["copy"]]) - near["jaccard"]) < 1e-3
        )
    assert {j["kind"] for j in truth["junk"]} == {"boilerplate", "spam", "too_short"}
    evalset = _records(corpus.evalsets["gsm8k_like"])
    for hit in truth["contaminated"]:
        if hit["evalset"] == "gsm8k_like":
            assert evalset[hit["item"]]["question"] in texts[hit["doc_id"]]


def test_near_duplicate_similarity_tracks_the_target(tmp_path):
    truth = build_demo_corpus(tmp_path, scale=0.5, seed=0).ground_truth()
    by_target = {}
    for near in truth["near_duplicates"]:
        by_target.setdefault(near["target_jaccard"], []).append(near["jaccard"])
    means = [sum(v) / len(v) for _, v in sorted(by_target.items())]
    assert means == sorted(means)  # higher target, more similar copies
    assert abs(means[-1] - 0.95) < 0.08 and abs(means[0] - 0.5) < 0.15


def test_eval_items_share_no_13gram_with_training_documents_unless_planted(tmp_path):
    import re

    corpus = build_demo_corpus(tmp_path, scale=0.3, seed=0)

    def grams(text):
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + 13]) for i in range(len(words) - 12)}

    index = set()
    for item in _records(corpus.evalsets["gsm8k_like"]):
        index |= grams(item["question"] + " " + item["answer"])
    truth = corpus.ground_truth()
    planted = {h["doc_id"] for h in truth["contaminated"]}
    planted |= {d["copy"] for d in truth["exact_duplicates"] if d["original"] in planted}
    hits = {row["id"] for row in _records(corpus.sources["math"]) if grams(row["text"]) & index}
    assert hits <= planted and hits  # only the planted copies overlap, and they do
