"""Polling one partition: a consumer per assigned partition, and poll batches closed by size or time."""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from typing import Any

from transforms.sources.kafka_decode import MessageBatch

_ERROR = operator.methodcaller("error")
STREAM_FETCH_MIN_BYTES = 16 * 1024


def stream_fetch_settings(max_wait_ms: int) -> dict[str, int]:
    """librdkafka settings for a stream's consumers: a fetch waits for 16 KiB or a fifth of ``max_wait_ms``.

    With librdkafka's defaults (1 byte, 500 ms) a partition's consumer fetches as soon as one message is there:
    at a few thousand messages/s that is hundreds of small fetches a second, and the broker's CPU goes to them.
    A record then waits up to a fifth of ``max_wait_ms`` longer to be read, and still no longer than
    ``max_wait_ms`` for its batch once read."""
    return {"fetch.min.bytes": STREAM_FETCH_MIN_BYTES, "fetch.wait.max.ms": max(1, max_wait_ms // 5)}


class PartitionConsumers:
    """One confluent consumer per assigned partition, made lazily on the worker, never pickled.

    A consumer is moved only when asked for another offset than it reads next: a seek drops what it has
    fetched, so a needless one costs the partition a fetch round trip on every call.
    """

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self._consumers: dict[tuple[str, int], Any] = {}
        self._placed: dict[tuple[str, int], int] = {}  # the offset each was last assigned or sought to

    def at(self, topic: str, partition: int, offset: int) -> Any:
        from confluent_kafka import Consumer, TopicPartition

        key = (topic, partition)
        consumer = self._consumers.get(key)
        if consumer is None:
            consumer = Consumer(self.conf)
            consumer.assign([TopicPartition(topic, partition, offset)])
            self._consumers[key], self._placed[key] = consumer, offset
            return consumer
        current = position(consumer, topic, partition)
        if current < 0:  # nothing consumed since it was placed: librdkafka has no position yet
            current = self._placed[key]
        if current != offset:
            consumer.seek(TopicPartition(topic, partition, offset))
            self._placed[key] = offset
        return consumer

    def close(self) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()
        self._placed.clear()


def position(consumer: Any, topic: str, partition: int) -> int:
    """The offset the consumer reads next in this partition."""
    from confluent_kafka import TopicPartition

    return int(consumer.position([TopicPartition(topic, partition)])[0].offset)


def backlog(consumer: Any, topic: str, partition: int, next_offset: int) -> int:
    """How many messages the partition holds from ``next_offset`` on, by the high watermark the consumer last
    fetched (cached: no broker round trip)."""
    from confluent_kafka import TopicPartition

    _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
    return max(int(high) - next_offset, 0)


def poll_batch(
    consumer: Any,
    max_records: int,
    max_wait_ms: int,
    stop_before: int,
    *,
    next_offset: int,
    closes_by: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> MessageBatch:
    """Up to ``max_records`` messages from ``next_offset`` on and below ``stop_before``, closed ``max_wait_ms``
    after the poll began, or at ``closes_by`` (on ``clock``) if that comes first.

    A record arrives after its batch began, so no record waits longer than ``max_wait_ms`` for it to fill. A
    batch whose time is already up still takes what the consumer holds. Never more messages are asked for than
    offsets remain below ``stop_before``: librdkafka waits out the timeout for a count it cannot reach, so a
    bounded read would wait ``max_wait_ms`` at the end of every partition.
    """
    from confluent_kafka import KafkaError, KafkaException

    taken: list[Any] = []  # the client's messages, converted column by column once the batch closes
    deadline = clock() + max_wait_ms / 1000
    if closes_by is not None:
        deadline = min(deadline, closes_by)
    at = next_offset
    while len(taken) < max_records:
        wanted = min(max_records - len(taken), stop_before - at)
        if wanted <= 0:
            break
        got = consumer.consume(wanted, timeout=max(deadline - clock(), 0.0))
        if any(map(_ERROR, got)):  # rare: the end of a partition, or an error to raise
            for msg in got:
                error = msg.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
            got = [msg for msg in got if msg.error() is None]
        past_end = bool(got) and got[-1].offset() >= stop_before
        if past_end:
            got = [msg for msg in got if msg.offset() < stop_before]
        taken += got
        if got:
            at = got[-1].offset() + 1
        if past_end or at >= stop_before or clock() >= deadline:
            break
    return MessageBatch.from_confluent(taken)
