"""The pieces of ``dedup.against`` without a curation run: the band index and the old-corpus node."""

import io

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, read_sigs

from curation.dedup import index as dedup_index
from curation.dedup.components import Components
from curation.dedup.index import DedupIndexWriter
from curation.dedup.signature import _record_dtype

SENTINEL = (1 << 32) - 1


def _sig_file(path, rng, n, cfg):
    records = np.zeros(n, _record_dtype(cfg))
    for i in range(cfg.hashes_per_bucket):
        records[f"h{i}"] = rng.integers(0, 50, n) if i == 0 else rng.integers(0, 3, n)  # many repeats
    records["doc"] = np.arange(n)
    records.sort(order=records.dtype.names)
    path.parent.mkdir(parents=True, exist_ok=True)
    records.tofile(path)
    return records


def _cluster_step(tmp_path, against):
    """A one-source, exact-dedup cluster stage deduplicating against ``against``."""
    from curation.dedup.cluster import PriorityCluster

    return PriorityCluster(
        str(tmp_path / "work"),
        ["new"],
        exact=True,
        heldout_fraction=None,
        heldout_max_docs=None,
        world_size_stage1=1,
        against=against,
    )


def test_band_index_holds_the_kept_signatures_sorted_unique_in_datatroves_format(tmp_path):
    cfg = MinhashConfig(num_buckets=1, hashes_per_bucket=3)
    rng = np.random.default_rng(0)
    sigs = [
        _sig_file(tmp_path / "sigs" / "bucket_000" / f"{r:05d}.minhash.sig", rng, 60, cfg) for r in range(2)
    ]
    kept = [rng.random(60) < 0.7 for _ in range(2)]
    step = DedupIndexWriter(
        str(tmp_path), str(tmp_path / "out"), minhash=cfg, settings={}, work_hash="abc", world_size_stage1=2
    )
    step.chunk_records = 7  # many hash ranges: the merge across them
    step._write_band(0, kept, tmp_path / "band")
    expected = sorted(
        {
            tuple(int(rec[f"h{i}"]) for i in range(3))
            for s, k in zip(sigs, kept, strict=True)
            for rec in s
            if k[rec["doc"]]
        }
    )
    raw = (tmp_path / "band" / "abc.minhash.index").read_bytes()
    got = [h.sig for h in read_sigs(_Named(raw, "abc.minhash.index"), 0, cfg, index_file=True)]
    assert got == expected  # read back by datatrove's own reader, which checks the order


class _Named(io.BytesIO):
    """An in-memory file with the ``size``/``path`` that datatrove's ``read_sigs`` asks for."""

    def __init__(self, data: bytes, path: str):
        super().__init__(data)
        self.size, self.path = len(data), path


def test_index_matches_join_the_old_corpus_node_and_are_skipped_without_it(tmp_path):
    pairs = np.array([[SENTINEL, SENTINEL, 0, 1], [0, 1, 1, 0], [0, 2, 0, 3]], "<u4")
    pairs.tofile(tmp_path / "00000_00.dups")
    offsets = np.array([0, 4, 6])
    with_old = Components(7)  # 6 documents and the old corpus (node 6)
    with_old.union_dups_file(tmp_path / "00000_00.dups", offsets, index_node=6)
    _, labels = with_old.labels()
    assert labels[1] == labels[4] == labels[6]  # doc 1 matched the index, doc 4 (rank 1, row 0) matched doc 1
    assert labels[2] == labels[3] != labels[6]
    alone = Components(6)
    alone.union_dups_file(tmp_path / "00000_00.dups", offsets)
    _, labels = alone.labels()
    assert labels[1] == labels[4] and len(set(labels.tolist())) == 4


def test_exact_hashes_of_the_old_corpus_join_its_node_including_past_the_largest(tmp_path):
    """A new document whose text hash is in the old corpus's ``exact.npy`` joins the old-corpus node;
    hashes below, between and above every old hash (past the end of the sorted array) do not."""

    folder = tmp_path / "old" / dedup_index.INDEX_DIR
    folder.mkdir(parents=True)
    np.save(folder / "exact.npy", np.array([10, 20, 30], dtype=np.uint64))
    step = _cluster_step(tmp_path, against=str(tmp_path / "old"))
    exact = np.array([5, 20, 25, 30, 99], dtype=np.uint64)  # docs 0-4; node 5 is the old corpus
    graph = Components(6)
    assert step._union_old_exact(graph, exact, old_node=5) == 2
    _, labels = graph.labels()
    assert labels[1] == labels[3] == labels[5]
    assert len({labels[0], labels[2], labels[4], labels[5]}) == 4


