"""Kafka source on confluent-kafka: partition ranges in; tables, malformed dead letters, stats, manifests out.

One element per partition. Bounded mode reads ``[start, end)`` captured when the job starts
and finishes; streaming mode is an unbounded splittable DoFn whose restriction is the
partition's offsets from ``start`` on. Each poll batch (``max_records`` or ``max_wait_ms``,
whichever comes first) becomes one Arrow table.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import WalltimeWatermarkEstimator
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Duration

from transforms.core.carried import CarriedBatch
from transforms.core.offsets import END_OF_PARTITION, PartitionRange, encode_offset_message
from transforms.sources.kafka_batch import PollOutputs, ReaderSpec, decode_poll_batch
from transforms.sources.kafka_poll import PartitionConsumers, backlog, poll_batch, position

TABLES, DEAD_LETTERS, STATS, MANIFESTS = "tables", "dead_letters", "stats", "manifests"
CATCH_UP_SECONDS = 5.0  # the longest a streaming read call keeps reading a backlog before it checkpoints
# A partition further behind than this many poll batches is caught up in longer calls, and a backlog (that, or a
# bounded read) in batches this many times larger: a table has a fixed cost (Arrow calls, Beam elements, a
# request plan) that a larger one pays over more records, and a batch within a backlog never waits to fill.
BACKLOG_BATCHES = 4


def tagged(outputs: PollOutputs, manifests: bool = True, carry: bool = False) -> Iterator[TaggedOutput]:
    """A decoded poll batch as the reader's tagged outputs; with ``carry``, its dead letters and manifest ride with
    its table to the invoke step and on to the sink, in the same bundle."""
    if carry:
        riders = [(DEAD_LETTERS, outputs.dead_letters)] if outputs.dead_letters is not None else []
        riders.append((MANIFESTS, encode_offset_message(outputs.partition, outputs.manifest)))
        yield TaggedOutput(TABLES, CarriedBatch(outputs.table, tuple(riders)))
        if outputs.stats is not None:
            yield TaggedOutput(STATS, outputs.stats)
        return
    if outputs.table is not None:
        yield TaggedOutput(TABLES, outputs.table)
    if outputs.dead_letters is not None:
        yield TaggedOutput(DEAD_LETTERS, outputs.dead_letters)
    if outputs.stats is not None:
        yield TaggedOutput(STATS, outputs.stats)
    if manifests:
        yield TaggedOutput(MANIFESTS, encode_offset_message(outputs.partition, outputs.manifest))


class _PartitionReaderFn(beam.DoFn):
    """A reader of partitions: its consumers are made on the worker and closed with it."""

    def __init__(self, spec: ReaderSpec) -> None:
        self.spec = spec

    def setup(self) -> None:
        self._consumers = PartitionConsumers(self.spec.conf)

    def teardown(self) -> None:
        consumers = getattr(self, "_consumers", None)
        if consumers is not None:
            consumers.close()


class _ReadRangeFn(_PartitionReaderFn):
    """Bounded: read ``[start, end)`` of one partition in poll batches, then finish."""

    def process(self, element: str) -> Iterator[Any]:
        spec = self.spec
        rng = PartitionRange.decode(element)
        at = rng.start
        while at < rng.end:
            consumer = self._consumers.at(rng.topic, rng.partition, at)
            size = spec.max_records * BACKLOG_BATCHES
            batch = poll_batch(consumer, size, max(spec.max_wait_ms, 1000), rng.end, next_offset=at)
            if not batch:
                # Compacted or transactional topics have offsets with no record: ask where we are.
                if position(consumer, rng.topic, rng.partition) >= rng.end:
                    break
                continue
            at = batch.offsets[-1] + 1
            yield from tagged(decode_poll_batch(spec, batch, at), carry=spec.carry)


def claim(tracker: Any, offsets: Sequence[int]) -> int:
    """How many of a batch's (increasing) offsets the tracker lets this call emit: one claim, of the last offset
    inside the restriction, covers every offset before it. A refused claim (the restriction split meanwhile)
    emits none; the residual restriction starts at or before them."""
    inside = bisect.bisect_left(offsets, tracker.current_restriction().stop)
    return inside if inside and tracker.try_claim(offsets[inside - 1]) else 0


class _PartitionTracker(OffsetRestrictionTracker):
    """Offsets of one partition are read by one reader: checkpoints yes, splitting the offset range no."""

    def try_split(self, fraction_of_remainder: float) -> Any:
        return super().try_split(0) if fraction_of_remainder == 0 else None


class _StreamRestrictions(RestrictionProvider):
    def initial_restriction(self, element: str) -> OffsetRange:
        rng = PartitionRange.decode(element)
        return OffsetRange(rng.start, rng.end)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return _PartitionTracker(restriction)

    def split(self, element: str, restriction: OffsetRange) -> Iterator[OffsetRange]:
        yield restriction

    def restriction_size(self, element: str, restriction: OffsetRange) -> int:
        return 1

    def is_bounded(self) -> bool:
        return False


_RESTRICTION = beam.DoFn.RestrictionParam(_StreamRestrictions())
_WATERMARK = beam.DoFn.WatermarkEstimatorParam(WalltimeWatermarkEstimator.default_provider())


class _ReadStreamFn(_PartitionReaderFn):
    """Streaming: an unbounded splittable DoFn per partition. A call reads poll batches while the partition
    holds a backlog of more than ``BACKLOG_BATCHES`` batches, up to ``CATCH_UP_SECONDS``, then checkpoints:
    caught up, a call is one batch, so a record waits no longer than ``max_wait_ms`` for its batch and its
    output is flushed and committed when the call ends; behind, the runner's per-call cost (a bundle, its
    flush and commit) is paid once per many batches.

    A runner may put the calls of several partitions in one bundle, run one after another. Their first batches
    close together, ``max_wait_ms`` after the bundle's first read began: every consumer fetches in the
    background meanwhile, so a later call takes what its partition holds by then instead of waiting out a
    ``max_wait_ms`` of its own, and a sparse stream's bundle lasts one ``max_wait_ms``, not one per partition."""

    def start_bundle(self) -> None:
        self._first_batches_close_by: float | None = None

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: str,
        tracker: Any = _RESTRICTION,
        _watermark: Any = _WATERMARK,
    ) -> Iterator[Any]:
        spec = self.spec
        rng = PartitionRange.decode(element)
        at = tracker.current_restriction().start
        consumer = self._consumers.at(rng.topic, rng.partition, at)
        now = time.monotonic()
        until = now + CATCH_UP_SECONDS
        if self._first_batches_close_by is None:
            self._first_batches_close_by = now + spec.max_wait_ms / 1000
        closes_by: float | None = self._first_batches_close_by
        checkpointed = False  # by the runner: the rest of the restriction is another call's

        def lagging() -> bool:
            return backlog(consumer, rng.topic, rng.partition, at) > BACKLOG_BATCHES * spec.max_records

        behind = lagging()
        reading = True
        while reading:
            size = spec.max_records * (BACKLOG_BATCHES if behind else 1)
            batch = poll_batch(consumer, size, spec.max_wait_ms, END_OF_PARTITION, next_offset=at, closes_by=closes_by)
            closes_by = None  # a backlog's further batches fill at once
            claimed = claim(tracker, batch.offsets)
            if claimed:
                at = batch.offsets[claimed - 1] + 1
                yield from tagged(decode_poll_batch(spec, batch.head(claimed), at), carry=spec.carry)
            checkpointed = claimed < len(batch)
            behind = lagging()
            reading = behind and not checkpointed and time.monotonic() < until
        if not checkpointed:
            tracker.defer_remainder(Duration.of(0) if batch else Duration.of(0.05))


class ReadKafkaTables(beam.PTransform):
    """PBegin -> tagged ``tables``, ``dead_letters`` (malformed), ``stats``, ``manifests``."""

    def __init__(self, ranges: list[PartitionRange], spec: ReaderSpec, streaming: bool) -> None:
        super().__init__()
        self.ranges = ranges
        self.spec = spec
        self.streaming = streaming

    def expand(self, p: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        fn = _ReadStreamFn(self.spec) if self.streaming else _ReadRangeFn(self.spec)
        return (
            p
            | "Start" >> beam.Impulse()  # not beam.Create: Prism rejects its pickled MaybeReshuffle
            | "Partitions"
            >> beam.FlatMap(lambda _, ranges=self.ranges: [r.encode() for r in ranges]).with_output_types(str)
            | "OnePerWorker" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(fn).with_outputs(TABLES, DEAD_LETTERS, STATS, MANIFESTS)
        )
