"""Where each partition of a topic starts (committed, earliest, latest or a timestamp) and, if bounded, ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from transforms.core.kafka_group import KafkaUnavailable, until_coordinated
from transforms.core.offsets import END_OF_PARTITION, PartitionId, PartitionRange

Start = Literal["committed", "earliest", "latest", "timestamp"]


def plan_partitions(
    conf: dict[str, Any],
    topic: str,
    start: Start,
    start_timestamp_ms: int | None = None,
    bounded: bool = True,
    timeout: float = 15.0,
    before_committed: Callable[[list[PartitionId]], None] | None = None,
) -> list[PartitionRange]:
    """One range per partition; a bounded range ends at the high watermark seen now.

    Raises KafkaUnavailable within ``timeout`` when the broker or topic is missing. ``before_committed`` runs on
    the topic's partitions before their committed offsets are read (exactly-once fences a previous run there).
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(conf)
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"cannot reach Kafka at {conf['bootstrap.servers']} within {timeout:.0f} s ({exc.args[0]})"
            ) from None
        info = metadata.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise KafkaUnavailable(f"topic {topic!r} does not exist on {conf['bootstrap.servers']}")
        parts = [TopicPartition(topic, p) for p in sorted(info.partitions)]
        marks = {tp.partition: consumer.get_watermark_offsets(tp, timeout=timeout) for tp in parts}
        starts: dict[int, int] = {}
        if start == "committed":
            if before_committed is not None:
                before_committed([PartitionId(topic, tp.partition) for tp in parts])
            for tp in until_coordinated(lambda: consumer.committed(parts, timeout=timeout), timeout):
                starts[tp.partition] = tp.offset if tp.offset >= 0 else marks[tp.partition][0]
        elif start == "timestamp":
            wanted = [TopicPartition(topic, tp.partition, start_timestamp_ms or 0) for tp in parts]
            for tp in consumer.offsets_for_times(wanted, timeout=timeout):
                starts[tp.partition] = tp.offset if tp.offset >= 0 else marks[tp.partition][1]
        else:
            starts = {p: marks[p][0] if start == "earliest" else marks[p][1] for p in marks}
        return [
            PartitionRange(topic=topic, partition=p, start=starts[p], end=marks[p][1] if bounded else END_OF_PARTITION)
            for p in sorted(marks)
        ]
    finally:
        consumer.close()


def start_read_time_ms(start: Start, start_timestamp_ms: int | None, now_ms: int) -> int | None:
    """Where Beam's Java KafkaIO starts, as the only start it takes: a timestamp (None: the group's commits).

    ``earliest`` is the first record at or after the epoch; ``latest`` the first record produced from the
    launch on, as this reader plans a bounded run's end at the launch too.
    """
    if start == "committed":
        return None
    if start == "earliest":
        return 0
    if start == "latest":
        return now_ms
    return start_timestamp_ms or 0
