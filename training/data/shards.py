"""Read one source's datatrove token shards with ``np.memmap`` (never loaded into memory).

A source is ``tokens/<source>/*.ds`` (tokens, uint16 or uint32) each with ``.ds.index`` (uint64
cumulative document ends, in tokens). The source is seen as a table of documents (shard, start,
length); the loader streams them in a per-epoch permutation, so every epoch reshuffles the
document order with a seeded RNG.
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
        if not self.tokens:
            raise ValueError(f"{folder}: plan source {name!r} has shards but no tokens")
        self.doc_shard = np.concatenate(shard_ids)
        self.doc_start = np.concatenate(starts)
        self.doc_len = np.concatenate(lengths)
        if (self.doc_len <= 0).any():
            raise ValueError(f"{folder}: an index lists an empty or decreasing document end")
        self.num_docs = len(self.doc_len)
        self.num_tokens = int(self.doc_len.sum())

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

    def read(self, doc: int, lo: int, hi: int) -> np.ndarray:
        """Tokens ``lo:hi`` of document ``doc`` (a memmap view)."""
        start = self.doc_start[doc]
        return self.tokens[self.doc_shard[doc]][start + lo : start + hi]
