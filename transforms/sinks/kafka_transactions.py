"""Exactly-once Kafka -> Kafka: the outputs of a stretch of one input partition's offsets, and the commit of those
offsets for the job's consumer group, in one Kafka transaction.

The sink runs in the bundle that read and scored the stretch (the reader's malformed-message dead letters and
manifests ride through the invoke step, :class:`transforms.core.carried.CarriedBatch`), so at the end of a bundle
every poll batch it read has all its outputs: per partition, one transaction produces them and commits the end
of the bundle's stretch, both or neither. Nothing waits in runner state.

Each input partition has its own ``transactional.id``: a restarted or replacement worker's producer fences the
previous one. Before each transaction the group's committed offset is read from Kafka, which only these
transactions move: rows below it were committed already (a bundle the runner retried after its commit) and are
not produced twice, and a stretch that starts past it (a gap) fails the bundle instead of skipping records.
A consumer with ``isolation.level=read_committed`` sees each input offset's output exactly once.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from transforms.codecs.kafka_messages import encode_rows
from transforms.core.failpoints import failpoint
from transforms.core.kafka_group import COMMIT_TIMEOUT_S, until_coordinated
from transforms.core.offsets import Manifest, PartitionId, decode_offset_message
from transforms.sinks.kafka_delivery import Delivery

PREDICTIONS, DEAD_LETTERS, MANIFESTS = "predictions", "dead_letters", "manifests"


class IncompleteStretch(RuntimeError):
    """A bundle's poll batches of a partition are not contiguous, or not every record has an output."""


def transactional_id(group: str, partition: PartitionId) -> str:
    """One per input partition of the job's consumer group: whoever scores that partition next fences the last."""
    return f"smscore-{group}-{partition.topic}-{partition.partition}"


def by_partition(table: pa.Table) -> Iterator[tuple[PartitionId, pa.Table]]:
    """The rows of ``table`` per input partition."""
    pairs = zip(table["kafka_topic"].to_pylist(), table["kafka_partition"].to_pylist(), strict=True)
    for topic, partition in sorted(set(pairs)):
        mine = pc.and_(pc.equal(table["kafka_topic"], topic), pc.equal(table["kafka_partition"], partition))
        yield PartitionId(topic, partition), table.filter(mine)


@dataclass(frozen=True, kw_only=True)
class Stretch:
    """Offsets ``[first, end)`` of one partition read in one bundle, and the outputs of all their records."""

    partition: PartitionId
    first: int
    end: int
    rows: list[tuple[str, pa.Table]]


@dataclass
class _Partition:
    manifests: list[Manifest] = field(default_factory=list)
    rows: list[tuple[str, pa.Table]] = field(default_factory=list)


class BundleOutputs:
    """What one bundle read and scored, per input partition: the poll batches' manifests and the output rows."""

    def __init__(self) -> None:
        self._partitions: dict[PartitionId, _Partition] = defaultdict(_Partition)

    def add(self, tag: str, value: Any) -> None:
        """``(tag, value)`` as the invoke step emits it: an output table, or a manifest (partition key, JSON)."""
        if tag == MANIFESTS:
            key, text = value
            manifest = decode_offset_message(text)
            if isinstance(manifest, Manifest):
                self._partitions[PartitionId.from_key(key)].manifests.append(manifest)
            return
        for partition, rows in by_partition(value):
            self._partitions[partition].rows.append((tag, rows))

    def stretches(self) -> list[Stretch]:
        """One contiguous stretch per partition; :class:`IncompleteStretch` if a batch misses outputs or a gap."""
        out = []
        for partition, part in self._partitions.items():
            batches = sorted(part.manifests, key=lambda m: m.first)
            if not batches:
                raise IncompleteStretch(f"{partition}: outputs without the manifest of their poll batch")
            for before, after in itertools.pairwise(batches):
                if before.next != after.first:
                    raise IncompleteStretch(f"{partition}: poll batches {before} and {after} leave a gap")
            records = sum(m.records for m in batches)
            written = sum(t.num_rows for _, t in part.rows)
            if written != records:
                raise IncompleteStretch(f"{partition}: {written} outputs for {records} records read")
            out.append(Stretch(partition=partition, first=batches[0].first, end=batches[-1].next, rows=part.rows))
        return out


class Producers:
    """The transactional producers of a worker process, one per ``transactional.id``, shared by every DoFn instance
    (a second producer of the same id in the process would fence the first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._producers: dict[str, Any] = {}

    def get(self, conf: dict[str, Any], tid: str) -> Any:
        with self._lock:
            producer = self._producers.get(tid)
            if producer is None:
                from confluent_kafka import Producer

                producer = Producer({**conf, "transactional.id": tid})
                until_coordinated(lambda: producer.init_transactions(COMMIT_TIMEOUT_S), COMMIT_TIMEOUT_S)
                self._producers[tid] = producer
            return producer

    def drop(self, tid: str) -> None:
        """Forget a producer in an unusable state (fenced, fatal): the next transaction starts a new one."""
        with self._lock:
            self._producers.pop(tid, None)


PRODUCERS = Producers()


def transact(producer: Any, consumer: Any, stretch: Stretch, topics: dict[str, str]) -> int:
    """Produce the stretch's rows not yet committed and commit its end for the consumer's group, in one transaction.

    Returns the messages produced (0 when the group had committed the whole stretch already).
    """
    from confluent_kafka import TopicPartition

    partition = stretch.partition
    position = TopicPartition(partition.topic, partition.partition)
    (committed,) = until_coordinated(lambda: consumer.committed([position], COMMIT_TIMEOUT_S), COMMIT_TIMEOUT_S)
    done = committed.offset
    if done >= stretch.end:
        return 0
    if 0 <= done < stretch.first:  # never commit over records nobody produced
        raise IncompleteStretch(f"{partition}: committed at {done}, this bundle read from {stretch.first}")
    producer.begin_transaction()
    produced = 0
    try:
        for tag, table in stretch.rows:
            fresh = table.filter(pc.greater_equal(table["kafka_offset"], done)) if done > stretch.first else table
            Delivery(producer, topics[tag]).produce(encode_rows(fresh))
            produced += fresh.num_rows
        failpoint("transaction-before-commit")  # produced, not committed: what a crash here must not duplicate
        offsets = [TopicPartition(partition.topic, partition.partition, stretch.end)]
        producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), COMMIT_TIMEOUT_S)
        producer.commit_transaction(COMMIT_TIMEOUT_S)
    except Exception:
        _abort(producer)
        raise
    return produced


def _abort(producer: Any) -> None:
    from confluent_kafka import KafkaException

    try:
        producer.abort_transaction(COMMIT_TIMEOUT_S)
    except KafkaException:  # a fenced or fatal producer cannot abort; the caller drops it
        return
