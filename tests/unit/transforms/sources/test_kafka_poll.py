"""Poll batches close when full, at their range's end, or max_wait_ms after they began."""


class FakeMessage:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def error(self):
        return None

    def offset(self) -> int:
        return self._offset

    def timestamp(self):
        return (1, 0)

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0

    def key(self):
        return None

    def value(self) -> bytes:
        return b"{}"

    def headers(self):
        return None


class TrickleConsumer:
    """Hands out one message per consume() call and lets `step` seconds pass on a fake clock."""

    def __init__(self, clock: list[float], step: float) -> None:
        self.clock, self.step, self.next, self.timeouts = clock, step, 0, []

    def consume(self, num: int, timeout: float):
        self.timeouts.append(timeout)
        self.clock[0] += min(self.step, timeout)
        if self.step > timeout:
            return []
        self.next += 1
        return [FakeMessage(self.next - 1)]


def test_a_batch_closes_at_max_wait_even_if_not_full():
    from transforms.sources.kafka_poll import poll_batch

    now = [0.0]
    consumer = TrickleConsumer(now, step=0.1)
    batch = poll_batch(
        consumer, max_records=500, max_wait_ms=450, stop_before=2**63 - 1, next_offset=0, clock=lambda: now[0]
    )
    assert list(batch.offsets) == [0, 1, 2, 3]  # 4 arrivals within 450 ms, then the batch closes
    assert now[0] <= 0.45 + 1e-9 and max(consumer.timeouts) <= 0.45


def test_a_batch_closes_when_full_or_at_the_end_of_its_range():
    from transforms.sources.kafka_poll import poll_batch

    now = [0.0]

    def poll(max_records: int, stop_before: int):  # type: ignore[no-untyped-def]
        consumer = TrickleConsumer(now, 0.001)
        return poll_batch(consumer, max_records, 1000, stop_before, next_offset=0, clock=lambda: now[0])

    full = poll(max_records=3, stop_before=100)
    assert list(full.offsets) == [0, 1, 2]
    bounded = poll(max_records=10, stop_before=2)
    assert list(bounded.offsets) == [0, 1]


class BacklogConsumer:
    """Holds ``count`` messages; as librdkafka does, asked for more than it holds it waits out the timeout."""

    def __init__(self, clock: list[float], count: int) -> None:
        self.clock, self.count, self.next, self.asked = clock, count, 0, []

    def consume(self, num: int, timeout: float):
        self.asked.append(num)
        if self.next + num > self.count:
            self.clock[0] += timeout
        taken = range(self.next, min(self.next + num, self.count))
        self.next = taken.stop
        return [FakeMessage(i) for i in taken]


def test_the_end_of_a_bounded_range_is_read_without_waiting_for_messages_that_cannot_come():
    from transforms.sources.kafka_poll import poll_batch

    now = [0.0]
    consumer = BacklogConsumer(now, count=1_203)
    batches = []
    at = 3
    consumer.next = at  # a range [3, 1203): its last batch holds 200
    while at < 1_203:
        batch = poll_batch(
            consumer, max_records=500, max_wait_ms=1000, stop_before=1_203, next_offset=at, clock=lambda: now[0]
        )
        batches.append(len(batch))
        at = batch.offsets[-1] + 1
    assert batches == [500, 500, 200] and consumer.asked == [500, 500, 200] and now[0] == 0.0


def test_a_batch_closes_by_a_time_it_is_given_and_then_takes_only_what_is_there():
    from transforms.sources.kafka_poll import poll_batch

    now = [0.0]
    consumer = TrickleConsumer(now, step=0.1)
    batch = poll_batch(
        consumer, 500, max_wait_ms=450, stop_before=2**63 - 1, next_offset=0, closes_by=0.25, clock=lambda: now[0]
    )
    assert list(batch.offsets) == [0, 1]  # arrivals at 0.1 and 0.2, then closed at 0.25, not 0.45
    assert now[0] <= 0.25 + 1e-9

    held = BacklogConsumer(now, count=3)
    late = poll_batch(
        held, 500, max_wait_ms=450, stop_before=2**63 - 1, next_offset=0, closes_by=0.0, clock=lambda: now[0]
    )
    assert list(late.offsets) == [0, 1, 2]  # its time was up: what the consumer held, without waiting
    assert now[0] <= 0.25 + 1e-9


class PlacedConsumer:
    """A consumer whose position is librdkafka's: none (-1001) until a message is consumed after a placement."""

    made: list["PlacedConsumer"] = []

    def __init__(self, conf: dict) -> None:
        self.consumed_to: int | None = None
        self.seeks: list[int] = []
        PlacedConsumer.made.append(self)

    def assign(self, partitions) -> None:
        self.consumed_to = None

    def seek(self, partition) -> None:
        self.seeks.append(partition.offset)
        self.consumed_to = None

    def position(self, partitions):
        from confluent_kafka import TopicPartition

        return [TopicPartition("t", 0, -1001 if self.consumed_to is None else self.consumed_to)]


def test_a_consumer_is_sought_only_when_asked_for_another_offset_than_it_reads_next(monkeypatch):
    import confluent_kafka

    from transforms.sources.kafka_poll import PartitionConsumers

    monkeypatch.setattr(confluent_kafka, "Consumer", PlacedConsumer)
    consumers = PartitionConsumers({})
    consumer = consumers.at("t", 0, 7)
    assert consumers.at("t", 0, 7) is consumer and consumer.seeks == []  # nothing read yet: still at 7
    consumer.consumed_to = 9  # it read 7 and 8
    consumers.at("t", 0, 9)
    assert consumer.seeks == []
    consumers.at("t", 0, 8)  # the runner resumes the restriction from an earlier offset
    consumers.at("t", 0, 8)  # ... and again, before anything is read
    assert consumer.seeks == [8] and len(PlacedConsumer.made) == 1
