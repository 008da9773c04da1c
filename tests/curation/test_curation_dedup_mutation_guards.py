"""Dedup guards that mutation testing (scripts/mutation.sh dedup) showed missing: DedupFilter read
on its own (reasons, metadata, examples, order checks) and the ``.dups`` reader."""

import json
import struct

import numpy as np
import pytest
from datatrove.data import Document

from curation.dedup.cluster import read_dups
from curation.dedup.filter import DedupFilter


def _clusters(tmp_path, rows):
    """rows: (removed, cluster, cluster_size, kind, heldout) per document, in stage order."""
    out = tmp_path / "clusters"
    out.mkdir(exist_ok=True)
    removed, cluster, size, kind, heldout = (np.array(c) for c in zip(*rows, strict=True))
    np.savez(
        out / "00000.npz",
        removed=removed.astype(bool),
        cluster=cluster.astype(np.int64),
        cluster_size=size.astype(np.int64),
        kind=kind.astype(np.int8),
        heldout=heldout.astype(bool),
    )
    return str(out)


def _docs(k):
    return [
        Document(text=f"document number {i} " * 3, id=f"d{i}", metadata={"source": "web"}) for i in range(k)
    ]


def test_dedup_filter_drops_non_keepers_with_their_reason_and_tags_survivors(tmp_path):
    rows = [
        (False, 0, 3, 2, False),  # keeper of near cluster 0
        (True, 0, 3, 2, False),  # near duplicate
        (True, 1, 2, 1, False),  # exact duplicate
        (False, 1, 2, 1, True),  # keeper of exact cluster 1, picked for held-out
        (True, -1, 1, 3, False),  # cut by top_percentile
        (False, -1, 1, 0, False),  # singleton
    ]
    step = DedupFilter(_clusters(tmp_path, rows), str(tmp_path / "examples"), max_examples=1)
    kept = list(step.run(iter(_docs(6))))
    assert [d.id for d in kept] == ["d0", "d3", "d5"]
    assert [d.metadata["dedup_cluster_size"] for d in kept] == [3, 2, 1]
    assert [d.metadata.get("heldout", False) for d in kept] == [False, True, False]
    counts = {k: v.total for k, v in step.stats.stats.items()}
    assert counts["dropped_near_duplicate"] == 1 and counts["dropped_exact_duplicate"] == 1
    assert counts["dropped_below_top_percentile"] == 1 and counts["dropped/web"] == 3
    examples = [json.loads(x) for x in (tmp_path / "examples" / "00000.jsonl").read_text().splitlines()]
    # only clusters below max_examples (cluster 0), never the singletons (cluster -1)
    assert [(e["doc_id"], e["cluster"], e["kind"], e["size"], e["kept"]) for e in examples] == [
        ("d0", 0, "near", 3, True),
        ("d1", 0, "near", 3, False),
    ]
    assert examples[0]["source"] == "web" and examples[0]["excerpt"] == _docs(1)[0].text[:300]


def test_dedup_filter_refuses_a_shard_that_does_not_match_its_signatures(tmp_path):
    rows = [(False, -1, 1, 0, False)] * 2
    step = DedupFilter(_clusters(tmp_path, rows), str(tmp_path / "examples"))
    with pytest.raises(AssertionError, match="more documents than signatures: shard/order mismatch"):
        list(step.run(iter(_docs(3))))
    step = DedupFilter(_clusters(tmp_path, rows), str(tmp_path / "examples"))
    with pytest.raises(AssertionError, match="rank 0: 1 documents but 2 signatures"):
        list(step.run(iter(_docs(1))))


def test_read_dups_reads_every_pair(tmp_path):
    pairs = [(0, 5, 1, 7), (2, 3, 0, 9), (1, 1, 1, 2)]
    path = tmp_path / "00000.dups"
    path.write_bytes(b"".join(struct.pack("<4I", *p) for p in pairs))
    assert read_dups(path) == pairs


def test_priority_cluster_numbers_clusters_by_keeper_and_writes_the_summary(tmp_path):
    from curation.dedup.cluster import PriorityCluster
    from curation.dedup.signature import DOC_DTYPE

    # (priority, exact text hash, cleanliness): two exact clusters and a singleton
    rows = [(1, 111, 5), (0, 111, 5), (0, 222, 5), (1, 333, 4), (1, 333, 9)]
    docs = np.zeros(len(rows), DOC_DTYPE)
    for i, (prio, exact, clean) in enumerate(rows):
        docs[i] = (prio, 0, exact, 1000 + i, np.nan, clean, 10, np.nan, 0)
    (tmp_path / "docs").mkdir()
    np.save(tmp_path / "docs" / "00000.npy", docs)
    step = PriorityCluster(
        str(tmp_path),
        ["trusted", "scraped"],
        exact=True,
        heldout_fraction=None,
        heldout_max_docs=None,
        world_size_stage1=1,
    )
    list(step.run())
    out = np.load(tmp_path / "clusters" / "00000.npz")
    # keepers: doc 1 (trusted source) and doc 4 (cleaner copy); ids follow keeper position; singletons -1
    assert out["removed"].tolist() == [True, False, False, True, False]
    assert out["cluster"].tolist() == [0, 0, -1, 1, 1]
    assert out["cluster_size"].tolist() == [2, 2, 1, 2, 2]
    assert out["kind"].tolist() == [1, 1, 0, 1, 1]
    assert out["heldout"].tolist() == [False] * 5
    summary = json.loads((tmp_path / "clusters" / "summary.json").read_text())
    assert summary == {
        "num_docs": 5,
        "num_removed": 2,
        "num_clusters": 2,
        "largest_cluster": 2,
        "by_source": {
            "trusted": {
                "docs": 2,
                "removed_exact": 0,
                "removed_near": 0,
                "removed_low_quality": 0,
                "heldout": 0,
            },
            "scraped": {
                "docs": 3,
                "removed_exact": 2,
                "removed_near": 0,
                "removed_low_quality": 0,
                "heldout": 0,
            },
        },
    }
    counts = {k: v.total for k, v in step.stats.stats.items()}
    assert counts["clusters"] == 2 and counts["removed"] == 2 and counts["exact_pairs"] >= 2


