"""``BatchedStats`` gives the stats datatrove's own updates give: same numbers, types, key order."""

from __future__ import annotations

import json
import pickle
import random
import time

import numpy as np
import pytest
from datatrove.pipeline.base import PipelineStep

from curation.stats import batched
from curation.stats.batched import BatchedStats


class _Plain(PipelineStep):
    name = "plain"

    def run(self, data, rank=0, world_size=1):
        yield from data


class _Batched(BatchedStats, _Plain):
    pass


def _updates(seed: int, n: int) -> list[tuple[tuple[str, ...], object, str | None]]:
    """A random mix of what steps do: counts, lengths, scores, units, several labels at once."""
    rng = random.Random(seed)
    labels = ["total", "forwarded", "dropped", "doc_len", "score", "mixed", "tokens"]
    out = []
    for _ in range(n):
        picked = tuple(rng.sample(labels, rng.choice([1, 1, 1, 2, 3])))
        kind = rng.random()
        if kind < 0.55:
            value, unit = 1, None
        elif kind < 0.75:
            value, unit = rng.randint(0, 10_000), rng.choice([None, "doc"])
        elif kind < 0.85:
            value, unit = rng.random() * 3 - 1, None
        elif kind < 0.92:
            value, unit = np.int64(rng.randint(1, 50)), "bytes"
        else:
            value, unit = rng.choice([True, 1.0, 2, 0]), rng.choice([None, "batch"])
        out.append((picked, value, unit))
    return out


def _apply(step, updates, *, read_every: int = 0) -> str:
    for i, (labels, value, unit) in enumerate(updates):
        step.stat_update(*labels, value=value, unit=unit)
        if read_every and i % read_every == read_every - 1:
            step.stats["total"]  # noqa: B018 - a mid-task read, as a step's own code may do
    return json.dumps(step.stats.to_dict()["stats"])  # to_dict keeps int/float: json shows 5 vs 5.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_same_stats_as_datatrove_bit_for_bit(seed, monkeypatch):
    monkeypatch.setattr(batched, "FLUSH_AT", 37)  # many replays inside the sequence
    updates = _updates(seed, 3000)
    assert _apply(_Batched(), updates) == _apply(_Plain(), updates)
    assert _apply(_Batched(), updates, read_every=101) == _apply(_Plain(), updates, read_every=101)


def test_counts_keep_their_first_update_order():
    plain, fast = _Plain(), _Batched()
    for step in (plain, fast):
        step.stat_update("b")
        step.stat_update("a", value=7)
        step.stat_update("c", "b")
    assert list(fast.stats.stats) == list(plain.stats.stats) == ["b", "a", "c"]
    assert fast.stats["b"].total == 2 and fast.stats["b"].n == 2


def test_a_count_then_a_value_replays_exactly():
    plain, fast = _Plain(), _Batched()
    for step in (plain, fast):
        for _ in range(5):
            step.stat_update("x")
        step.stat_update("x", value=9)
        step.stat_update("x")
    a, b = plain.stats["x"], fast.stats["x"]
    assert (a.total, a.n, a.mean, a.min, a.max, a._running_variance) == (
        b.total,
        b.n,
        b.mean,
        b.min,
        b.max,
        b._running_variance,
    )
    assert b.total == 15 and b.max == 9


def test_timings_counted_and_bounded(monkeypatch):
    monkeypatch.setattr(batched, "FLUSH_AT", 10)
    step = _Batched()
    for _ in range(25):
        with step.track_time():
            pass
        assert len(step.__dict__["_stat_timer"].seconds) < 10  # replayed as it goes
    time_stats = step.stats.time_stats
    assert time_stats.n == 25
    assert time_stats.global_mean == time_stats.total > 0


def test_a_step_pickles_and_the_executor_json_skips_stats():
    from datatrove.executor.base import ExecutorJSONEncoder

    step = _Batched()
    step.stat_update("documents", value=3)
    clone = pickle.loads(pickle.dumps(step))
    assert clone.stats["documents"].total == 3
    assert "stats" not in json.loads(json.dumps(step, cls=ExecutorJSONEncoder))


def test_pipeline_steps_use_it():
    """The steps that see every document of the standard pipeline count through the mixin."""
    from curation.annotate import HeldoutSplit, ShardReader
    from curation.classifiers.difficulty import DifficultyTierer
    from curation.classifiers.domain import DomainTagger
    from curation.decont import NGramDecontFilter
    from curation.dedup import DedupFilter, DedupSignature
    from curation.filters.heuristics import CodeQuality, GopherQuality, GopherRepetition
    from curation.funnel import RemovedWriter
    from curation.readers import SourcesReader
    from curation.stats import SourceStats
    from curation.writers import GzipJsonlWriter

    for cls in (
        SourcesReader,
        NGramDecontFilter,
        GopherQuality,
        GopherRepetition,
        CodeQuality,
        DomainTagger,
        DifficultyTierer,
        DedupSignature,
        GzipJsonlWriter,
        RemovedWriter,
        ShardReader,
        DedupFilter,
        HeldoutSplit,
        SourceStats,
    ):
        assert issubclass(cls, BatchedStats), cls.__name__
        assert cls.stat_update is BatchedStats.stat_update, cls.__name__


@pytest.mark.parametrize(
    "updates",
    [
        [(("documents",), 1, None)] * 5 + [(("documents", "read/a"), 1, None)] * 3,  # counts only
        [(("score",), 1.0, None)] * 4,  # 1.0 is a value: datatrove's total is a float
        [(("bytes",), 1, "bytes")] * 3,  # a count with a unit keeps the unit
        [(("x",), 1, None)] * 3 + [(("x",), 5, None)],  # counts, then a value
    ],
    ids=["counts", "float-ones", "unit", "counts-then-value"],
)
def test_short_sequences_equal_datatrove_in_full(updates):
    assert _apply(_Batched(), updates) == _apply(_Plain(), updates)


def test_timing_unit_and_seconds_are_datatrove_s():
    plain, fast = _Plain(), _Batched()
    start = time.perf_counter()
    for step in (plain, fast):
        for _ in range(3):
            with step.track_time(unit="batch"):
                pass
    elapsed = time.perf_counter() - start
    assert fast.stats.time_stats.unit == plain.stats.time_stats.unit == "batch"
    assert 0 < fast.stats.time_stats.total <= elapsed  # seconds spent inside the blocks
