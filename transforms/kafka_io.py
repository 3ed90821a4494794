"""Kafka source and sinks on confluent-kafka, and the offset commits that make delivery at-least-once.

Source: one element per partition. Bounded mode reads ``[start, end)`` captured
when the job starts and finishes; streaming mode is an unbounded splittable DoFn
whose restriction is the partition's offsets from ``start`` on. Each poll batch
(``max_records`` or ``max_wait_ms``, whichever comes first) becomes one Arrow table.

Sinks produce with an idempotent producer (``acks=all``), flush, and only then
acknowledge the offsets they wrote. Offsets are committed only when every
record of a contiguous stretch of a partition has been flushed to an output:
in streaming by a stateful DoFn per partition, in bounded mode once at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import apache_beam as beam
import pyarrow as pa
from apache_beam.coders import coders
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import WalltimeWatermarkEstimator
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms import userstate
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Duration

from transforms.errors import ErrorInfo
from transforms.ids import record_ids
from transforms.kafka_codec import Message, MessageDecoder, encode_rows, from_confluent
from transforms.outputs import dead_letter_rows
from transforms.stats import RunStats

log = logging.getLogger(__name__)

TABLES, DEAD_LETTERS, STATS, MANIFESTS = "tables", "dead_letters", "stats", "manifests"
END_OF_PARTITION = 2**63 - 1
MALFORMED = "MalformedRecord"
COMMIT_TIMEOUT_S = 60.0
T = TypeVar("T")


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached or the topic does not exist; the message says which."""


class PartitionRange(NamedTuple):
    topic: str
    partition: int
    start: int
    end: int  # exclusive; END_OF_PARTITION when streaming

    # Elements between stages travel as JSON text: Prism only decodes Beam's standard coders.
    def encode(self) -> str:
        return json.dumps(list(self))

    @classmethod
    def decode(cls, text: str) -> PartitionRange:
        return cls(*json.loads(text))


def consumer_config(bootstrap: str, group_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Our consumers never auto-commit: offsets move only after outputs are flushed."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        **extra,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }


def producer_config(bootstrap: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "linger.ms": 5, **extra, "enable.idempotence": True, "acks": "all"}


def until_coordinated(call: Callable[[], T], timeout: float) -> T:
    """Run a group-coordinator call, again while Kafka says the error is retriable.

    Right after a broker or group starts, commits and committed-offset lookups answer
    NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS for a moment; that is not a failure.
    """
    from confluent_kafka import KafkaError, KafkaException

    transient = {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError._WAIT_COORD,
    }
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0]
            if not (error.retriable() or error.code() in transient) or time.monotonic() >= deadline:
                raise
            log.info("Kafka group coordinator not ready (%s); retrying", error.name())
            time.sleep(0.5)