# --- fresh sample, seed 1202 ----------------------------------------------------------------------


def _cluster_run(tmp_path, rows, sources, against=None):
    """PriorityCluster over hand-made DOC_DTYPE rows (dicts of fields); returns (npz, summary, stats)."""
    from curation.dedup.cluster import PriorityCluster
    from curation.dedup.signature import DOC_DTYPE

    docs = np.zeros(len(rows), DOC_DTYPE)
    docs["top_percentile"] = np.nan
    docs["num_words"] = 10
    for i, row in enumerate(rows):
        docs[i]["exact"] = 1000 + i  # distinct texts unless the row says otherwise
        for key, value in row.items():
            docs[i][key] = value
    (tmp_path / "docs").mkdir(parents=True)
    np.save(tmp_path / "docs" / "00000.npy", docs)
    step = PriorityCluster(
        str(tmp_path),
        sources,
        exact=True,
        heldout_fraction=None,
        heldout_max_docs=None,
        world_size_stage1=1,
        against=against,
    )
    list(step.run())
    summary = json.loads((tmp_path / "clusters" / "summary.json").read_text())
    counts = {k: v.total for k, v in step.stats.stats.items()}
    return np.load(tmp_path / "clusters" / "00000.npz"), summary, counts


def test_top_percentile_cut_is_per_source_and_domain_keeps_ties_and_spares_the_rest(tmp_path):
    rows = [
        # source 0, domain 1, top 60 %: ceil(5 * 0.6) = 3 best kept; the two at the threshold 0.5 tie
        *({"domain_key": 1, "quality": q, "top_percentile": 60} for q in (0.9, 0.5, 0.7, 0.5, 0.1)),
        # source 0, domain 2, top 50 % of two: the better one only
        *({"domain_key": 2, "quality": q, "top_percentile": 50} for q in (0.3, 0.8)),
        # source 1 (no cut configured): a low score stays
        {"priority": 1, "domain_key": 1, "quality": 0.05},
    ]
    out, summary, _ = _cluster_run(tmp_path, rows, ["web", "books"])
    cut = [False, False, False, False, True, True, False, False]
    assert out["removed"].tolist() == cut
    assert out["kind"].tolist() == [3 if c else 0 for c in cut]  # KIND_LOW_QUALITY
    assert summary["by_source"]["web"]["removed_low_quality"] == 2
    assert summary["by_source"]["books"]["removed_low_quality"] == 0


def test_dedup_against_removes_copies_of_the_old_corpus_and_counts_them_per_source(tmp_path):
    from curation.dedup.index import INDEX_DIR

    old = tmp_path / "old" / INDEX_DIR
    old.mkdir(parents=True)
    np.save(old / "exact.npy", np.array([7, 9], dtype=np.uint64))  # text hashes of the old corpus
    rows = [
        {"priority": 0, "exact": 7},  # in the old corpus
        {"priority": 0},
        {"priority": 1, "exact": 9},  # in the old corpus
        {"priority": 1, "exact": 7},  # in the old corpus (and a copy of row 0)
        {"priority": 1},
    ]
    out, summary, counts = _cluster_run(
        tmp_path / "new", rows, ["trusted", "scraped"], against=str(tmp_path / "old")
    )
    assert out["removed"].tolist() == [True, False, True, True, False]
    assert out["kind"].tolist() == [4, 0, 4, 4, 0]  # KIND_AGAINST
    assert summary["against"] == str(tmp_path / "old") and summary["num_removed"] == 3
    assert summary["by_source"]["trusted"]["removed_against"] == 1
    assert summary["by_source"]["scraped"]["removed_against"] == 2
    assert counts["removed_against"] == 3 and counts["removed"] == 3


# --- fresh sample, seed 1203 ----------------------------------------------------------------------


def test_a_run_whose_filters_left_no_document_writes_an_empty_summary(tmp_path):
    out, summary, counts = _cluster_run(tmp_path, [], ["web"])
    assert out["removed"].size == 0
    assert summary == {
        "num_docs": 0,
        "num_removed": 0,
        "num_clusters": 0,
        "largest_cluster": 0,
        "by_source": {
            "web": {"docs": 0, "removed_exact": 0, "removed_near": 0, "removed_low_quality": 0, "heldout": 0}
        },
    }
    assert counts["removed"] == 0 and counts["clusters"] == 0


def test_cluster_examples_log_the_first_300_characters_of_a_long_document(tmp_path):
    rows = [(False, 0, 2, 1, False), (True, 0, 2, 1, False)]
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    docs = [Document(text=text, id=f"d{i}", metadata={"source": "web"}) for i in range(2)]
    list(DedupFilter(_clusters(tmp_path, rows), str(tmp_path / "examples")).run(iter(docs)))
    examples = [json.loads(x) for x in (tmp_path / "examples" / "00000.jsonl").read_text().splitlines()]
    assert [e["excerpt"] for e in examples] == [text[:300]] * 2