def test_exact_hashes_of_several_old_corpora_are_their_union_each_document_once(tmp_path):
    """``dedup.against: [A, B]``: a hash in A, in B, or in both joins the one old-corpus node once."""

    roots = []
    for name, hashes in (("a", [10, 20]), ("b", [20, 30])):
        folder = tmp_path / name / dedup_index.INDEX_DIR
        folder.mkdir(parents=True)
        np.save(folder / "exact.npy", np.array(hashes, dtype=np.uint64))
        roots.append(str(tmp_path / name))
    step = _cluster_step(tmp_path, against=roots)
    exact = np.array([10, 20, 30, 40], dtype=np.uint64)  # only A, both, only B, neither; node 4: old
    graph = Components(5)
    assert step._union_old_exact(graph, exact, old_node=4) == 3
    _, labels = graph.labels()
    assert labels[0] == labels[1] == labels[2] == labels[4] != labels[3]


def _band_index(root, work_hash, sigs, cfg):
    """A finished run's band files (``bucket_XXX/<hash>.minhash.index``) holding ``sigs`` in every band."""
    for b in range(cfg.num_buckets):
        folder = root / dedup_index.INDEX_DIR / "minhash" / f"bucket_{b:03d}"
        folder.mkdir(parents=True)
        np.array(sorted(sigs), "<u8").tofile(folder / f"{work_hash}.minhash.index")
    return {"root": str(root), "work_hash": work_hash}


def test_datatrove_buckets_match_the_bands_of_every_listed_corpus_through_the_joined_folder(tmp_path):
    """``against_bands`` joins A's and B's band files (the same work hash, as two runs of one config
    have) into the one ``index_folder`` datatrove reads: a new signature in A and one in B both come
    out as index matches; a new one in neither does not; A's and B's files are left as they were."""
    from datatrove.pipeline.dedup.minhash import SENTINEL as DT_SENTINEL
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets

    from curation.dedup.against import against_bands

    cfg = MinhashConfig(num_buckets=2, hashes_per_bucket=2)
    a = _band_index(tmp_path / "a", "same", [(1, 1), (5, 5)], cfg)
    b = _band_index(tmp_path / "b", "same", [(3, 3)], cfg)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.minhash.index")}
    records = np.zeros(3, _record_dtype(cfg))  # this run's docs 0, 1, 2: in A, in B, new
    records["h0"], records["h1"], records["doc"] = [1, 3, 4], [1, 3, 4], [0, 1, 2]
    for bucket in range(cfg.num_buckets):
        path = tmp_path / "sigs" / f"bucket_{bucket:03d}" / "00000.minhash.sig"
        path.parent.mkdir(parents=True)
        records.tofile(path)
    folder = against_bands([a, b], tmp_path / "work", cfg.num_buckets)
    step = MinhashDedupBuckets(
        str(tmp_path / "sigs"), str(tmp_path / "buckets"), config=cfg, index_folder=folder
    )
    for rank in range(cfg.num_buckets):
        step.run(rank=rank, world_size=cfg.num_buckets)
    for bucket in range(cfg.num_buckets):
        pairs = np.fromfile(tmp_path / "buckets" / f"{bucket:05d}_00.dups", "<u4").reshape(-1, 4)
        assert sorted(map(tuple, pairs.tolist())) == [
            (DT_SENTINEL,) * 2 + (0, 0),
            (DT_SENTINEL,) * 2 + (0, 1),
        ]
    assert {p: p.read_bytes() for p in before} == before
    one = against_bands([a], tmp_path / "work1", cfg.num_buckets)  # one corpus: read in place
    assert one == str(tmp_path / "a" / dedup_index.INDEX_DIR / "minhash")


def test_exact_hashes_of_kept_rows_are_read_block_by_block_and_all_found(tmp_path):
    from curation.dedup.signature import DOC_DTYPE

    rng = np.random.default_rng(3)
    rows = np.zeros(1000, DOC_DTYPE)
    rows["exact"] = rng.integers(0, 2**63, 1000, dtype=np.uint64)
    np.save(tmp_path / "00000.npy", rows)
    kept = rng.random(1000) < 0.6
    got = dedup_index._kept_exact_hashes(tmp_path / "00000.npy", kept, chunk=64)  # 16 blocks, the last short
    assert np.array_equal(got, rows["exact"][kept])
