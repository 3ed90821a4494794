"""Kafka sink: each row a message on the topic; after the flush, the input offsets it covered are acknowledged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa

from transforms.codecs.kafka_messages import encode_rows
from transforms.sinks.kafka_delivery import FLUSH_TIMEOUT_S, deliver
from transforms.sinks.offset_ledger import acks


class _ProduceFn(beam.DoFn):
    def __init__(self, conf: dict[str, Any], topic: str) -> None:
        self.conf = conf
        self.topic = topic

    def setup(self) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(self.conf)

    def process(self, table: pa.Table) -> Iterator[tuple[str, str]]:
        deliver(self._producer, self.topic, encode_rows(table))
        yield from acks(table)

    def teardown(self) -> None:
        producer = getattr(self, "_producer", None)
        if producer is not None:
            producer.flush(FLUSH_TIMEOUT_S / 2)


class WriteKafka(beam.PTransform):
    """Arrow tables -> messages on ``topic``; outputs the acknowledgements (offset messages) of what was flushed."""

    def __init__(self, conf: dict[str, Any], topic: str) -> None:
        super().__init__()
        self._fn = _ProduceFn(conf, topic)

    def expand(self, tables: beam.PCollection) -> beam.PCollection:
        return tables | beam.ParDo(self._fn)
