"""Sort and merge files of fixed-size records in bounded memory.

The records are datatrove's MinHash bucket records (``h0 .. h{k-1}, doc``) and index records
(``h0 .. h{k-1}``), sorted field by field, the tuple order datatrove's readers check. Two users:

- ``DedupSignature`` sorts each bucket file of its task at the end (:func:`sort_file`); loaded
  whole, that cost 68 bytes per document of the task, so a worker's peak grew with its task;
- ``DedupIndexWriter`` merges a band's sorted files of every task (:func:`iter_ranges`).

Both cut the files' records into ranges of the first hash at its sampled quantiles and handle one
range at a time: equal tuples share their first hash, so they always fall in one range, and the
ranges in order are the whole sorted sequence. MinHash values are minima over a document's
n-grams, far from uniform (most lie near 0), which is why the cuts are quantiles and not evenly
spaced over the hash range. Files are read, not memory-mapped: a map's touched pages stay in the
worker's RSS, which then grows with the file instead of one range.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# records per range (and per sorted run): at 8 x 64-bit hashes + a document id, 18 MB; a range is
# held a few times over (read, joined, sorted)
CHUNK_RECORDS = 1 << 18
_SAMPLES_PER_RANGE = 16


def num_records(path: Path, dtype: np.dtype) -> int:
    return path.stat().st_size // dtype.itemsize


def iter_ranges(
    paths: list[Path], dtype: np.dtype | list[np.dtype], chunk: int = CHUNK_RECORDS
) -> Iterator[list[np.ndarray]]:
    """For each range of the first hash, in order: the records of every (sorted) file in it, one
    array per file, each still sorted. Concatenated and sorted, range by range, they are the
    sorted union of the files. ``dtype`` is one for all files or one per file (bucket records
    with a document id beside index records without): only the first hash ``h0``, at the same
    place in each, cuts the ranges."""
    dtypes = list(dtype) if isinstance(dtype, list | tuple) else [dtype] * len(paths)
    starts = _range_starts(paths, dtypes, chunk)
    for c in range(len(starts[0]) - 1 if starts else 0):
        yield [
            np.fromfile(p, dtype=dt, count=at[c + 1] - at[c], offset=at[c] * dt.itemsize)
            for p, dt, at in zip(paths, dtypes, starts, strict=True)
        ]


def sort_file(path: Path, dtype: np.dtype, chunk: int = CHUNK_RECORDS) -> None:
    """Sort a file of records in place (atomically), holding about ``chunk`` records at a time:
    sorted runs of ``chunk`` records are written beside it, then merged range by range. The file
    is byte-for-byte what ``np.fromfile(path, dtype).sort(order=dtype.names)`` would write.

    Runs and ranges are read into two buffers allocated once: arrays allocated and freed per run
    leave the allocator's heap a little larger each time (the process grew ~8 MB per million
    records that way)."""
    n = num_records(path, dtype)
    tmp = path.with_name(path.name + ".tmp")
    if n <= chunk:
        records = np.fromfile(path, dtype=dtype)
        records.sort(order=dtype.names)
        records.tofile(tmp)
        os.replace(tmp, path)
        return
    runs = []
    try:
        buffer = np.empty(chunk, dtype)
        with open(path, "rb") as src:
            for k, start in enumerate(range(0, n, chunk)):
                run = _read_into(src, buffer[: min(chunk, n - start)])
                run.sort(order=dtype.names)
                runs.append(path.with_name(f"{path.name}.run{k}"))
                run.tofile(runs[-1])
        del buffer
        starts = _range_starts(runs, [dtype] * len(runs), chunk)
        sizes = [sum(at[c + 1] - at[c] for at in starts) for c in range(len(starts[0]) - 1)]
        merged = np.empty(max(sizes), dtype)
        handles = [open(r, "rb", buffering=0) for r in runs]  # noqa: SIM115 (closed below; unbuffered: read straight into the array)
        try:
            with open(tmp, "wb") as out:
                for c, size in enumerate(sizes):
                    filled = 0
                    for f, at in zip(handles, starts, strict=True):
                        f.seek(at[c] * dtype.itemsize)
                        filled += _read_into(f, merged[filled : filled + at[c + 1] - at[c]]).size
                    part = merged[:size]
                    # sorted runs joined: a stable sort (timsort) merges them in near-linear time,
                    # where numpy's default quicksort is slower on them than on shuffled records
                    part.sort(order=dtype.names, kind="stable")
                    part.tofile(out)
        finally:
            for f in handles:
                f.close()
        os.replace(tmp, path)
    finally:
        for run in runs:
            run.unlink(missing_ok=True)


def _read_into(f, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` with the next records of an open file (an unbuffered read may return less)."""
    view, got = memoryview(out.view(np.uint8)), 0
    while got < out.nbytes:
        n = f.readinto(view[got:])
        if not n:
            raise OSError(f"{f.name}: {got} of {out.nbytes} bytes read (file truncated while sorting?)")
        got += n
    return out


