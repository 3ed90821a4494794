"""Delivery to Kafka: a full local queue is waited out; anything not acknowledged fails the bundle."""

import pytest

from transforms.codecs.kafka_messages import OutputMessage
from transforms.sinks.kafka_delivery import UndeliveredMessages, deliver, producer_config


class StubProducer:
    """confluent-kafka's Producer surface: ``produce`` (BufferError when full), ``poll``, ``flush``."""

    def __init__(self, full_times: int = 0, failed: int = 0, left: int = 0) -> None:
        self.full_times, self.failed, self.left = full_times, failed, left
        self.produced: list[tuple] = []
        self.polls = 0
        self._callbacks: list = []

    def produce(self, topic, value, key, headers, on_delivery):
        if self.full_times:
            self.full_times -= 1
            raise BufferError("queue full")
        self.produced.append((topic, key, value, headers))
        self._callbacks.append(on_delivery)

    def poll(self, timeout):
        self.polls += 1

    def flush(self, timeout):
        for i, callback in enumerate(self._callbacks):
            callback("broker said no" if i < self.failed else None, None)
        return self.left


MESSAGES = [OutputMessage(b"k", b"{}", [("inference_id", b"a")]), OutputMessage(None, b"{}", [])]


def test_every_message_is_produced_once_even_when_the_local_queue_is_full():
    producer = StubProducer(full_times=3)
    deliver(producer, "out", MESSAGES)
    assert [p[1] for p in producer.produced] == [b"k", None] and producer.polls == 3


@pytest.mark.parametrize(("failed", "left"), [(1, 0), (0, 1)])
def test_a_message_not_acknowledged_fails_the_delivery(failed, left):
    with pytest.raises(UndeliveredMessages, match="1 messages to out not delivered"):
        deliver(StubProducer(failed=failed, left=left), "out", MESSAGES)


def test_the_producer_is_idempotent_and_waits_for_all_replicas_whatever_the_user_sets():
    conf = producer_config("b:9092", {"acks": "1", "enable.idempotence": False, "linger.ms": 20})
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True and conf["linger.ms"] == 20
