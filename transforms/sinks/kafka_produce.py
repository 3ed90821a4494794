"""Kafka sink: each row a message on the topic; once per bundle a flush, then, in a stream, the input offsets it
covered are acknowledged (never before: an offset is committed only once its outputs are durable)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.utils.windowed_value import WindowedValue

from transforms.codecs.kafka_messages import encode_rows
from transforms.core.failpoints import failpoint
from transforms.sinks.kafka_delivery import FLUSH_TIMEOUT_S, Delivery
from transforms.sinks.offset_ledger import acks


class _ProduceFn(beam.DoFn):
    def __init__(self, conf: dict[str, Any], topic: str, acknowledge: bool) -> None:
        self.conf = conf
        self.topic = topic
        self.acknowledge = acknowledge

    def setup(self) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(self.conf)

    def start_bundle(self) -> None:
        self._delivery = Delivery(self._producer, self.topic)
        self._acks: list[WindowedValue] = []

    def process(self, table: pa.Table, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam) -> None:
        self._delivery.produce(encode_rows(table))
        if self.acknowledge:
            self._acks += [WindowedValue(ack, timestamp, (window,)) for ack in acks(table)]

    def finish_bundle(self) -> Iterator[WindowedValue]:
        failpoint("produce-before-flush")  # produced, not confirmed: what a crash here must not lose
        self._delivery.confirm()  # one flush for the bundle; a failure fails it, and no offset is acknowledged
        yield from self._acks

    def teardown(self) -> None:
        producer = getattr(self, "_producer", None)
        if producer is not None:
            producer.flush(FLUSH_TIMEOUT_S / 2)


class WriteKafka(beam.PTransform):
    """Arrow tables -> messages on ``topic``. With ``acknowledge`` (a stream's offsets are committed as its outputs
    are flushed), outputs the acknowledgements (offset messages) of what was flushed; else nothing (a bounded read
    commits its whole range once every sink has finished)."""

    def __init__(self, conf: dict[str, Any], topic: str, *, acknowledge: bool) -> None:
        super().__init__()
        self._fn = _ProduceFn(conf, topic, acknowledge)

    def expand(self, tables: beam.PCollection) -> beam.PCollection:
        return tables | beam.ParDo(self._fn).with_output_types(tuple[str, str])
