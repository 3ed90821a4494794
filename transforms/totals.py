"""The run's totals: every stage's RunStats counted into Beam metrics as it passes, and combined for the report.

Every stage that decides a record's fate (the invoke step, the Kafka reader's malformed
messages) emits RunStats; counting them in one place keeps the runner's counters (Flink,
Dataflow UIs) equal to the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.core.stats import RunStats

NAMESPACE = "smscore"


# The counter Beam's own IO connectors and RemoteModelHandler report throttled time in
# (apache_beam.io.components.adaptive_throttler.ThrottlingSignaler): Dataflow's autoscaler reads it
# and does not add workers to a step that is waiting on a throttled service.
THROTTLING_SECONDS = "cumulativeThrottlingSeconds"


class _CountFn(beam.DoFn):
    def setup(self) -> None:
        self._counters: dict[str, Any] = {}
        self._throttled_ms = 0  # not yet reported: the counter counts whole seconds

    def _inc(self, name: str, value: int) -> None:
        if value:
            counter = self._counters.get(name)
            if counter is None:
                counter = self._counters[name] = Metrics.counter(NAMESPACE, name)
            counter.inc(value)

    def process(self, stats: RunStats) -> Iterator[RunStats]:
        for name, value in stats.counters().items():
            self._inc(name, value)
        self._throttled_ms += stats.throttled_ms
        seconds, self._throttled_ms = divmod(self._throttled_ms, 1000)
        self._inc(THROTTLING_SECONDS, seconds)
        yield stats


class CountStats(beam.PTransform):
    """PCollection[RunStats] -> the same, each counted into the ``smscore`` Beam metrics."""

    def expand(self, stats: beam.PCollection) -> beam.PCollection:
        return stats | beam.ParDo(_CountFn())


class MergeStats(beam.CombineFn):
    """Combine per-batch RunStats into the run's totals."""

    def create_accumulator(self) -> RunStats:
        return RunStats()

    def add_input(self, acc: RunStats, stats: RunStats) -> RunStats:
        return acc.merge(stats)

    def merge_accumulators(self, accs: Any) -> RunStats:
        total = RunStats()
        for acc in accs:
            total.merge(acc)
        return total

    def extract_output(self, acc: RunStats) -> RunStats:
        return acc
