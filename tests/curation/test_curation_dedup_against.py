"""``dedup.against``: curate set A, then set B against A's output, on real text (shared/data).

B holds exact and near copies of documents A kept, new GSM8K documents, and one duplicate pair
of its own. The copies of A must be dropped as ``dedup_against`` (and nothing else), B's own
pair deduplicated as usual, and A's output folder left byte-identical. Skips when
``../shared/data`` is absent.
"""

import json
import random

import pytest
from against_runs import (
    DATA,
    against_config,
    curate,
    folder_hash,
    near_copy,
    needs_data,
    records,
    write_source,
)

from curation import run_curation
from curation.real_sets import real_documents

pytestmark = needs_data


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("against")
    sets = real_documents(DATA)
    gsm, wiki = sets["gsm8k"], [d for d in sets["wikitext"] if len(d["text"].split()) > 400]
    a_sources = {
        "gsm": write_source(root / "a" / "gsm.jsonl", gsm[:400]),
        "wiki": write_source(root / "a" / "wiki.jsonl", wiki[:30]),
    }
    a_out = root / "A_out"
    curate(against_config(a_sources), a_out)
    kept_a = records(a_out / "curated")
    rng = random.Random(0)
    exact = [dict(kept_a[d["id"]], id=f"exact-{d['id']}") for d in gsm[:400:20] if d["id"] in kept_a]
    near = [
        {"id": f"near-{d['id']}", "text": near_copy(kept_a[d["id"]]["text"], rng)}
        for d in wiki[:30:2]
        if d["id"] in kept_a
    ]
    new = [dict(d, id=f"new-{d['id']}") for d in gsm[1000:1300]]
    own_pair = [dict(new[0], id="own-copy-of-new-0")]  # B's own exact duplicate, not A's
    planted = {d["id"] for d in exact + near}
    b_sources = {
        "gsm_b": write_source(
            root / "b" / "gsm_b.jsonl", [{"id": d["id"], "text": d["text"]} for d in exact + new + own_pair]
        ),
        "wiki_b": write_source(root / "b" / "wiki_b.jsonl", near),
    }
    before = folder_hash(a_out)
    b_out = root / "B_out"
    result = curate(against_config(b_sources, against=str(a_out)), b_out)
    return {
        "a_out": a_out,
        "b_out": b_out,
        "b_sources": b_sources,
        "result": result,
        "before": before,
        "after": folder_hash(a_out),
        "planted": planted,
        "exact": exact,
        "near": near,
        "new": new,
    }


def test_a_saved_a_versioned_index_of_its_kept_documents(runs):
    manifest = json.loads((runs["a_out"] / "dedup_index" / "manifest.json").read_text())
    assert manifest["format"] == "midtrain.dedup_index" and manifest["version"] == 1
    settings = manifest["settings"]
    assert (
        settings["n_grams"],
        settings["num_buckets"],
        settings["hashes_per_bucket"],
        settings["seed"],
    ) == (5, 14, 8, 1)
    assert settings["hash_precision"] == 64 and settings["word_tokenizer"] == "fast"
    kept = len(records(runs["a_out"] / "curated")) + len(records(runs["a_out"] / "heldout"))
    assert manifest["num_docs"] == kept
    bands = sorted((runs["a_out"] / "dedup_index" / "minhash").iterdir())
    assert [b.name for b in bands] == [f"bucket_{i:03d}" for i in range(14)]
    # datatrove's index records: 8 uint64 per signature, no document id
    assert all((b / f"{manifest['work_hash']}.minhash.index").stat().st_size % 64 == 0 for b in bands)


def test_duplicates_of_a_are_dropped_as_dedup_against_and_nothing_else(runs):
    assert len(runs["exact"]) >= 15 and len(runs["near"]) >= 10
    removed = records(runs["b_out"] / "removed")
    against = {i for i, r in removed.items() if r["metadata"]["filter_reason"] == "dedup_against"}
    assert against == runs["planted"]
    dedup_reasons = runs["result"].funnel["steps"]
    step = next(s for s in dedup_reasons if s["step"] == "dedup")
    assert step["reasons"]["dedup_against"] == len(runs["planted"])


def test_b_keeps_its_new_documents_and_dedups_its_own_pair(runs):
    kept = records(runs["b_out"] / "curated")
    removed = records(runs["b_out"] / "removed")
    new_ids = {d["id"] for d in runs["new"]}
    assert not runs["planted"] & set(kept)
    lost = {i: removed[i]["metadata"]["filter_reason"] for i in new_ids if i not in kept}
    assert all(reason != "dedup_against" for reason in lost.values())
    assert len(lost) <= 0.02 * len(new_ids), lost  # only the usual filters (clean GSM8K: <= 2 %)
    pair = {runs["new"][0]["id"], "own-copy-of-new-0"}
    assert len(pair & set(kept)) == 1
    (dropped,) = pair - set(kept)
    assert removed[dropped]["metadata"]["filter_reason"] == "exact_duplicate"


def test_a_output_is_byte_identical_after_b(runs):
    assert runs["before"] == runs["after"]


def test_incompatible_index_is_refused_naming_both_configs(runs, tmp_path):
    config = against_config(runs["b_sources"], against=str(runs["a_out"]), n_grams=3, seed=7)
    with pytest.raises(ValueError) as error:
        run_curation(config, tmp_path / "out")
    message = str(error.value)
    assert "\n" not in message
    assert "n_grams=5, seed=1" in message and "n_grams=3, seed=7" in message and str(runs["a_out"]) in message


def test_missing_or_incomplete_index_is_one_line_naming_the_path(runs, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dedup\.against: .*nowhere: no such folder"):
        run_curation(against_config(runs["b_sources"], against=str(tmp_path / "nowhere")), tmp_path / "o1")
    partial = tmp_path / "partial"
    (partial / "dedup_index").mkdir(parents=True)
    manifest = json.loads((runs["a_out"] / "dedup_index" / "manifest.json").read_text())
    (partial / "dedup_index" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        FileNotFoundError, match=r"dedup_index is incomplete .*bucket_000.*run it again to completion"
    ):
        run_curation(against_config(runs["b_sources"], against=str(partial)), tmp_path / "o2")
