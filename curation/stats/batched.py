"""``BatchedStats``: datatrove's per-step stats, the same numbers, for a fraction of the CPU.

A datatrove step counts each document several times (``total``, ``forwarded``, ``doc_len``, a
timing, ...): each ``stat_update`` is a Welford update through two method calls, and a standard
curation run makes about 29 of them per document plus 9 timings. ``bench/bench_curation_stats.py``
measures three updates and one timing at 7.7-10.1 us per document with datatrove's
``PipelineStep`` and 4.3-5.6 us with this mixin (about 8 % of the filter stage). It keeps the updates in plain buffers and
applies them when the step's ``stats`` are read (by the executor at the end of the task, or by
any code that reads them), so whatever reads ``stats`` sees what datatrove's
own updates would have produced, bit for bit:

- a count (``value=1``, no unit) on a label that has only ever been counted stays a pending
  integer: ``c`` Welford updates of 1 give exactly ``total += c``, ``n += c``, ``mean = 1.0``,
  ``min = max = 1`` and no variance;
- any other value is buffered and replayed through the same arithmetic, in the same order, as
  ``MetricStats.update`` (the same types too: an int total stays an int);
- labels enter the step's stats dict at their first update, so ``stats.json`` keeps its key order;
- buffers are replayed every ``FLUSH_AT`` values, so memory stays bounded on long tasks.

Reading ``stats`` replays everything and forgets which labels were pure counts (the reader may
change them), so the next updates are exact too. The executor's JSON of the pipeline skips
``stats`` as before: the real ``Stats`` object stays in the step's ``__dict__["stats"]``.
"""

from __future__ import annotations

import time

from datatrove.utils.stats import MetricStats, Stats, TimingStats

FLUSH_AT = 4096  # values buffered per label (and timings per step) before they are replayed


def replay(metric: MetricStats, values: list) -> None:
    """``metric.update(x)`` for each ``x`` of ``values``, in order: the same operations, inlined."""
    total, n, mean = metric.total, metric.n, metric.mean
    low, high, running = metric.min, metric.max, metric._running_variance
    for x in values:
        total += x
        n += 1
        low = min(low, x)
        high = max(high, x)
        delta = x - mean
        mean += delta / n
        if n > 1:
            running += delta * (x - mean)
    metric.total, metric.n, metric.mean = total, n, mean
    metric.min, metric.max, metric._running_variance = low, high, running
    if isinstance(metric, TimingStats) and metric.n_tasks == 1:  # what TimingStats.update adds
        metric.global_mean = metric.global_min = metric.global_max = metric.total


def add_counts(metric: MetricStats, count: int) -> None:
    """``count`` updates of 1 on a metric that so far only had updates of 1 (or none)."""
    metric.total += count
    metric.n += count
    metric.mean = 1.0  # Welford: the first 1 sets the mean to 1.0, every later delta is 0.0
    metric.min = min(metric.min, 1)
    metric.max = max(metric.max, 1)


class _Timer:
    """``with step.track_time():``: appends the block's seconds; replays them every ``FLUSH_AT``."""

    __slots__ = ("metric", "seconds", "start")

    def __init__(self, metric: TimingStats):
        self.metric = metric
        self.seconds: list[float] = []

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.seconds.append(time.perf_counter() - self.start)
        if len(self.seconds) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self.seconds:
            replay(self.metric, self.seconds)
            self.seconds.clear()


class BatchedStats:
    """Mixin, before the datatrove base class: ``class X(BatchedStats, PipelineStep)``."""

    @property
    def stats(self) -> Stats:
        self._flush_stats()
        return self.__dict__["stats"]

    @stats.setter
    def stats(self, value: Stats) -> None:
        self.__dict__["stats"] = value
        for name in ("_stat_buffers", "_stat_timer"):
            self.__dict__.pop(name, None)

    def stat_update(self, *labels, value: int = 1, unit: str | None = None) -> None:
        buffers = self.__dict__.get("_stat_buffers")
        if buffers is None:
            buffers = self.__dict__["_stat_buffers"] = ({}, {}, self.__dict__["stats"].stats)
        counts, values, metrics = buffers
        is_count = value.__class__ is int and value == 1 and unit is None
        for label in labels:
            if is_count:
                if label in counts:
                    counts[label] += 1
                    continue
                if label not in values and label not in metrics:
                    metrics.__getitem__(label)  # created now: the key order datatrove would give
                    counts[label] = 1
                    continue
            elif label in counts:  # a pure count so far: settle it, then replay values from here
                add_counts(metrics[label], counts.pop(label))
            entry = values.get(label)
            if entry is None:  # the buffer, and the metric it replays into
                entry = values[label] = ([], metrics[label])
            buffer, metric = entry
            if unit and metric.unit != unit:
                metric.unit = unit
            buffer.append(value)
            if len(buffer) >= FLUSH_AT:
                replay(metric, buffer)
                buffer.clear()

    def track_time(self, unit: str | None = None) -> _Timer:
        state = self.__dict__
        time_stats = state["stats"].time_stats
        if unit:
            time_stats.unit = unit
        timer = state.get("_stat_timer")
        if timer is None or timer.metric is not time_stats:
            if timer is not None:
                timer.flush()
            timer = state["_stat_timer"] = _Timer(time_stats)
        return timer

    def _flush_stats(self) -> None:
        """Replay every buffer; forget which labels were pure counts (the caller may change them)."""
        state = self.__dict__
        counts, values, metrics = state.pop("_stat_buffers", ({}, {}, None))
        for label, count in counts.items():
            add_counts(metrics[label], count)
        for buffer, metric in values.values():
            replay(metric, buffer)
        timer = state.get("_stat_timer")  # kept: a block being timed now still ends in it
        if timer is not None:
            timer.flush()