def plan_partitions(
    conf: dict[str, Any],
    topic: str,
    start: str,
    start_timestamp_ms: int | None = None,
    bounded: bool = True,
    timeout: float = 15.0,
) -> list[PartitionRange]:
    """Where each partition starts (committed, earliest, latest or a timestamp) and, if bounded, ends.

    Raises KafkaUnavailable within ``timeout`` when the broker or topic is missing.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(conf)
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"cannot reach Kafka at {conf['bootstrap.servers']} within {timeout:.0f} s ({exc.args[0]})"
            ) from None
        info = metadata.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise KafkaUnavailable(f"topic {topic!r} does not exist on {conf['bootstrap.servers']}")
        parts = [TopicPartition(topic, p) for p in sorted(info.partitions)]
        marks = {tp.partition: consumer.get_watermark_offsets(tp, timeout=timeout) for tp in parts}
        starts: dict[int, int] = {}
        if start == "committed":
            for tp in until_coordinated(lambda: consumer.committed(parts, timeout=timeout), timeout):
                starts[tp.partition] = tp.offset if tp.offset >= 0 else marks[tp.partition][0]
        elif start == "timestamp":
            wanted = [TopicPartition(topic, tp.partition, start_timestamp_ms or 0) for tp in parts]
            for tp in consumer.offsets_for_times(wanted, timeout=timeout):
                starts[tp.partition] = tp.offset if tp.offset >= 0 else marks[tp.partition][1]
        else:
            starts = {p: marks[p][0] if start == "earliest" else marks[p][1] for p in marks}
        return [
            PartitionRange(topic, p, starts[p], marks[p][1] if bounded else END_OF_PARTITION) for p in sorted(marks)
        ]
    finally:
        consumer.close()


def commit_offsets(conf: dict[str, Any], offsets: list[tuple[str, int, int]]) -> None:
    """Commit ``next offset to read`` per (topic, partition) for the group, synchronously."""
    from confluent_kafka import Consumer, TopicPartition

    if not offsets:
        return
    consumer = Consumer(conf)
    try:
        done = [TopicPartition(t, p, o) for t, p, o in offsets]
        until_coordinated(lambda: consumer.commit(offsets=done, asynchronous=False), COMMIT_TIMEOUT_S)
    finally:
        consumer.close()


@dataclass(frozen=True)
class DeadLetterSpec:
    """What a reader needs to turn undecodable messages into dead-letter rows."""

    passthrough_columns: list[str]
    id_columns: list[str]
    namespace: str
    endpoint_name: str
    schema: pa.Schema


@dataclass(frozen=True)
class ReaderSpec:
    conf: dict[str, Any]
    decoder: MessageDecoder
    dead_letters: DeadLetterSpec
    max_records: int
    max_wait_ms: int


class Manifest(NamedTuple):
    """A poll batch covers every offset in ``[first, next)`` of one partition with ``records`` records."""

    first: int
    next: int
    records: int


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def batch_outputs(spec: ReaderSpec, messages: list[Message], next_offset: int) -> Iterator[Any]:
    """Decode one poll batch: good rows as a table, malformed rows as dead letters, stats, a manifest."""
    decoded = spec.decoder.decode(messages)
    good, bad = decoded.split()
    if good.num_rows:
        yield TaggedOutput(TABLES, good)
    if bad.num_rows:
        dl = spec.dead_letters
        ids = record_ids(bad, dl.id_columns, dl.namespace)
        now = dt.datetime.now(dt.UTC)
        rows = [
            dead_letter_rows(
                bad.select(dl.passthrough_columns).slice(i, 1),
                ids.slice(i, 1),
                [messages[m.row].value or b""],
                ErrorInfo(MALFORMED, "Undecodable", m.reason, retryable=False),
                0,
                dl.endpoint_name,
                dl.schema,
                now,
            )
            for i, m in enumerate(decoded.malformed)
        ]
        yield TaggedOutput(DEAD_LETTERS, pa.concat_tables(rows))
        # The invoke step counts the rows it scores; the malformed ones are counted here.
        stats = RunStats(records_in=bad.num_rows, dead_letters_out=bad.num_rows)
        stats.dead_letters_by_class[MALFORMED] += bad.num_rows
        yield TaggedOutput(STATS, stats)
    first = messages[0]
    key = partition_key(first.topic, first.partition)
    yield TaggedOutput(MANIFESTS, (key, json.dumps(["m", first.offset, next_offset, len(messages)])))


class _PartitionConsumers:
    """One confluent consumer per assigned partition, made lazily on the worker, never pickled."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self._consumers: dict[tuple[str, int], Any] = {}

    def at(self, topic: str, partition: int, offset: int) -> Any:
        from confluent_kafka import Consumer, TopicPartition

        key = (topic, partition)
        consumer = self._consumers.get(key)
        if consumer is None:
            consumer = Consumer(self.conf)
            consumer.assign([TopicPartition(topic, partition, offset)])
            self._consumers[key] = consumer
            return consumer
        position = consumer.position([TopicPartition(topic, partition)])[0].offset
        if position != offset:
            consumer.seek(TopicPartition(topic, partition, offset))
        return consumer

    def close(self) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()


def poll_batch(
    consumer: Any, max_records: int, max_wait_ms: int, stop_before: int, clock: Callable[[], float] = time.monotonic
) -> list[Message]:
    """Up to ``max_records`` messages below ``stop_before``, closed ``max_wait_ms`` after the poll began.

    A record arrives after its batch began, so no record waits longer than ``max_wait_ms`` for it to fill.
    """
    from confluent_kafka import KafkaError, KafkaException

    batch: list[Message] = []
    deadline = clock() + max_wait_ms / 1000
    while len(batch) < max_records:
        remaining = deadline - clock()
        if remaining <= 0:
            break
        for msg in consumer.consume(max_records - len(batch), timeout=remaining):
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            if msg.offset() >= stop_before:
                return batch
            batch.append(from_confluent(msg))
        if batch and batch[-1].offset + 1 >= stop_before:
            break
    return batch


