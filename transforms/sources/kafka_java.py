"""Beam's Java KafkaIO as the Kafka reader, for Flink and Dataflow production runs.

The Java transform is expanded by our own expansion service jar (``make kafka-io-jar``, built by
Maven), so Beam never downloads one at run time. Records come back as rows with their metadata,
become ``Message``s and poll-sized batches, and join the same decode -> invoke -> sinks path as
the confluent-kafka reader. Offsets: KafkaIO commits them when the runner finalizes a checkpoint
(``commit_offset_in_finalize``), i.e. after the checkpoint that covers the outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.kafka import ReadFromKafka
from apache_beam.transforms.external import JavaJarExpansionService

from transforms.sources.kafka_batch import ReaderSpec, decode_poll_batch
from transforms.sources.kafka_decode import Message, MessageBatch
from transforms.sources.kafka_read import DEAD_LETTERS, STATS, TABLES, tagged


def expansion_service(jar: str, environment: str) -> JavaJarExpansionService:
    """Our KafkaIO expansion service; ``environment`` is where the Java transforms run (DOCKER, EMBEDDED)."""
    return JavaJarExpansionService(
        jar,
        append_args=[f"--defaultEnvironmentType={environment}", "--experiments=use_deprecated_read"],
    )


def to_message(record: Any) -> Message:
    headers = [(h.key, h.value) for h in (getattr(record, "headers", None) or [])]
    # _make is tuple's own constructor: no generated Python __new__ per message.
    return Message._make(
        (record.topic, record.partition, record.offset, record.timestamp, record.key, record.value, headers or None)
    )


class _DecodeBatchFn(beam.DoFn):
    def __init__(self, spec: ReaderSpec) -> None:
        self.spec = spec

    def process(self, messages: list[Message]) -> Iterator[Any]:
        # KafkaIO commits its own offsets: no manifests.
        batch = MessageBatch.of(messages)
        yield from tagged(decode_poll_batch(self.spec, batch, batch.offsets[-1] + 1), manifests=False)


class ReadKafkaJava(beam.PTransform):
    """Beam's Java ReadFromKafka -> tagged ``tables``, ``dead_letters``, ``stats`` (as ReadKafkaTables)."""

    def __init__(
        self,
        spec: ReaderSpec,
        topic: str,
        service: JavaJarExpansionService,
        *,
        max_records_total: int | None,
        start_read_time_ms: int | None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.topic = topic
        self.service = service
        self.max_records_total = max_records_total
        self.start_read_time_ms = start_read_time_ms  # None: from the group's committed offsets

    def expand(self, p: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        conf = {k: str(v) for k, v in self.spec.conf.items() if k != "enable.auto.offset.store"}
        conf["auto.offset.reset"] = "earliest"  # where the group has no committed offset yet
        return (
            p
            | "KafkaIO"
            >> ReadFromKafka(
                conf,
                [self.topic],
                with_metadata=True,
                max_num_records=self.max_records_total,
                start_read_time=self.start_read_time_ms,
                commit_offset_in_finalize=True,
                expansion_service=self.service,
            )
            | "ToMessages" >> beam.Map(to_message)
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.spec.max_records)
            | "Decode" >> beam.ParDo(_DecodeBatchFn(self.spec)).with_outputs(TABLES, DEAD_LETTERS, STATS)
        )
