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
    """An idempotent producer that waits for every in-sync replica. It reports failed deliveries only: a
    delivered message is known from the flush, so a Python callback per message would be spent on nothing."""
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": 5,
        **extra,
        "enable.idempotence": True,
        "acks": "all",
        "delivery.report.only.error": True,
    }


class Delivery:
    """Messages produced to one topic, confirmed durable together by one flush: a sink flushes once per bundle,
    not once per table, so the broker's round trips overlap instead of serializing the stage."""

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self._errors: list[str] = []

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._errors.append(str(err))

    def produce(self, messages: Iterable[OutputMessage]) -> None:
        """Queue every message (a full local queue is waited out); serves the delivery reports due so far."""
        producer = self.producer
        for message in messages:
            while True:
                try:
                    producer.produce(
                        self.topic, message.value, message.key, headers=message.headers, on_delivery=self._delivered
                    )
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    producer.poll(0.1)
        producer.poll(0)

    def confirm(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Flush; raise :class:`UndeliveredMessages` unless every message produced so far is acknowledged."""
        left = self.producer.flush(timeout)
        errors, self._errors = self._errors, []
        if errors or left:
            raise UndeliveredMessages(f"{len(errors) + left} messages to {self.topic} not delivered: {errors[:1]}")


def deliver(producer: Any, topic: str, messages: Iterable[OutputMessage], timeout: float = FLUSH_TIMEOUT_S) -> None:
    """Produce every message, then flush; raise :class:`UndeliveredMessages` unless all are acknowledged."""
    delivery = Delivery(producer, topic)
    delivery.produce(messages)
    delivery.confirm(timeout)
