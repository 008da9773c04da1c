"""The dedup index a curation run leaves in its output, and ``dedup.against`` that reads it.

Every run with dedup on writes ``DIR/dedup_index/`` (format ``midtrain.dedup_index``, version 1):

    manifest.json   written last by task 0: format, version, the run's work hash, the dedup
                    configuration (below), what was indexed and how many documents, and
                    ``against``: the corpora this run was deduplicated against (not in this index)
    exact.npy       sorted unique uint64: ``exact_hash`` (xxh64 of the casefolded text with
                    whitespace runs joined) of every document the run kept (curated + held out)
    minhash/bucket_XXX/<work hash>.minhash.index
                    datatrove's index format (what ``MinhashBuildIndex`` and
                    ``MinhashDedupBuckets(create_index_name=...)`` write, what
                    ``MinhashDedupBuckets(index_folder=...)`` reads): per LSH band, the sorted
                    unique tuples of ``hashes_per_bucket`` little-endian uint64 (uint32 at
                    precision 32) MinHash values, no document ids

Only the *kept* documents are indexed: a document the old run dropped (duplicate, quality cut) is
not part of its corpus, so a new document like it is not a duplicate of that corpus. That is why
the index is built here from the signatures and the cluster decisions, not by datatrove's
``MinhashBuildIndex`` (which indexes every signature of the folder); the files are its format.

A run with ``dedup.against: OLD`` passes ``OLD/dedup_index/minhash`` to datatrove's
``MinhashDedupBuckets`` as ``index_folder`` (``only_dedup_in_index=False``: pairs within the new
run are still found); matches come out as ``(SENTINEL, SENTINEL, rank, doc)`` pairs, and
``PriorityCluster`` joins them, and the new documents whose exact hash is in ``exact.npy``, to
one "old corpus" node: every new document in that node's cluster is dropped (reason
``dedup_against``). Nothing under ``OLD`` is written.

``dedup.against: [A, B]`` lists several: an index holds only what its run kept, so after A, then
B against A, a run C must list both. datatrove reads every index file under each ``bucket_XXX/``
of its one ``index_folder``, so the bands of all of them are joined by a tree of links in the work
folder (``against.py``); the exact hashes are the union of their ``exact.npy``; all of them
are the one old-corpus node. The manifest's ``against`` records the corpora a run was
deduplicated against.

MinHash values are only comparable when every setting that shapes them is equal: ``n_grams``,
``num_buckets``, ``hashes_per_bucket``, ``seed``, hash function and precision, text
normalisation, word tokenizer and language; ``check_against`` (``against.py``) refuses any difference, naming
both sides.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curation.dedup.sorted_runs import CHUNK_RECORDS, iter_ranges, sorted_unique
from curation.link_tree import link_file, link_tree

FORMAT = "midtrain.dedup_index"
VERSION = 1
INDEX_DIR = "dedup_index"
EXACT_HASH = "xxh64(casefold, whitespace runs -> one space)"  # curation.dedup.signature.exact_hash


def index_settings(config) -> dict:
    """The settings an index depends on, from a ``CurationConfig`` (what the manifest records)."""
    dd = config.dedup
    settings = {"exact_hash": EXACT_HASH, "minhash": dd.minhash}
    if dd.minhash:
        from datatrove.pipeline.dedup.minhash import MinhashConfig

        defaults = MinhashConfig()  # the hash and normalisation the pipeline uses (datatrove's defaults)
        settings.update(
            n_grams=dd.n_grams,
            num_buckets=dd.num_buckets,
            hashes_per_bucket=dd.hashes_per_bucket,
            seed=dd.seed,
            hash_fc=defaults.hash_config.hash_fc,
            hash_precision=defaults.hash_config.precision,
            text_norm=dataclasses.asdict(defaults.norm_config),
            word_tokenizer=config.word_tokenizer,
            language=config.language,
        )
    return settings


class DedupIndexWriter(PipelineStep):
    """Write this run's ``dedup_index/`` (see the module docstring); one task per MinHash band.

    Task ``b`` indexes band ``b``; task 0 also writes ``exact.npy`` and, last, the manifest. Each
    task builds its files under the work folder and then links them into ``DIR/dedup_index``.
    """

    name = "🎯 Dedup index"
    type = "🫂 - DEDUP"
    # signatures of one band merged a range at a time: the merge holds a few copies of a range
    # (read, kept, packed, joined, sorted); at 8 x 64-bit hashes the band step peaks ~100 MB over
    # its start for 1M-8M records a band (bench/bench_curation_index_band.py; 0.3 GB per million
    # records when one range held it all)
    chunk_records = CHUNK_RECORDS

    def __init__(
        self,
        dedup_dir: str,
        out_dir: str,
        *,
        minhash,
        settings: dict,
        work_hash: str,
        world_size_stage1: int,
        against: list[str] | None = None,
    ):
        super().__init__()
        self.against = list(against or [])  # the corpora this run was deduplicated against
        self.dedup_dir = dedup_dir
        self.out_dir = out_dir
        self.minhash_config = minhash
        self.settings = settings
        self.work_hash = work_hash
        self.num_ranks = world_size_stage1

    def _kept(self) -> list[np.ndarray]:
        """Per filter-stage task, which rows the run kept (the cluster stage's decisions)."""
        clusters = Path(self.dedup_dir) / "clusters"
        return [~np.load(clusters / f"{r:05d}.npz")["removed"] for r in range(self.num_ranks)]

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        out = Path(self.out_dir) / INDEX_DIR
        work = Path(self.dedup_dir) / "index"
        with self.track_time():
            kept = self._kept()
            if rank == 0:
                (out / "manifest.json").unlink(missing_ok=True)  # present again only when task 0 is done
            cfg = self.minhash_config
            if cfg is not None:
                self._write_band(rank, kept, work / "minhash" / f"bucket_{rank:03d}")
                link_tree(work / "minhash" / f"bucket_{rank:03d}", out / "minhash" / f"bucket_{rank:03d}")
            if rank != 0:
                return
            if cfg is None:
                shutil.rmtree(out / "minhash", ignore_errors=True)
            else:  # bands of an earlier run with more buckets
                for stale in (out / "minhash").glob("bucket_*"):
                    if int(stale.name.removeprefix("bucket_")) >= cfg.num_buckets:
                        shutil.rmtree(stale)
            exact = np.unique(
                np.concatenate(
                    [np.empty(0, "<u8")]
                    + [
                        _kept_exact_hashes(
                            Path(self.dedup_dir) / "docs" / f"{r:05d}.npy", kept[r], self.chunk_records
                        )
                        for r in range(self.num_ranks)
                    ]
                )
            )
            work.mkdir(parents=True, exist_ok=True)
            np.save(work / "exact.npy", exact.astype("<u8"))
            out.mkdir(parents=True, exist_ok=True)
            link_file(work / "exact.npy", out / "exact.npy")
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "work_hash": self.work_hash,
                "settings": self.settings,
                "num_docs": int(sum(int(k.sum()) for k in kept)),
                "num_exact_hashes": int(exact.size),
                "minhash_index": "minhash" if cfg is not None else None,
                "exact_index": "exact.npy",
                "against": self.against,  # what this index does not hold: list them too in a later run
            }
            tmp = out / "manifest.json.tmp"
            tmp.write_text(json.dumps(manifest, indent=2))
            os.replace(tmp, out / "manifest.json")
            self.stat_update("indexed_docs", value=manifest["num_docs"])

    def _write_band(self, band: int, kept: list[np.ndarray], folder: Path) -> None:
        """The band's kept signatures, sorted and unique, in bounded memory.

        Each task's signature file is already sorted (``DedupSignature``), so they are merged one
        range of the first hash at a time (``sorted_runs.iter_ranges``): each range read from
        every file, filtered to the kept documents, packed, joined and made unique.
        """
        from curation.dedup.signature import _index_record_dtype, _record_dtype

        cfg = self.minhash_config
        dtype, packed = _record_dtype(cfg), _index_record_dtype(cfg)
        tasks, paths = [], []
        for r in range(self.num_ranks):
            path = Path(self.dedup_dir) / "sigs" / f"bucket_{band:03d}" / f"{r:05d}.minhash.sig"
            if path.is_file() and path.stat().st_size:
                tasks.append(r)
                paths.append(path)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        written = 0
        with open(folder / f"{self.work_hash}.minhash.index", "wb") as f:
            for chunks in iter_ranges(paths, dtype, self.chunk_records):
                parts = [np.empty(0, packed)]
                for r, chunk in zip(tasks, chunks, strict=True):
                    chunk = chunk[kept[r][chunk["doc"]]]
                    part = np.empty(chunk.size, packed)
                    for name in packed.names:
                        part[name] = chunk[name]
                    parts.append(part)
                del chunks
                # structured arrays sort field by field: the tuple order datatrove's readers check
                unique = sorted_unique(parts)
                del parts
                unique.tofile(f)
                written += unique.size
        self.stat_update(f"band_{band:03d}_signatures", value=written)


def _kept_exact_hashes(rows_path: Path, kept: np.ndarray, chunk: int) -> np.ndarray:
    """The exact hashes of one task's kept documents, read from its ``docs/<rank>.npy`` rows a
    block at a time: the whole rows (39 bytes a document) are never loaded, only the 8-byte
    hashes the index keeps."""
    with open(rows_path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(f)
        parts = [np.empty(0, "<u8")]
        for start in range(0, shape[0], chunk):
            rows = np.fromfile(f, dtype=dtype, count=min(chunk, shape[0] - start))
            parts.append(rows["exact"][kept[start : start + rows.size]])
    return np.concatenate(parts)
