"""Producing messages to Kafka and making sure they are durable (acks=all) before anything is acknowledged."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from transforms.codecs.kafka_messages import OutputMessage

FLUSH_TIMEOUT_S = 60.0


class UndeliveredMessages(RuntimeError):
    """Messages the broker did not acknowledge: raising makes the runner retry the bundle
    (duplicates are possible, losses are not)."""


def producer_config(bootstrap: str, extra: dict[str, Any]) -> dict[str, Any]:
    """An idempotent producer that waits for every in-sync replica."""
    return {"bootstrap.servers": bootstrap, "linger.ms": 5, **extra, "enable.idempotence": True, "acks": "all"}


def deliver(producer: Any, topic: str, messages: Iterable[OutputMessage], timeout: float = FLUSH_TIMEOUT_S) -> None:
    """Produce every message, then flush; raise :class:`UndeliveredMessages` unless all are acknowledged."""
    errors: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for message in messages:
        while True:
            try:
                producer.produce(topic, message.value, message.key, headers=message.headers, on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let deliveries drain
                producer.poll(0.1)
    left = producer.flush(timeout)
    if errors or left:
        raise UndeliveredMessages(f"{len(errors) + left} messages to {topic} not delivered: {errors[:1]}")
