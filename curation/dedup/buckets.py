"""``FastMinhashBuckets``: datatrove's MinHash stage 2, the same ``.dups`` files, from numpy merges.

datatrove's ``MinhashDedupBuckets`` merges a band's sorted signature files with a heap of Python
``HashSig`` dataclasses: one object, one tuple comparison and one ``struct.pack`` per record,
6 % of a standard run's CPU on the 8 MB real-text corpus (1.11 of 19.4 s; 0.34 s here). The
duplicate pairs it writes follow from the sorted order alone, so here the files are merged one
range of the first hash at a time (``sorted_runs.iter_ranges``: bounded memory, whatever the
band's size), each range sorted in numpy in datatrove's heap order, and the pairs taken with
array comparisons.

datatrove's rule, in the order records leave its heap (``sig``, then ``file_id``, then
``doc_id``; an index record has ``file_id`` -1, so it comes before the new documents with the
same signature): each new document whose signature equals the previous record's is written as a
pair with that record, ``(file, doc, file, doc)``, or ``(SENTINEL, SENTINEL, file, doc)`` when
the previous record came from an index (a match with an old corpus). Index records write
nothing. Stats ``total_matches`` and ``index_match`` have datatrove's totals (one update a band,
not one a pair).

Anything this path does not cover (several workers per band, an index being written with
``create_index_name``, ``only_dedup_in_index``, files not on a local disk) runs datatrove's own
``run``. ``tests/curation/test_curation_buckets_fast.py`` compares the output bytes and stats
with datatrove's on generated bands, with and without index files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datatrove.pipeline.dedup.minhash import SENTINEL, MinhashDedupBuckets

from curation.dedup.signature import _index_record_dtype, _record_dtype
from curation.dedup.sorted_runs import iter_ranges

PAIR_DTYPE = np.dtype("<u4")  # a pair is four of them: file, doc, file, doc


def _local_root(folder) -> Path | None:
    """The folder's path on the local disk, or None when it lives elsewhere (s3://, hf://)."""
    protocol = getattr(folder.fs, "protocol", None)
    protocols = protocol if isinstance(protocol, tuple | list) else (protocol,)
    return Path(folder.path) if "file" in protocols or "local" in protocols else None


class FastMinhashBuckets(MinhashDedupBuckets):
    """``MinhashDedupBuckets`` with the same options and output, merged in numpy."""

    # records of a band per range: the sort holds ~12 columns of 8 bytes per record, so ~50 MB at 2^16
    chunk_records = 1 << 16

    def _fast_path(self, world_size: int) -> bool:
        return (
            world_size == self.config.num_buckets
            and self.create_index_name is None
            and (not self.index_folder or not self.only_dedup_in_index)
            and _local_root(self.input_folder) is not None
            and (not self.index_folder or _local_root(self.index_folder) is not None)
        )

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if not self._fast_path(world_size):
            return super().run(data, rank, world_size)
        assert data is None, "You should not use an input block before MinhashDedupBuckets"
        with self.track_time():
            self._run_band(rank)

    def _run_band(self, bucket: int) -> None:
        sig_dtype, index_dtype = _record_dtype(self.config), _index_record_dtype(self.config)
        sig_files = self.input_folder.list_files(subdirectory=f"bucket_{bucket:03d}")
        index_files = (
            self.index_folder.list_files(subdirectory=f"bucket_{bucket:03d}") if self.index_folder else []
        )
        sig_root = _local_root(self.input_folder)
        paths = [sig_root / f for f in sig_files]
        # datatrove's file_stem: the number in the file name, written into every pair
        stems = np.array([int(Path(f).name.removesuffix(".minhash.sig")) for f in sig_files], np.int64)
        if index_files:
            index_root = _local_root(self.index_folder)
            paths += [index_root / f for f in index_files]
        dtypes = [sig_dtype] * len(sig_files) + [index_dtype] * len(index_files)
        keep = [i for i, p in enumerate(paths) if p.stat().st_size]
        matches = index_matches = 0
        with self.output_folder.open(f"{bucket:05d}_00.dups", mode="wb") as out:
            if keep:
                for parts in iter_ranges(
                    [paths[i] for i in keep], [dtypes[i] for i in keep], self.chunk_records
                ):
                    pairs, n_index = self._pairs(parts, keep, len(sig_files), stems)
                    if pairs.size:
                        out.write(pairs.tobytes())
                    matches += pairs.shape[0]
                    index_matches += n_index
        if matches:
            self.stat_update("total_matches", value=matches)
        if index_matches:
            self.stat_update("index_match", value=index_matches)

    def _pairs(
        self, parts: list[np.ndarray], file_ids: list[int], n_sig_files: int, stems: np.ndarray
    ) -> tuple[np.ndarray, int]:
        """The ``(n, 4)`` uint32 pairs of one range, in datatrove's order, and how many are index matches."""
        k = self.config.hashes_per_bucket
        n = sum(p.size for p in parts)
        if n < 2:
            return np.empty((0, 4), PAIR_DTYPE), 0
        columns = [np.concatenate([p[f"h{i}"] for p in parts]) for i in range(k)]
        # heap order after the signature: file_id (-1 for an index record), then doc_id (-1 too)
        from_sigs = [f < n_sig_files for f in file_ids]
        file_id = np.repeat(np.where(from_sigs, file_ids, -1), [p.size for p in parts])
        doc = np.concatenate(
            [p["doc"] if sig else np.full(p.size, -1) for p, sig in zip(parts, from_sigs, strict=True)]
        ).astype(np.int64)
        order = np.lexsort([doc, file_id, *reversed(columns)])  # last key is the primary one
        same = np.ones(n - 1, bool)
        for col in columns:
            sorted_col = col[order]
            same &= sorted_col[1:] == sorted_col[:-1]
        file_sorted, doc_sorted = file_id[order], doc[order]
        hit = np.flatnonzero(same & (file_sorted[1:] >= 0)) + 1  # new documents equal to the record before
        prev_file, prev_doc = file_sorted[hit - 1], doc_sorted[hit - 1]
        from_index = prev_file < 0
        pairs = np.empty((hit.size, 4), PAIR_DTYPE)
        pairs[:, 0] = np.where(from_index, SENTINEL, stems[np.maximum(prev_file, 0)])
        pairs[:, 1] = np.where(from_index, SENTINEL, prev_doc)
        pairs[:, 2] = stems[file_sorted[hit]]
        pairs[:, 3] = doc_sorted[hit]
        return pairs, int(from_index.sum())