def _range_starts(paths: list[Path], dtypes: list[np.dtype], chunk: int) -> list[list[int]]:
    """Per (sorted) file, the record where each range of the first hash starts, and its length:
    one sample per ``chunk // 16`` records of each file; every 16th sample of them all, sorted,
    starts a range of ~``chunk`` records; the last range ends at each file's end."""
    counts = [num_records(p, dt) for p, dt in zip(paths, dtypes, strict=True)]
    handles = [open(p, "rb", buffering=0) for p in paths]  # noqa: SIM115 (closed below)
    try:
        step = max(1, chunk // _SAMPLES_PER_RANGE)
        # File j samples records j/len(files) of a step apart from file 0's. Sampled at the same
        # positions, files of one distribution (a bucket's sorted runs) gave samples at the same
        # quantiles, bunched: the ranges between the bunches held 1/16 of everything each, and
        # grew with the file count.
        samples = sorted(
            _first_hash(f, i, dt)
            for j, (f, n, dt) in enumerate(zip(handles, counts, dtypes, strict=True))
            for i in range(j * step // len(paths), n, step)
        )
        edges = [0] + samples[_SAMPLES_PER_RANGE::_SAMPLES_PER_RANGE]
        return [
            [_first_at_least(f, n, dt, e) for e in edges] + [n]
            for f, n, dt in zip(handles, counts, dtypes, strict=True)
        ]
    finally:
        for f in handles:
            f.close()


def sorted_unique(parts: list[np.ndarray]) -> np.ndarray:
    """``np.unique(np.concatenate(parts))`` for sorted ``parts``. A stable sort (timsort) merges
    the sorted parts in near-linear time; the quicksort ``np.unique`` uses is slower on them than
    on shuffled records (1.3 s vs 0.5 s for two sorted halves of 524k 8-hash records)."""
    joined = np.concatenate(parts)
    joined.sort(kind="stable")
    if joined.size < 2:
        return joined
    first = np.empty(joined.size, dtype=bool)
    first[0] = True
    first[1:] = joined[1:] != joined[:-1]
    return joined[first]


def _first_hash(f, i: int, dtype: np.dtype) -> int:
    """The first hash of record ``i`` of an open record file, read alone."""
    h0, at = dtype.fields["h0"][:2]
    return int(np.frombuffer(os.pread(f.fileno(), h0.itemsize, i * dtype.itemsize + at), h0)[0])


def _first_at_least(f, n: int, dtype: np.dtype, value: int) -> int:
    """``np.searchsorted(records["h0"], value, side="left")`` over the ``n`` sorted records of an
    open file, reading one first hash per bisection step: a few dozen small reads, where a memory
    map would leave the pages it touched in the worker's RSS (and numpy would copy the strided
    column)."""
    return bisect.bisect_left(range(n), value, key=lambda i: _first_hash(f, i, dtype))
