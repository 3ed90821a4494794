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
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from transforms.codecs.kafka_messages import encode_rows
from transforms.core.failpoints import failpoint
from transforms.core.kafka_group import COMMIT_TIMEOUT_S, until_coordinated
from transforms.core.offsets import Manifest, PartitionId, decode_offset_message
from transforms.sinks.kafka_delivery import Delivery

PREDICTIONS, DEAD_LETTERS, MANIFESTS = "predictions", "dead_letters", "manifests"
# librdkafka (2.16 at least) can wait forever in send_offsets_to_transaction, past its own timeout, once the group
# coordinator it cached is gone, e.g. after a broker restart (confluentinc/librdkafka#5511, #5456).
SEND_OFFSETS_TIMEOUT_S = 20.0
T = TypeVar("T")
log = logging.getLogger(__name__)


class IncompleteStretch(RuntimeError):
    """A bundle's poll batches of a partition are not contiguous, or not every record has an output."""


class ProducerWedged(RuntimeError):
    """A transactional producer's call did not return within its deadline; a new producer fences it."""


def with_deadline(call: Callable[[], T], timeout: float, what: str) -> T:
    """``call()``'s result or exception, or ProducerWedged once ``timeout`` passes (the call goes on in a daemon
    thread, holding its producer, until librdkafka lets it return)."""
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the caller as is
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name=what, daemon=True).start()
    if not done.wait(timeout):
        raise ProducerWedged(f"{what} did not return within {timeout:.0f} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


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


def initialized_producer(conf: dict[str, Any], tid: str) -> Any:
    """A transactional producer of ``tid``, initialized: the last producer of that id is fenced and its open
    transaction aborted."""
    from confluent_kafka import Producer

    producer = Producer({**conf, "transactional.id": tid})
    until_coordinated(lambda: producer.init_transactions(COMMIT_TIMEOUT_S), COMMIT_TIMEOUT_S)
    return producer


class Producers:
    """The transactional producers of a worker process, one per ``transactional.id``, shared by every DoFn instance
    (a second producer of the same id in the process would fence the first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}  # one per id: ids are made in parallel, each id once
        self._producers: dict[str, Any] = {}

    def get(self, conf: dict[str, Any], tid: str) -> Any:
        with self._id_lock(tid):
            producer = self._producers.get(tid)
            if producer is None:
                producer = self._producers[tid] = initialized_producer(conf, tid)
            return producer

    def prepare(self, conf: dict[str, Any], tids: list[str]) -> None:
        """Make the producers of ``tids`` not made yet, in parallel: a first ``init_transactions`` waits on the
        transaction coordinator (BENCHMARKS.md has its cost), and a bundle's first transactions would otherwise
        wait for them one after another."""
        missing = [tid for tid in tids if tid not in self._producers]
        if missing:
            with ThreadPoolExecutor(min(16, len(missing))) as pool:
                list(pool.map(lambda tid: self.get(conf, tid), missing))

    def drop(self, tid: str) -> None:
        """Forget a producer in an unusable state (fenced, fatal): the next transaction starts a new one."""
        with self._id_lock(tid):
            self._producers.pop(tid, None)

    def _id_lock(self, tid: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(tid, threading.Lock())


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
        group = consumer.consumer_group_metadata()
        with_deadline(
            lambda: producer.send_offsets_to_transaction(offsets, group, COMMIT_TIMEOUT_S),
            SEND_OFFSETS_TIMEOUT_S,
            "send_offsets_to_transaction",
        )
        producer.commit_transaction(COMMIT_TIMEOUT_S)
    except ProducerWedged:
        raise  # its call still runs: an abort would wait behind it; the next producer's fence aborts instead
    except Exception:
        _abort(producer)
        raise
    return produced


def transact_fencing(
    producers: Producers, conf: dict[str, Any], tid: str, consumer: Any, stretch: Stretch, topics: dict[str, str]
) -> int:
    """:func:`transact` with the partition's producer; a wedged producer is replaced once, in place: the new one's
    ``init_transactions`` fences it and aborts its open transaction, then the stretch is transacted again.
    Any other failure drops the producer and fails the bundle, whose retry starts a new one."""
    replaced = False
    while True:
        try:
            return transact(producers.get(conf, tid), consumer, stretch, topics)
        except ProducerWedged as exc:
            producers.drop(tid)
            if replaced:
                raise
            replaced = True
            log.warning("transaction %s: %s; a new producer fences it and runs the transaction again", tid, exc)
        except Exception:
            producers.drop(tid)
            raise


def fence(conf: dict[str, Any], group: str, partitions: list[PartitionId]) -> None:
    """Fence a previous run's producers before the group's offsets are read: a killed worker can leave a transaction
    open, and until it ends its partition's committed offset is unstable (a read_committed lookup waits, up to
    ``transaction.timeout.ms``)."""
    with ThreadPoolExecutor(min(16, len(partitions) or 1)) as pool:
        list(pool.map(lambda partition: initialized_producer(conf, transactional_id(group, partition)), partitions))


def _abort(producer: Any) -> None:
    from confluent_kafka import KafkaException

    try:
        producer.abort_transaction(COMMIT_TIMEOUT_S)
    except KafkaException:  # a fenced or fatal producer cannot abort; the caller drops it
        return