class _PartitionReaderFn(beam.DoFn):
    """A reader of partitions: its consumers are made on the worker and closed with it."""

    def __init__(self, spec: ReaderSpec) -> None:
        self.spec = spec

    def setup(self) -> None:
        self._consumers = _PartitionConsumers(self.spec.conf)

    def teardown(self) -> None:
        consumers = getattr(self, "_consumers", None)
        if consumers is not None:
            consumers.close()


class _ReadRangeFn(_PartitionReaderFn):
    """Bounded: read ``[start, end)`` of one partition in poll batches, then finish."""

    def process(self, element: str) -> Iterator[Any]:
        spec = self.spec
        rng = PartitionRange.decode(element)
        position = rng.start
        while position < rng.end:
            consumer = self._consumers.at(rng.topic, rng.partition, position)
            batch = poll_batch(consumer, spec.max_records, max(spec.max_wait_ms, 1000), rng.end)
            if not batch:
                # Compacted or transactional topics have offsets with no record: ask where we are.
                from confluent_kafka import TopicPartition

                now_at = consumer.position([TopicPartition(rng.topic, rng.partition)])[0].offset
                if now_at >= rng.end:
                    break
                continue
            position = batch[-1].offset + 1
            yield from batch_outputs(spec, batch, position)


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
    """Streaming: an unbounded splittable DoFn per partition; one poll batch per call, then a checkpoint."""

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: str,
        tracker: Any = _RESTRICTION,
        _watermark: Any = _WATERMARK,
    ) -> Iterator[Any]:
        spec = self.spec
        rng = PartitionRange.decode(element)
        start = tracker.current_restriction().start
        consumer = self._consumers.at(rng.topic, rng.partition, start)
        batch = poll_batch(consumer, spec.max_records, spec.max_wait_ms, END_OF_PARTITION)
        claimed = [m for m in batch if tracker.try_claim(m.offset)]
        if claimed:
            yield from batch_outputs(spec, claimed, claimed[-1].offset + 1)
        tracker.defer_remainder(Duration.of(0) if batch else Duration.of(0.05))


class ReadKafkaTables(beam.PTransform):
    """Partition ranges -> tagged ``tables``, ``dead_letters`` (malformed), ``stats``, ``manifests``."""

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


