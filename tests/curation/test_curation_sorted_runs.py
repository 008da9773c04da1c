"""Bucket and index record files sorted and merged in bounded memory (``curation/dedup/sorted_runs.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from curation.dedup import sorted_runs

DTYPE = np.dtype([("h0", "<u8"), ("h1", "<u8"), ("doc", "<u4")])


def _records(n: int, seed: int) -> np.ndarray:
    """Records shaped like MinHash bucket records: first hashes crowded near 0 (minima over
    n-grams), many equal first hashes and whole equal signatures (duplicates), unique doc ids."""
    rng = np.random.default_rng(seed)
    rec = np.empty(n, DTYPE)
    rec["h0"] = (rng.exponential(1e3, n) ** 2).astype("<u8")
    rec["h0"][rng.random(n) < 0.2] = 7  # a crowd on one first hash
    rec["h1"] = rng.integers(0, 50, n)
    rec["doc"] = rng.permutation(n)
    return rec


@pytest.mark.parametrize("n", [0, 1, 5, 50, 51, 1000])
def test_sort_file_writes_exactly_the_full_sort(tmp_path, n):
    records = _records(n, seed=n)
    path = tmp_path / "00000.minhash.sig"
    records.tofile(path)
    sorted_runs.sort_file(path, DTYPE, chunk=50)
    expected = np.sort(records, order=DTYPE.names)
    assert path.read_bytes() == expected.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "sorted runs and temp files are removed"


def test_sort_file_holds_a_run_or_a_range_never_the_file(tmp_path, monkeypatch):
    """The point of sorting in runs: memory bounded by the chunk, whatever the file's size."""
    import tracemalloc

    rng = np.random.default_rng(1)
    records = np.empty(20_000, DTYPE)
    records["h0"] = rng.permutation(20_000)  # distinct first hashes: ranges of about one chunk
    records["h1"] = 0
    records["doc"] = np.arange(20_000)
    path = tmp_path / "b.sig"
    records.tofile(path)
    reads = []
    real_read_into = sorted_runs._read_into

    def counting_read_into(f, out):
        reads.append(out.size)
        return real_read_into(f, out)

    monkeypatch.setattr(sorted_runs, "_read_into", counting_read_into)
    tracemalloc.start()  # numpy reports its buffers to tracemalloc
    try:
        sorted_runs.sort_file(path, DTYPE, chunk=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(reads) == 2 * 20_000  # each record read once into a run and once into a range
    assert max(reads) <= 2 * 1000
    assert peak < 0.25 * records.nbytes, f"{peak} bytes held sorting a {records.nbytes}-byte file"
    assert np.array_equal(np.fromfile(path, DTYPE), np.sort(records, order=DTYPE.names))


def test_iter_ranges_cover_the_sorted_union_in_order_of_the_first_hash(tmp_path):
    files = []
    for k, n in enumerate([0, 300, 41, 1200]):
        rec = np.sort(_records(n, seed=10 + k), order=DTYPE.names)
        files.append(tmp_path / f"{k}.sig")
        rec.tofile(files[-1])
    everything = np.concatenate([np.fromfile(f, DTYPE) for f in files])
    ranges = []
    for parts in sorted_runs.iter_ranges(files, DTYPE, chunk=64):
        assert len(parts) == len(files)
        for part in parts:  # each file's slice is still sorted
            assert np.array_equal(part, np.sort(part, order=DTYPE.names))
        joined = np.concatenate(parts)
        ranges.append(np.sort(joined, order=DTYPE.names))
    assert len(ranges) > 5, "the test needs several ranges"
    nonempty = [r for r in ranges if r.size]
    for a, b in zip(nonempty, nonempty[1:], strict=False):
        assert a["h0"].max() < b["h0"].min(), "equal first hashes meet in one range"
    assert np.array_equal(np.concatenate(ranges), np.sort(everything, order=DTYPE.names))


def test_sorted_unique_is_np_unique_of_the_joined_parts():
    parts = [np.sort(_records(n, seed=20 + n), order=DTYPE.names) for n in (0, 1, 300, 999)]
    parts.append(parts[2][:50].copy())  # whole records repeated across parts
    got = sorted_runs.sorted_unique(parts)
    assert got.tobytes() == np.unique(np.concatenate(parts)).tobytes()
    assert sorted_runs.sorted_unique([parts[0]]).size == 0


def test_ranges_stay_near_the_chunk_size_over_many_runs_of_one_distribution(tmp_path):
    """A bucket's sorted runs all follow one distribution: sampled at the same positions, their
    samples bunched at the same quantiles and one range in 16 held 1/16 of all the records."""
    rng = np.random.default_rng(5)
    files = []
    for k in range(100):  # more files than a range has samples (16 x 3)
        rec = np.empty(500, DTYPE)
        rec["h0"] = (rng.exponential(1e6, 500) ** 2).astype("<u8")
        rec["h1"] = 0
        rec["doc"] = np.arange(500) + 500 * k
        files.append(tmp_path / f"{k}.sig")
        np.sort(rec, order=DTYPE.names).tofile(files[-1])
    sizes = [sum(p.size for p in parts) for parts in sorted_runs.iter_ranges(files, DTYPE, chunk=160)]
    assert sum(sizes) == 50_000
    assert max(sizes) <= 3 * 160, sorted(sizes)[-5:]
