"""``build_pipeline``: source -> invoke -> sinks, wired from a validated JobConfig.

Parquet and Kafka sources feed the same invoke transform; file and Kafka sinks
take its two outputs. Kafka offsets are committed after the outputs are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import apache_beam as beam
import pyarrow as pa

from pipelines.config import ConfigError, JobConfig, KafkaSource
from transforms.invoke import DEAD_LETTERS, PREDICTIONS, STATS, InvokeEndpoint, InvokeSpec, MergeStats
from transforms.kafka_codec import KAFKA_KEY_COLUMNS, MessageDecoder
from transforms.kafka_io import (
    MANIFESTS,
    TABLES,
    CommitAtEnd,
    CommitWhenWritten,
    DeadLetterSpec,
    PartitionRange,
    ReaderSpec,
    ReadKafkaTables,
    WriteKafka,
    consumer_config,
    producer_config,
)
from transforms.kafka_java import ReadKafkaJava, expansion_service
from transforms.outputs import dead_letter_schema, prediction_schema
from transforms.parquet_source import KEY_COLUMNS, ReadParquetTables, with_source_keys
from transforms.sinks import Publication, Publish, WriteTables, staging_path


@dataclass(frozen=True)
class RunContext:
    """Facts gathered before building: the input schema, run id, date, where progress goes.

    For a Kafka source, ``partitions`` holds each partition's start (and, bounded, end) offset.
    """

    input_schema: pa.Schema
    run_id: str
    date: str
    progress_address: str | None = None
    partitions: list[PartitionRange] = field(default_factory=list)


def kafka_decoder(source: KafkaSource) -> MessageDecoder:
    return MessageDecoder(source.value_format, source.value_columns, source.csv_delimiter)


def _schemas(config: JobConfig, schema: pa.Schema, key_columns: list[str]) -> tuple[list[str], pa.Schema, pa.Schema]:
    invoke = config.invoke
    needed = invoke.input_columns(key_columns)
    unknown = [c for c in needed if c not in schema.names]
    if unknown:
        raise ConfigError([f"invoke: columns {unknown} are not in the input (it has {schema.names})"])
    passthrough = pa.schema([schema.field(c) for c in invoke.passthrough_columns])
    return needed, prediction_schema(passthrough, invoke.prediction_type), dead_letter_schema(passthrough)


def _with_kafka_columns(config: JobConfig) -> JobConfig:
    """Kafka sinks need the message key and coordinates on every output row (key, offset commits)."""
    if config.output.format != "kafka":
        return config
    wanted = list(dict.fromkeys([*config.invoke.passthrough_columns, "kafka_key", *KAFKA_KEY_COLUMNS]))
    invoke = config.invoke.model_copy(update={"passthrough_columns": wanted})
    return config.model_copy(update={"invoke": invoke})


def build_pipeline(p: beam.Pipeline, config: JobConfig, ctx: RunContext) -> beam.PCollection:
    """Wire the job; returns the PCollection holding the run report (one dict; empty when streaming).

    Raises ConfigError when the config names columns the input does not have.
    """
    source = config.source
    config = _with_kafka_columns(config)
    invoke = config.invoke
    manifests: list[beam.PCollection] = []
    extra_dead: list[beam.PCollection] = []
    extra_stats: list[beam.PCollection] = []
    if isinstance(source, KafkaSource):
        key_columns = KAFKA_KEY_COLUMNS
        decoder = kafka_decoder(source)
        needed, pred_schema, dead_schema = _schemas(config, decoder.schema, key_columns)
        spec = ReaderSpec(
            consumer_config(source.bootstrap_servers, source.group_id, source.consumer),
            decoder,
            DeadLetterSpec(
                invoke.passthrough_columns,
                invoke.id_columns or key_columns,
                invoke.id_namespace,
                config.endpoint.name,
                dead_schema,
            ),
            source.max_records,
            source.max_wait_ms,
        )
        if source.reader == "java":
            bounded_total = sum(r.end - r.start for r in ctx.partitions) if source.mode == "bounded" else None
            service = expansion_service(source.expansion_service_jar, source.java_environment)
            read = p | "ReadKafka" >> ReadKafkaJava(spec, source.topic, service, bounded_total)
        else:
            read = p | "ReadKafka" >> ReadKafkaTables(ctx.partitions, spec, source.mode == "streaming")
            manifests.append(read[MANIFESTS])
        tables = read[TABLES] | "Project" >> beam.Map(lambda t, cols=needed: t.select(cols))
        extra_dead.append(read[DEAD_LETTERS])
        extra_stats.append(read[STATS])
    else:
        key_columns = KEY_COLUMNS
        needed, pred_schema, dead_schema = _schemas(config, with_source_keys(ctx.input_schema), key_columns)
        tables = p | "ReadParquet" >> ReadParquetTables(source.path, needed, source.batch_rows)

    scored = tables | "InvokeEndpoint" >> InvokeEndpoint(
        InvokeSpec(config.endpoint, invoke, key_columns, pred_schema, dead_schema, ctx.progress_address)
    )
    dead = (scored[DEAD_LETTERS], *extra_dead) | "AllDeadLetters" >> beam.Flatten()
    stats = (scored[STATS], *extra_stats) | "AllStats" >> beam.Flatten()
    out = config.output
    extra: dict[str, object] = {
        "job": config.job.name,
        "run_id": ctx.run_id,
        "date": ctx.date,
        "endpoint": config.endpoint.name,
        "strategy": invoke.strategy,
    }
    # Our readers' offsets are committed by us once the outputs are written; KafkaIO commits its own.
    consumer = (
        consumer_config(source.bootstrap_servers, source.group_id, source.consumer)
        if isinstance(source, KafkaSource) and source.reader == "confluent"
        else None
    )
    if out.format == "kafka":
        producer = producer_config(config.output_bootstrap_servers or "", out.producer)
        written = [
            dead | "ProduceDeadLetters" >> WriteKafka(producer, out.dead_letters),
            scored[PREDICTIONS] | "ProducePredictions" >> WriteKafka(producer, out.predictions),
        ]
        if isinstance(source, KafkaSource) and source.mode == "streaming":
            if consumer:
                (*manifests, *written) | "CommitOffsets" >> CommitWhenWritten(consumer, ctx.partitions)
            return stats | "NoReport" >> beam.Filter(lambda _: False)  # a stream has no end to report at
        publications, report_path = [], config.report_location
    else:
        publications = [
            Publication(staging_path(out.dead_letters, ctx.run_id), out.dead_letters),
            Publication(staging_path(out.predictions, ctx.run_id), out.predictions),
        ]
        report_path = None
        written = [
            dead | "WriteDeadLetters" >> WriteTables(publications[0].staging, dead_schema, out.format),
            scored[PREDICTIONS] | "WritePredictions" >> WriteTables(publications[1].staging, pred_schema, out.format),
        ]
    totals = stats | "MergeStats" >> beam.CombineGlobally(MergeStats())
    report = totals | "PublishOutputs" >> Publish(publications, written, extra, report_path)
    if consumer:
        report | "CommitOffsets" >> CommitAtEnd(consumer, ctx.partitions)
    return report
