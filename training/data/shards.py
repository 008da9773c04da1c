"""Read one source's datatrove token shards with ``np.memmap`` (never loaded into memory).

A source is ``tokens/<source>/*.ds`` (tokens, uint16 or uint32) each with ``.ds.index`` (uint64
cumulative document ends, in tokens). The source is seen as a table of documents (shard, start,
length); the loader streams them in a per-epoch permutation, so every epoch reshuffles the
document order with a seeded RNG, or, for a curriculum, sorted by the per-document difficulty
(or quality) that tokenization wrote beside each shard (``<shard>.ds.difficulty``, float32 per
document).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Reading a source's max token id in chunks bounds memory for corpora of any size.
SCAN_CHUNK_TOKENS = 1 << 24


class SourceShards:
    """The token shards of one source, memory-mapped."""

    def __init__(self, folder: Path, name: str):
        self.name = name
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder}: no token shards for plan source {name!r}; run `midtrain tokenize` on its curated data"
            )
        data_files = sorted(folder.glob("*.ds"))
        index_files = sorted(folder.glob("*.ds.index"))
        for index in index_files:
            if not index.with_suffix("").is_file():  # x.ds.index -> x.ds
                raise FileNotFoundError(
                    f"{index.with_suffix('')}: shard missing (its index {index.name} exists)"
                )
        if not data_files:
            raise FileNotFoundError(f"{folder}: no *.ds shard for plan source {name!r}")
        self.tokens: list[np.memmap] = []
        self.masks: list[np.memmap | None] = []  # NNN.ds.mask: 1 = trained token (instruction data)
        shard_ids, starts, lengths = [], [], []
        for path in data_files:
            index = path.with_name(path.name + ".index")
            if not index.is_file():
                raise FileNotFoundError(f"{index}: index missing for shard {path.name}")
            ends = np.fromfile(index, dtype="<u8").astype(np.int64)
            num_tokens = int(ends[-1]) if len(ends) else 0
            size = path.stat().st_size
            if num_tokens == 0:
                if size:
                    raise ValueError(f"{index}: empty index but {path.name} has {size} bytes")
                continue
            if size % num_tokens or size // num_tokens not in (2, 4):
                raise ValueError(
                    f"{path}: {size} bytes for {num_tokens} tokens (index {index.name}): "
                    "not uint16/uint32 tokens; the shard or its index is truncated or foreign"
                )
            dtype = np.dtype("<u2") if size // num_tokens == 2 else np.dtype("<u4")
            shard_ids.append(np.full(len(ends), len(self.tokens), dtype=np.int32))
            starts.append(np.concatenate([[0], ends[:-1]]))
            lengths.append(np.diff(ends, prepend=0))
            self.tokens.append(np.memmap(path, dtype=dtype, mode="r", shape=(num_tokens,)))
            self.masks.append(_read_mask(path, num_tokens))
        if not self.tokens:
            raise ValueError(f"{folder}: plan source {name!r} has shards but no tokens")
        self.doc_shard = np.concatenate(shard_ids)
        self.doc_start = np.concatenate(starts)
        self.doc_len = np.concatenate(lengths)
        if (self.doc_len <= 0).any():
            raise ValueError(f"{folder}: an index lists an empty or decreasing document end")
        self.num_docs = len(self.doc_len)
        self.num_tokens = int(self.doc_len.sum())
        self.doc_keys = self._read_doc_keys(data_files)

    def _read_doc_keys(self, data_files: list[Path]) -> dict[str, np.ndarray]:
        """Per-document curriculum keys (``<shard>.ds.difficulty`` ...), when every shard has one."""
        keys = {}
        for name in ("difficulty", "quality"):
            parts = []
            for path in data_files:
                side = Path(f"{path}.{name}")
                num = len(np.fromfile(f"{path}.index", dtype="<u8"))
                if not side.is_file() or side.stat().st_size != 4 * num:
                    break
                if num and np.fromfile(f"{path}.index", dtype="<u8")[-1] > 0:
                    parts.append(np.fromfile(side, dtype="<f4"))
            else:
                if parts and sum(len(x) for x in parts) == self.num_docs:
                    keys[name] = np.concatenate(parts)
        return keys

    def max_token_id(self) -> int:
        """Largest token id in the source (reads every token once, in chunks)."""
        best = 0
        for mm in self.tokens:
            for lo in range(0, len(mm), SCAN_CHUNK_TOKENS):
                best = max(best, int(mm[lo : lo + SCAN_CHUNK_TOKENS].max()))
        return best

    def epoch_layout(self, seed: int, epoch: int, source_key: int) -> tuple[np.ndarray, np.ndarray]:
        """(document permutation, cumulative ends in that order) for one epoch."""
        rng = np.random.default_rng([seed, source_key, epoch])
        perm = rng.permutation(self.num_docs)
        return perm, np.cumsum(self.doc_len[perm])

    def sort_span(
        self, perm: np.ndarray, cum: np.ndarray, lo: int, hi: int, *, key: str, descending: bool
    ) -> None:
        """Sort (in place) the documents of ``perm`` that start in token span ``[lo, hi)`` of the
        epoch by ``doc_keys[key]`` (easiest first unless ``descending``; missing values last; ties
        keep their random order). The documents still fill the same span, so nothing else moves."""
        starts = cum - self.doc_len[perm]
        d0, d1 = int(np.searchsorted(starts, lo, side="left")), int(np.searchsorted(starts, hi, side="left"))
        if d1 - d0 < 2:
            return
        values = self.doc_keys[key][perm[d0:d1]].astype(np.float64)
        values = np.where(np.isnan(values), np.inf, -values if descending else values)
        perm[d0:d1] = perm[d0:d1][np.argsort(values, kind="stable")]
        first = starts[d0]
        cum[d0:d1] = first + np.cumsum(self.doc_len[perm[d0:d1]])

    @property
    def has_mask(self) -> bool:
        """Whether the shards carry a loss mask (written by tokenize for instruction records)."""
        return any(m is not None for m in self.masks)

    def read_mask(self, doc: int, lo: int, hi: int) -> np.ndarray:
        """Loss mask ``lo:hi`` of document ``doc`` (1 = trained; all ones without a mask file)."""
        mask = self.masks[self.doc_shard[doc]]
        if mask is None:
            return np.ones(hi - lo, dtype=np.uint8)
        start = self.doc_start[doc]
        return mask[start + lo : start + hi]

    def read(self, doc: int, lo: int, hi: int) -> np.ndarray:
        """Tokens ``lo:hi`` of document ``doc`` (a memmap view)."""
        start = self.doc_start[doc]
        return self.tokens[self.doc_shard[doc]][start + lo : start + hi]


def _read_mask(shard: Path, num_tokens: int) -> np.memmap | None:
    path = shard.with_name(shard.name + ".mask")
    if not path.is_file():
        return None
    if path.stat().st_size != num_tokens:
        raise ValueError(
            f"{path}: {path.stat().st_size} bytes for the {num_tokens} tokens of {shard.name} "
            "(one uint8 per token); re-run `midtrain tokenize`"
        )
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(num_tokens,))
