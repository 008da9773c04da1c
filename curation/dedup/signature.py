"""``DedupSignature``: compute dedup signatures while documents flow on (pass-through step).

For each document reaching it, in order, it writes
- its MinHash signature in datatrove's format (``sigs/bucket_XXX/<rank>.minhash.sig``, sorted at
  the end of the task as ``MinhashDedupBuckets`` expects, in bounded memory:
  ``curation/dedup/sorted_runs.py``); documents with fewer than ``n_grams``
  words get none, which is why exact hashing exists;
- one row in ``docs/<rank>.npy``: ``(priority, has_sig, exact_hash, heldout_key, quality, clean,
  num_words)``; the row index is the document's position in this task's output shard, the id
  datatrove's dedup pairs use. ``quality`` is ``metadata['quality_score']`` (NaN when the run has
  no quality model); ``clean`` and ``num_words`` are :func:`cleanliness` (the keeper's tie rule);
  ``top_percentile`` is the document's scoped percentile cut (NaN: none; see
  ``curation/classifiers/cuts.py``) and ``domain_key`` a hash of its domain, the group in which
  ``PriorityCluster`` ranks quality scores.
The step yields every document unchanged, so the shard written right after it lines up with the
signatures.

Signatures come from :class:`curation.dedup.fast_minhash.FastMinhash` (datatrove's numbers, from
compiled kernels) and the cleanliness score from :func:`curation.dedup.cleanliness_fast.cleanliness_score`
(equal to ``cleanliness``); bucket records and document rows are buffered and written
``_FLUSH_DOCS`` documents at a time, so a task's memory does not grow with its document count
(a row held as a Python tuple costs ~220 bytes, 110 MB for a task of 500k documents).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import xxhash
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig

from curation.dedup.cleanliness_fast import cleanliness_score
from curation.dedup.fast_minhash import FastMinhash
from curation.dedup.sorted_runs import sort_file
from curation.stats.batched import BatchedStats

DOC_DTYPE = np.dtype(
    [
        ("priority", "<u2"),
        ("has_sig", "u1"),
        ("exact", "<u8"),
        ("heldout_key", "<u8"),
        ("quality", "<f4"),
        ("clean", "<i4"),
        ("num_words", "<i4"),
        ("top_percentile", "<f4"),
        ("domain_key", "<u4"),
    ]
)


_FLUSH_DOCS = 4096


def exact_hash(text: str) -> int:
    """64-bit hash of the text with case and whitespace runs normalised."""
    return xxhash.xxh64_intdigest(" ".join(text.casefold().split()))


def heldout_key(doc_id: str, seed: int) -> int:
    return xxhash.xxh64_intdigest(f"{seed}:{doc_id}")


class DedupSignature(BatchedStats, PipelineStep):
    name = "🎯 Dedup signatures"
    type = "🫂 - DEDUP"
    # bucket records sorted at a time at the end of a task (sorted_runs.sort_file): 4.5 MB a run at
    # 14 x 8 hashes; the merge holds ~3 copies of a range, so the end-of-task peak stays ~15 MB
    # whatever the task's size (bench/bench_curation_bucket_sort.py)
    sort_chunk_records = 1 << 16

    def __init__(
        self,
        output_dir: str,
        priority: dict[str, int],
        *,
        minhash: MinhashConfig | None,
        language,
        heldout_seed: int = 0,
        top_percentile_of=None,
    ):
        super().__init__()
        self.top_percentile_of = top_percentile_of  # (source, domain) -> percent | None
        self.output_dir = output_dir
        self.priority = priority
        self.minhash_config = minhash
        self.language = language
        self.heldout_seed = heldout_seed

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        out = Path(self.output_dir)
        (out / "docs").mkdir(parents=True, exist_ok=True)
        signer = buckets = None
        cfg = self.minhash_config
        if cfg is not None:
            signer = FastMinhash(cfg, self.language, str(out / "sigs"))
            for bi in range(cfg.num_buckets):
                (out / "sigs" / f"bucket_{bi:03d}").mkdir(parents=True, exist_ok=True)
            buckets = [
                open(out / "sigs" / f"bucket_{bi:03d}" / f"{rank:05d}.minhash.sig", "wb")  # noqa: SIM115 (closed in finally)
                for bi in range(cfg.num_buckets)
            ]
            record = _record_dtype(cfg)
            sigs, sig_docs = [], []
        rows = []
        docs_path = out / "docs" / f"{rank:05d}.npy"
        raw_rows = open(docs_path.with_suffix(".rows.tmp"), "wb")  # noqa: SIM115 (closed in finally)
        n_rows = 0

        def flush_rows() -> None:
            nonlocal n_rows
            if rows:
                np.array(rows, dtype=DOC_DTYPE).tofile(raw_rows)
                n_rows += len(rows)
                rows.clear()

        def flush() -> None:
            if not sigs:
                return
            block = np.stack(sigs).reshape(len(sigs), cfg.num_buckets, cfg.hashes_per_bucket)
            recs = np.empty(len(sigs), record)
            recs["doc"] = sig_docs
            for bi, f in enumerate(buckets):
                for hi in range(cfg.hashes_per_bucket):
                    recs[f"h{hi}"] = block[:, bi, hi]
                recs.tofile(f)
            sigs.clear()
            sig_docs.clear()

        try:
            for doc_idx, doc in enumerate(data):
                with self.track_time():
                    has_sig = 0
                    if signer is not None:
                        sig = signer.signature(doc.text)
                        if sig is not None:
                            has_sig = 1
                            sigs.append(sig)
                            sig_docs.append(doc_idx)
                            if len(sigs) >= _FLUSH_DOCS:
                                flush()
                        else:
                            self.stat_update("too_short_for_minhash")
                    quality = doc.metadata.get("quality_score")
                    source, domain = doc.metadata["source"], doc.metadata.get("domain")
                    pct = self.top_percentile_of(source, domain) if self.top_percentile_of else None
                    rows.append(
                        (
                            self.priority[source],
                            has_sig,
                            exact_hash(doc.text),
                            heldout_key(doc.id, self.heldout_seed),
                            np.nan if quality is None else float(quality),
                            *cleanliness_score(doc.text),
                            np.nan if pct is None else pct,
                            xxhash.xxh32_intdigest(str(domain)),
                        )
                    )
                    if len(rows) >= _FLUSH_DOCS:
                        flush_rows()
                self.stat_update("total")
                yield doc
            if signer is not None:
                flush()
            flush_rows()
        finally:
            for f in buckets or []:
                f.close()
            raw_rows.close()
        _save_rows(docs_path.with_suffix(".rows.tmp"), docs_path, n_rows)
        if cfg is not None:
            self._sort_buckets(out / "sigs", rank, cfg)

    def _sort_buckets(self, sig_dir: Path, rank: int, cfg: MinhashConfig) -> None:
        """Sort each bucket file by signature, as datatrove's stage 1 does, a range at a time:
        loaded whole, a bucket cost 68 bytes per document of the task."""
        dtype = _record_dtype(cfg)
        for bi in range(cfg.num_buckets):
            sort_file(
                sig_dir / f"bucket_{bi:03d}" / f"{rank:05d}.minhash.sig", dtype, self.sort_chunk_records
            )


def _save_rows(raw: Path, path: Path, n: int) -> None:
    """The file ``np.save(path, rows)`` writes, from ``n`` DOC_DTYPE records in ``raw``, copied
    through in blocks: the task never holds all its rows at once."""
    tmp = path.with_suffix(".npy.tmp")
    with open(tmp, "wb") as f:
        header = {"descr": np.lib.format.dtype_to_descr(DOC_DTYPE), "fortran_order": False, "shape": (n,)}
        np.lib.format.write_array_header_1_0(f, header)
        with open(raw, "rb") as src:
            shutil.copyfileobj(src, f, 1 << 20)
    os.replace(tmp, path)
    raw.unlink()


def _index_record_dtype(cfg: MinhashConfig) -> np.dtype:
    """One index record, as datatrove packs it: ``<{hashes_per_bucket}{Q|I}`` (no document id)."""
    return np.dtype([(f"h{i}", f"<{cfg.hash_config.struct_format}") for i in range(cfg.hashes_per_bucket)])


def _record_dtype(cfg: MinhashConfig) -> np.dtype:
    """One bucket record, as datatrove packs it: ``<{hashes_per_bucket}{Q|I}I``."""
    return np.dtype(_index_record_dtype(cfg).descr + [("doc", "<u4")])