class _ProduceFn(beam.DoFn):
    """Produce each row as a message, flush, then acknowledge the input offsets it covered."""

    def __init__(self, conf: dict[str, Any], topic: str) -> None:
        self.conf = conf
        self.topic = topic

    def setup(self) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(self.conf)

    def process(self, table: pa.Table) -> Iterator[Any]:
        errors: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        for message in encode_rows(table):
            while True:
                try:
                    self._producer.produce(
                        self.topic, message.value, message.key, headers=message.headers, on_delivery=delivered
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain
                    self._producer.poll(0.1)
        left = self._producer.flush(60)
        if errors or left:
            # Raising makes the runner retry the bundle: duplicates are possible, losses are not.
            raise RuntimeError(f"{len(errors) + left} messages to {self.topic} not delivered: {errors[:1]}")
        yield from acks(table)

    def teardown(self) -> None:
        producer = getattr(self, "_producer", None)
        if producer is not None:
            producer.flush(30)


def acks(table: pa.Table) -> Iterator[tuple[str, str]]:
    """(partition key, JSON ["a", *offsets]) for each partition the rows of ``table`` came from."""
    if "kafka_offset" not in table.column_names:
        return
    grouped = table.group_by(["kafka_topic", "kafka_partition"]).aggregate([("kafka_offset", "list")])
    for row in grouped.to_pylist():
        yield partition_key(row["kafka_topic"], row["kafka_partition"]), json.dumps(["a", *row["kafka_offset_list"]])


class WriteKafka(beam.PTransform):
    """Arrow tables -> messages on ``topic``; outputs the acknowledgements of what was flushed."""

    def __init__(self, conf: dict[str, Any], topic: str) -> None:
        super().__init__()
        self._fn = _ProduceFn(conf, topic)

    def expand(self, tables: beam.PCollection) -> beam.PCollection:
        return tables | beam.ParDo(self._fn)


@dataclass
class PartitionLedger:
    """Which poll batches of one partition are fully written; what may be committed next."""

    committed: int | None = None
    manifests: dict[int, Manifest] = field(default_factory=dict)  # by first offset
    acked: dict[int, set[int]] = field(default_factory=dict)  # manifest first -> offsets written
    early: set[int] = field(default_factory=set)  # offsets acked before their manifest arrived

    def add_manifest(self, m: Manifest) -> None:
        if m.first in self.manifests or (self.committed is not None and m.next <= self.committed):
            return  # a replayed batch
        self.manifests[m.first] = m
        mine = {o for o in self.early if m.first <= o < m.next}
        self.early -= mine
        self.acked.setdefault(m.first, set()).update(mine)

    def add_acks(self, offsets: list[int]) -> None:
        for offset in offsets:
            owner = next((m for m in self.manifests.values() if m.first <= offset < m.next), None)
            if owner is None:
                if self.committed is None or offset >= self.committed:
                    self.early.add(offset)
            else:
                self.acked[owner.first].add(offset)

    def advance(self) -> int | None:
        """The new offset to commit, if the complete batches from the last commit on moved it."""
        moved = None
        while self.manifests:
            head = self.manifests[min(self.manifests)]
            if self.committed is not None and head.first != self.committed:
                break  # a gap: an earlier batch has not been seen yet
            if len(self.acked.get(head.first, ())) < head.records:
                break
            del self.manifests[head.first]
            self.acked.pop(head.first, None)
            self.committed = moved = head.next
        return moved


_LEDGER = userstate.ReadModifyWriteStateSpec("ledger", coders.PickleCoder())
_LEDGER_PARAM = beam.DoFn.StateParam(_LEDGER)


class _CommitFn(beam.DoFn):
    """Per partition (stateful): commit the offset up to which every record has been written."""

    def __init__(self, conf: dict[str, Any], starts: dict[str, int]) -> None:
        self.conf = conf
        self.starts = starts

    def setup(self) -> None:
        from confluent_kafka import Consumer

        self._consumer = Consumer(self.conf)

    def process(self, element: tuple[str, str], ledger: Any = _LEDGER_PARAM) -> Iterator[tuple[str, int]]:
        from confluent_kafka import TopicPartition

        key, text = element
        kind, *payload = json.loads(text)
        state = ledger.read() or PartitionLedger(committed=self.starts.get(key))
        if kind == "m":
            state.add_manifest(Manifest(*payload))
        else:
            state.add_acks(payload)
        moved = state.advance()
        ledger.write(state)
        if moved is not None:
            topic, partition = key.rsplit(":", 1)
            done = [TopicPartition(topic, int(partition), moved)]
            until_coordinated(lambda: self._consumer.commit(offsets=done, asynchronous=False), COMMIT_TIMEOUT_S)
            log.info("committed %s at offset %d", key, moved)
            yield key, moved

    def teardown(self) -> None:
        consumer = getattr(self, "_consumer", None)
        if consumer is not None:
            consumer.close()


class CommitWhenWritten(beam.PTransform):
    """Streaming: manifests + acks from every sink -> offsets committed per partition, contiguously."""

    def __init__(self, conf: dict[str, Any], ranges: list[PartitionRange]) -> None:
        super().__init__()
        self.conf = conf
        self.starts = {partition_key(r.topic, r.partition): r.start for r in ranges}

    def expand(self, pcolls: tuple[beam.PCollection, ...]) -> beam.PCollection:
        return (
            pcolls
            | beam.Flatten()
            | "Typed" >> beam.Map(lambda kv: kv).with_output_types(tuple[str, str])
            | beam.ParDo(_CommitFn(self.conf, self.starts))
        )


class _CommitRangesFn(beam.DoFn):
    def __init__(self, conf: dict[str, Any], ranges: list[PartitionRange]) -> None:
        self.conf = conf
        self.ranges = ranges

    def process(self, _done: Any) -> Iterator[int]:
        commit_offsets(self.conf, [(r.topic, r.partition, r.end) for r in self.ranges if r.end > r.start])
        yield len(self.ranges)


class CommitAtEnd(beam.PTransform):
    """Bounded: once every sink has finished (``done`` fires once), commit each range's end offset."""

    def __init__(self, conf: dict[str, Any], ranges: list[PartitionRange]) -> None:
        super().__init__()
        self._fn = _CommitRangesFn(conf, ranges)

    def expand(self, done: beam.PCollection) -> beam.PCollection:
        return done | beam.ParDo(self._fn)
