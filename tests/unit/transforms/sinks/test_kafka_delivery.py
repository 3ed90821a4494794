"""Delivery to Kafka: a full local queue is waited out; anything not acknowledged fails the bundle."""

import pytest

from transforms.codecs.kafka_messages import OutputMessages
from transforms.sinks.kafka_delivery import UndeliveredMessages, deliver, producer_config


class StubProducer:
    """confluent-kafka's Producer surface: ``produce`` (BufferError when full), ``poll``, ``flush``."""

    def __init__(self, full_times: int = 0, failed: int = 0, left: int = 0, full_after: int = 0) -> None:
        self.full_times, self.failed, self.left, self.full_after = full_times, failed, left, full_after
        self.produced: list[tuple] = []
        self.polls: list[float] = []
        self._callbacks: list = []

    def produce(
        self, topic, value=None, key=None, partition=-1, callback=None, on_delivery=None, timestamp=0, headers=None
    ):
        if self.full_times and len(self.produced) >= self.full_after:
            self.full_times -= 1
            raise BufferError("queue full")
        self.produced.append((topic, key, value, headers))
        self._callbacks.append(callback or on_delivery)

    def poll(self, timeout):
        self.polls.append(timeout)

    def flush(self, timeout):
        for i, callback in enumerate(self._callbacks):
            callback("broker said no" if i < self.failed else None, None)
        return self.left


MESSAGES = OutputMessages([b"k", None, b"m"], [b"{}", b"{}", b"{}"], [[("inference_id", b"a")], [], []])


@pytest.mark.parametrize("full_after", [0, 1, 2])
def test_every_message_is_produced_once_in_order_even_when_the_local_queue_is_full(full_after):
    producer = StubProducer(full_times=3, full_after=full_after)
    deliver(producer, "out", MESSAGES)
    assert [p[1] for p in producer.produced] == [b"k", None, b"m"] and producer.polls == [0.1, 0.1, 0.1, 0]
    assert producer.produced[0] == ("out", b"k", b"{}", [("inference_id", b"a")])


@pytest.mark.parametrize(("failed", "left"), [(1, 0), (0, 1)])
def test_a_message_not_acknowledged_fails_the_delivery(failed, left):
    with pytest.raises(UndeliveredMessages, match="1 messages to out not delivered"):
        deliver(StubProducer(failed=failed, left=left), "out", MESSAGES)


def test_the_producer_is_idempotent_and_waits_for_all_replicas_whatever_the_user_sets():
    conf = producer_config("b:9092", {"acks": "1", "enable.idempotence": False, "linger.ms": 20})
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True and conf["linger.ms"] == 20
    assert conf["delivery.report.only.error"] is True  # a failure still reaches the message's callback


def produce_fn(producer: StubProducer, acknowledge: bool = True):  # type: ignore[no-untyped-def]
    from transforms.sinks.kafka_produce import _ProduceFn

    fn = _ProduceFn({}, "out", acknowledge)
    fn._producer = producer  # what setup() makes on a worker
    return fn


def kafka_rows(partition: int, offsets: list[int]):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    n = len(offsets)
    return pa.table(
        {
            "prediction": [1.0] * n,
            "inference_id": [f"id-{o}" for o in offsets],
            "kafka_topic": ["in"] * n,
            "kafka_partition": pa.array([partition] * n, pa.int32()),
            "kafka_offset": pa.array(offsets, pa.int64()),
        }
    )


def test_a_bundle_is_flushed_once_and_its_offsets_acknowledged_only_after_the_flush():
    from apache_beam.transforms.window import GlobalWindow

    from transforms.core.offsets import decode_offset_message

    producer = StubProducer()
    flushes = []
    flush = producer.flush
    producer.flush = lambda timeout: flushes.append(len(producer.produced)) or flush(timeout)  # type: ignore[method-assign]
    fn = produce_fn(producer)
    fn.start_bundle()
    for table in (kafka_rows(0, [0, 1]), kafka_rows(1, [7]), kafka_rows(0, [2])):
        assert fn.process(table, GlobalWindow(), 0) is None  # produced; nothing acknowledged yet
    acked = list(fn.finish_bundle())
    assert flushes == [4]  # one flush, after every message of the bundle was produced
    decoded = sorted((key, sorted(decode_offset_message(text).offsets())) for key, text in (a.value for a in acked))
    assert [offsets for _, offsets in decoded] == [[0, 1], [2], [7]] and decoded[0][0] == decoded[1][0]


def test_a_bundle_whose_messages_are_not_all_delivered_acknowledges_nothing():
    fn = produce_fn(StubProducer(failed=1))
    fn.start_bundle()
    fn.process(kafka_rows(0, [0, 1]), None, 0)
    with pytest.raises(UndeliveredMessages):
        list(fn.finish_bundle())


def test_a_bounded_read_s_sink_flushes_each_bundle_and_acknowledges_nothing():
    producer = StubProducer()
    fn = produce_fn(producer, acknowledge=False)  # its range is committed once every sink has finished
    fn.start_bundle()
    fn.process(kafka_rows(0, [0, 1]), None, 0)
    assert list(fn.finish_bundle()) == [] and len(producer.produced) == 2
