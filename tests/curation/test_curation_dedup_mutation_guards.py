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
