"""``PriorityCluster``: join exact and MinHash pairs into clusters; keep one copy per cluster.

Replaces datatrove's ``MinhashDedupCluster``, whose union-find keeps an arbitrary member. Here
every document of the run is a node (task rank, row); edges are datatrove's ``.dups`` pairs and
pairs of equal normalised-text hashes; connected components are the clusters, by a compiled
union-find that reads the ``.dups`` files one at a time (``components.py``: memory is one int32
per document plus one file's pairs, not every pair of the corpus; measured in
``bench/bench_curation_cluster.py``).

The keeper rule, in order (the first that differs decides):

1. the best source rank (lowest ``priority``): a document in both a trusted and a scraped source
   survives in the trusted one;
2. the higher quality score (``metadata['quality_score']``, rounded to 0.01, because copies of
   one text differ by classifier noise below that), when the run has a quality model;
3. the higher ``cleanliness`` score (``cleanliness.py``: common words outside boilerplate
   lines, minus junk tokens and boilerplate-line words): the copy without typos, junk tokens or
   boilerplate lines;
4. more words outside boilerplate lines (the more complete copy: a dropped rare word);
5. position (task rank, then order in the task), so the choice is deterministic.

On 722 near-duplicate pairs made from real text (WikiText, Shakespeare, GSM8K) in one source,
rules 3-5 keep the clean original in 704 (typos 130/140, junk tokens 138/138, dropped words
134/139, boilerplate lines 156/156, mixed edits 146/149); position alone kept it in 364
(``bench/bench_curation_dedup_real.py``, ``bench/RESULTS.md``).

It also applies the scoped ``top_percentile`` quality cut (``curation/classifiers/cuts.py``):
per (source, domain) group with a percentile ``p``, documents scoring below the group's
``ceil(n * p / 100)``-th best score are removed (kind ``low_quality``; ties at the threshold
kept), before keepers are chosen, so a cluster's keeper is its best surviving member.

It also fixes the held-out slice: per source, the surviving documents with the smallest
seeded keys, ``min(max_docs, ceil(fraction * n))`` of them (at most half the source).

With ``dedup.against`` (``curation/dedup/against.py``) one more node stands for the previous
corpus, or all of them when several are listed: datatrove's index-match pairs and the documents
whose exact hash is in any of their ``exact.npy`` join it, and every new document in its cluster
is removed (kind ``against``); the previous corpora themselves are not touched.

Writes ``clusters/<rank>.npz`` (per row: ``removed``, ``cluster``, ``cluster_size``, ``kind``,
``heldout``) and ``clusters/summary.json``.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curation.dedup.components import Components, best_per_label, same_key_per_label
from curation.dedup.signature import DOC_DTYPE

KIND_NONE, KIND_EXACT, KIND_NEAR, KIND_LOW_QUALITY, KIND_AGAINST = 0, 1, 2, 3, 4


class PriorityCluster(PipelineStep):
    name = "🎯 Dedup clusters"
    type = "🫂 - DEDUP"

    def __init__(
        self,
        work_dir: str,
        sources: list[str],
        *,
        exact: bool,
        heldout_fraction: float | None,
        heldout_max_docs: int | None,
        world_size_stage1: int,
        against: str | list[str] | None = None,
    ):
        super().__init__()
        # previous output folders (dedup.against), read only; the summary names them as given
        self.against = against
        self.against_roots = [against] if isinstance(against, str) else list(against or [])
        self.work_dir = work_dir
        self.sources = sources  # indexed by priority
        self.exact = exact
        self.heldout_fraction = heldout_fraction
        self.heldout_max_docs = heldout_max_docs
        self.num_ranks = world_size_stage1

    def _load_docs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every task's document records in one preallocated array (no second copy), and offsets."""
        paths = [Path(self.work_dir) / "docs" / f"{rank:05d}.npy" for rank in range(self.num_ranks)]
        for path in paths:
            assert path.is_file(), f"missing {path}: the filter stage did not finish"
        counts = [np.load(path, mmap_mode="r").shape[0] for path in paths]
        offsets = np.cumsum([0, *counts])
        everything = np.empty(int(offsets[-1]), DOC_DTYPE)
        for r, path in enumerate(paths):
            everything[offsets[r] : offsets[r + 1]] = np.load(path)
        return everything, offsets

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        assert world_size == 1, "PriorityCluster runs as a single task"
        if data:
            yield from data
        with self.track_time():
            everything, offsets = self._load_docs()
            n = len(everything)
            # with dedup.against, node n stands for the whole previous corpus: index matches join it
            old_node = n if self.against_roots else -1
            graph = Components(n + 1 if self.against_roots else n)
            for path in sorted((Path(self.work_dir) / "buckets").glob("*.dups")):
                graph.union_dups_file(path, offsets, index_node=old_node)  # one file's pairs at a time
            near_pairs = graph.num_pairs
            exact_pairs = graph.union_equal(everything["exact"]) if self.exact and n else 0
            if self.against_roots and self.exact and n:
                exact_pairs += self._union_old_exact(graph, everything["exact"], old_node)
            self.stat_update("near_pairs", value=near_pairs)
            self.stat_update("exact_pairs", value=exact_pairs)
            num_labels, labels = graph.labels()
            del graph
            against = np.zeros(n, bool)
            if self.against_roots:
                against = labels[:n] == labels[n]
                labels = labels[:n]
            sizes = np.bincount(labels, minlength=num_labels)
            low = self._below_top_percentile(everything)
            # keeper: best (not cut, priority, quality, cleanliness, words, position) per component;
            # only members of multi-document components need ranking (a singleton keeps itself)
            keeper_of = np.empty(sizes.size, np.int64)
            single = sizes[labels] == 1
            keeper_of[labels[single]] = np.flatnonzero(single)
            multi_idx = np.flatnonzero(~single)
            del single
            quality = np.nan_to_num(np.round(everything["quality"].astype(np.float64), 2), nan=-1.0)
            keeper_of[labels[multi_idx]] = -1
            best_per_label(
                multi_idx,
                labels,
                low,
                everything["priority"],
                quality,
                everything["clean"],
                everything["num_words"],
                keeper_of,
            )
            del quality, multi_idx
            removed = keeper_of[labels] != np.arange(n)
            removed |= low | against
            # a cluster is "exact" when all its members share one text hash
            same_text = same_key_per_label(labels, everything["exact"], num_labels)
            kind_of_label = np.where(sizes > 1, np.where(same_text, KIND_EXACT, KIND_NEAR), KIND_NONE)
            kind = kind_of_label.astype(np.int8)[labels]
            kind[against] = KIND_AGAINST
            kind[low] = KIND_LOW_QUALITY
            del same_text, kind_of_label
            # clusters numbered by keeper position, so ids are stable across runs
            multi_labels = np.flatnonzero(sizes > 1)
            multi_labels = multi_labels[np.argsort(keeper_of[multi_labels])]
            cluster_of_label = np.full(num_labels, -1, np.int64)
            cluster_of_label[multi_labels] = np.arange(len(multi_labels))
            num_clusters = len(multi_labels)
            del multi_labels
            heldout = self._heldout(everything, removed)
        summary = self._summary(everything, removed, kind, heldout, sizes)
        out = Path(self.work_dir) / "clusters"
        out.mkdir(parents=True, exist_ok=True)
        for r in range(self.num_ranks):
            sl = slice(offsets[r], offsets[r + 1])
            np.savez(
                out / f"{r:05d}.npz",
                removed=removed[sl],
                cluster=cluster_of_label[labels[sl]],
                cluster_size=sizes[labels[sl]].astype(np.int64),
                kind=kind[sl].astype(np.int8),
                heldout=heldout[sl],
            )
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        self.stat_update("removed", value=int(removed.sum()))
        self.stat_update("removed_against", value=int((kind == KIND_AGAINST).sum()))
        self.stat_update("clusters", value=num_clusters)

    def _union_old_exact(self, graph: Components, exact: np.ndarray, old_node: int) -> int:
        """Join every document whose text hash is in a previous corpus's ``exact.npy`` to ``old_node``.

        The union of the corpora's hashes, one array in memory at a time; a document in several
        counts once."""
        from curation.dedup.index import INDEX_DIR

        hit = np.zeros(exact.size, bool)
        for root in self.against_roots:
            old = np.load(Path(root) / INDEX_DIR / "exact.npy")  # sorted, unique
            if old.size:
                at = np.minimum(np.searchsorted(old, exact), old.size - 1)
                hit |= old[at] == exact
        hits = np.flatnonzero(hit)
        graph.union(np.full(hits.size, old_node), hits)
        return int(hits.size)

    @staticmethod
    def _below_top_percentile(everything: np.ndarray) -> np.ndarray:
        """Rows under their (source, domain) group's top-percentile threshold."""
        low = np.zeros(len(everything), bool)
        pct = everything["top_percentile"]
        scoped = np.flatnonzero(~np.isnan(pct))
        if not scoped.size:
            return low
        groups = (everything["priority"][scoped].astype(np.int64) << 32) | everything["domain_key"][scoped]
        for group in np.unique(groups):
            idx = scoped[groups == group]
            scores = np.sort(everything["quality"][idx])[::-1]
            keep = max(1, math.ceil(len(idx) * float(pct[idx[0]]) / 100))
            low[idx] = everything["quality"][idx] < scores[keep - 1]
        return low

    def _heldout(self, everything: np.ndarray, removed: np.ndarray) -> np.ndarray:
        heldout = np.zeros(len(everything), bool)
        if self.heldout_fraction is None and self.heldout_max_docs is None:
            return heldout
        for prio in range(len(self.sources)):
            idx = np.flatnonzero((everything["priority"] == prio) & ~removed)
            k = len(idx) if self.heldout_fraction is None else math.ceil(self.heldout_fraction * len(idx))
            if self.heldout_max_docs is not None:
                k = min(k, self.heldout_max_docs)
            k = min(k, len(idx) // 2)
            if k > 0:
                chosen = idx[np.argsort(everything["heldout_key"][idx], kind="stable")[:k]]
                heldout[chosen] = True
        return heldout

    def _summary(self, everything, removed, kind, heldout, sizes) -> dict:
        by_source = {}
        for prio, name in enumerate(self.sources):
            mask = everything["priority"] == prio
            by_source[name] = {
                "docs": int(mask.sum()),
                "removed_exact": int((mask & removed & (kind == KIND_EXACT)).sum()),
                "removed_near": int((mask & removed & (kind == KIND_NEAR)).sum()),
                "removed_low_quality": int((mask & (kind == KIND_LOW_QUALITY)).sum()),
                "heldout": int((mask & heldout).sum()),
            }
        if self.against_roots:  # only with dedup.against: the summary of other runs keeps its keys
            for prio, name in enumerate(self.sources):
                mask = (everything["priority"] == prio) & (kind == KIND_AGAINST)
                by_source[name]["removed_against"] = int(mask.sum())
        return {
            **({"against": self.against} if self.against else {}),
            "num_docs": int(len(everything)),
            "num_removed": int(removed.sum()),
            "num_clusters": int((sizes > 1).sum()),
            "largest_cluster": int(sizes.max()) if sizes.size else 0,
            "by_source": by_source,
        }


def read_dups(path: Path) -> list[tuple[int, int, int, int]]:
    """Pairs of a datatrove ``.dups`` file (for debugging and tests)."""
    raw = path.read_bytes()
    return [struct.unpack_from("<4I", raw, i) for i in range(0, len(raw), 16)]
