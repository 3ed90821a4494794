"""Producing messages to Kafka and making sure they are durable (acks=all) before anything is acknowledged."""

from __future__ import annotations

import collections
import itertools
import operator
from typing import Any

from transforms.codecs.kafka_messages import OutputMessages

FLUSH_TIMEOUT_S = 60.0
_SECOND = operator.itemgetter(1)


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

    def produce(self, messages: OutputMessages) -> None:
        """Queue every message (a full local queue is waited out); serves the delivery reports due so far."""
        start = 0
        while (refused := self._produce_from(messages, start)) is not None:
            self.producer.poll(0.1)  # the local queue is full: let deliveries drain
            start = refused
        self.producer.poll(0)

    def _produce_from(self, messages: OutputMessages, start: int) -> int | None:
        """Produce ``messages[start:]``; the index of the first the full queue refused, or None.

        The loop runs in C (starmap over zipped columns, arguments by position): a Python loop with a
        try block and keywords per message costs more than the produce call itself. ``sent`` counts the
        messages handed to ``produce``, so a refused one is known by the count.
        """
        rest = itertools.repeat  # topic, partition (any), callback, timestamp (now) are the same for all
        calls = zip(
            rest(self.topic),
            itertools.islice(messages.values, start, None),
            itertools.islice(messages.keys, start, None),
            rest(-1),
            rest(self._delivered),
            rest(None),
            rest(0),
            itertools.islice(messages.headers, start, None),
            strict=False,  # the repeats are endless
        )
        sent = itertools.count(start)
        try:
            collections.deque(
                itertools.starmap(self.producer.produce, map(_SECOND, zip(sent, calls, strict=False))), maxlen=0
            )
        except BufferError:
            return next(sent) - 1
        return None

    def confirm(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Flush; raise :class:`UndeliveredMessages` unless every message produced so far is acknowledged."""
        left = self.producer.flush(timeout)
        errors, self._errors = self._errors, []
        if errors or left:
            raise UndeliveredMessages(f"{len(errors) + left} messages to {self.topic} not delivered: {errors[:1]}")


def deliver(producer: Any, topic: str, messages: OutputMessages, timeout: float = FLUSH_TIMEOUT_S) -> None:
    """Produce every message, then flush; raise :class:`UndeliveredMessages` unless all are acknowledged."""
    delivery = Delivery(producer, topic)
    delivery.produce(messages)
    delivery.confirm(timeout)
