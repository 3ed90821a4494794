"""The exactly-once Kafka sink as a transform: the bundle's outputs and offsets per input partition, transacted
when the bundle finishes (:mod:`transforms.sinks.kafka_transactions`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

from transforms.core.offsets import PartitionId
from transforms.sinks.kafka_transactions import PRODUCERS, BundleOutputs, transact_fencing, transactional_id

log = logging.getLogger(__name__)


class _TransactFn(beam.DoFn):
    """Collect a bundle's outputs and manifests; at its end, one transaction per input partition. It must run in
    the stage that read and scored them (fused behind the reader and the invoke step: no shuffle, no Flatten)."""

    def __init__(
        self, producer: dict[str, Any], consumer: dict[str, Any], topics: dict[str, str], warm: list[PartitionId]
    ) -> None:
        self.producer = producer
        self.consumer = consumer
        self.topics = topics
        self.warm = warm

    def setup(self) -> None:
        from confluent_kafka import Consumer

        self._consumer = Consumer(self.consumer)  # the group's metadata and committed offsets; never subscribes
        self._group = str(self.consumer["group.id"])
        PRODUCERS.prepare(self.producer, [transactional_id(self._group, partition) for partition in self.warm])

    def start_bundle(self) -> None:
        self._outputs = BundleOutputs()

    def process(self, element: tuple[str, Any]) -> tuple[()]:
        self._outputs.add(*element)
        return ()  # transactions happen when the bundle finishes

    def finish_bundle(self) -> Iterator[WindowedValue]:
        stretches = self._outputs.stretches()
        tids = [transactional_id(self._group, stretch.partition) for stretch in stretches]
        PRODUCERS.prepare(self.producer, tids)
        for stretch, tid in zip(stretches, tids, strict=True):
            produced = transact_fencing(PRODUCERS, self.producer, tid, self._consumer, stretch, self.topics)
            log.info("transaction %s: %d messages, committed offset %d", tid, produced, stretch.end)
            yield GlobalWindows.windowed_value((stretch.partition.key, stretch.end))

    def teardown(self) -> None:
        consumer = getattr(self, "_consumer", None)
        if consumer is not None:
            consumer.close()


class WriteKafkaExactlyOnce(beam.PTransform):
    """The invoke step's ``outputs`` ((tag, value): output tables and the reader's manifests) -> (partition key,
    offset committed) per transaction.

    ``warm``: input partitions whose producers a worker makes as it starts, so no record waits for a first
    ``init_transactions``; only where one worker process runs every bundle (two would fence each other's).
    """

    def __init__(
        self,
        producer: dict[str, Any],
        consumer: dict[str, Any],
        topics: dict[str, str],
        warm: list[PartitionId],
    ) -> None:
        super().__init__()
        self._fn = _TransactFn(producer, consumer, topics, warm)

    def expand(self, outputs: beam.PCollection) -> beam.PCollection:
        return outputs | beam.ParDo(self._fn)
