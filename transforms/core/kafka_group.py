"""Calls on the job's Kafka consumer group, shared by the reader (where to start) and the committer.

confluent-kafka is imported inside the functions: a Parquet job never needs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from transforms.core.offsets import PartitionId

log = logging.getLogger(__name__)

COMMIT_TIMEOUT_S = 60.0
T = TypeVar("T")


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached or the topic does not exist; the message says which."""


def consumer_config(bootstrap: str, group_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Our consumers never auto-commit: offsets move only after outputs are flushed."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        **extra,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }


def until_coordinated(call: Callable[[], T], timeout: float, sleep: Callable[[float], None] = time.sleep) -> T:
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
            sleep(0.5)


def commit(consumer: Any, offsets: list[tuple[PartitionId, int]]) -> None:
    """Commit ``next offset to read`` per partition for the consumer's group, synchronously."""
    from confluent_kafka import TopicPartition

    if not offsets:
        return
    done = [TopicPartition(p.topic, p.partition, offset) for p, offset in offsets]
    until_coordinated(lambda: consumer.commit(offsets=done, asynchronous=False), COMMIT_TIMEOUT_S)


def commit_offsets(conf: dict[str, Any], offsets: list[tuple[PartitionId, int]]) -> None:
    """:func:`commit` with a consumer of its own, closed again."""
    from confluent_kafka import Consumer

    if not offsets:
        return
    consumer = Consumer(conf)
    try:
        commit(consumer, offsets)
    finally:
        consumer.close()
