"""``build_pipeline``: source -> invoke -> sinks, wired from a validated JobConfig.

Parquet and Kafka sources feed the same invoke transform; file and Kafka sinks
take its two outputs. Kafka offsets are committed after the outputs are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import apache_beam as beam
import pyarrow as pa

from pipelines.config import ConfigError, JobConfig, KafkaSource, ParquetSource
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
    nested = [
        f"{c} ({schema.field(c).type})" for c in invoke.feature_columns if pa.types.is_nested(schema.field(c).type)
    ]
    if nested and invoke.serializer == "csv":
        raise ConfigError([f"invoke.feature_columns: CSV cannot carry {nested}; use serializer json or jsonlines"])
    if invoke.inference_id_column and not pa.types.is_string(kind := schema.field(invoke.inference_id_column).type):
        raise ConfigError(
            [f"invoke.inference_id_column: {invoke.inference_id_column!r} is {kind}, not a string column"]
        )
    passthrough = pa.schema([schema.field(c) for c in invoke.passthrough_columns])
    return needed, prediction_schema(passthrough, invoke.prediction_type), dead_letter_schema(passthrough)


def _with_kafka_columns(config: JobConfig) -> JobConfig:
    """Kafka sinks need the message key and coordinates on every output row (key, offset commits)."""
    if config.output.format != "kafka":
        return config
    wanted = list(dict.fromkeys([*config.invoke.passthrough_columns, "kafka_key", *KAFKA_KEY_COLUMNS]))
    invoke = config.invoke.model_copy(update={"passthrough_columns": wanted})
    return config.model_copy(update={"invoke": invoke})


@dataclass
class _Read:
    """What a source hands the rest of the job."""

    tables: beam.PCollection
    key_columns: list[str]
    prediction_schema: pa.Schema
    dead_letter_schema: pa.Schema
    dead_letters: list[beam.PCollection] = field(default_factory=list)  # malformed messages
    stats: list[beam.PCollection] = field(default_factory=list)
    manifests: list[beam.PCollection] = field(default_factory=list)  # for offset commits
    consumer: dict[str, object] | None = None  # set when we commit the source's offsets


def _read_parquet(p: beam.Pipeline, config: JobConfig, source: ParquetSource, ctx: RunContext) -> _Read:
    needed, pred_schema, dead_schema = _schemas(config, with_source_keys(ctx.input_schema), KEY_COLUMNS)
    tables = p | "ReadParquet" >> ReadParquetTables(source.path, needed, source.batch_rows)
    return _Read(tables, KEY_COLUMNS, pred_schema, dead_schema)


def _read_kafka(p: beam.Pipeline, config: JobConfig, source: KafkaSource, ctx: RunContext) -> _Read:
    invoke = config.invoke
    decoder = kafka_decoder(source)
    needed, pred_schema, dead_schema = _schemas(config, decoder.schema, KAFKA_KEY_COLUMNS)
    dead_letters = DeadLetterSpec(
        invoke.passthrough_columns,
        invoke.id_columns or KAFKA_KEY_COLUMNS,
        invoke.id_namespace,
        config.endpoint.name,
        dead_schema,
    )
    conf = consumer_config(source.bootstrap_servers, source.group_id, source.consumer)
    spec = ReaderSpec(conf, decoder, dead_letters, source.max_records, source.max_wait_ms)
    if source.reader == "java":  # KafkaIO commits its own offsets when checkpoints finalize
        bounded_total = sum(r.end - r.start for r in ctx.partitions) if source.mode == "bounded" else None
        service = expansion_service(source.expansion_service_jar, source.java_environment)
        read = p | "ReadKafka" >> ReadKafkaJava(spec, source.topic, service, bounded_total)
        manifests, consumer = [], None
    else:
        read = p | "ReadKafka" >> ReadKafkaTables(ctx.partitions, spec, source.mode == "streaming")
        manifests, consumer = [read[MANIFESTS]], conf
    tables = read[TABLES] | "Project" >> beam.Map(lambda t, cols=needed: t.select(cols))
    return _Read(
        tables, KAFKA_KEY_COLUMNS, pred_schema, dead_schema, [read[DEAD_LETTERS]], [read[STATS]], manifests, consumer
    )


def build_pipeline(p: beam.Pipeline, config: JobConfig, ctx: RunContext) -> beam.PCollection:
    """Wire the job; returns the PCollection holding the run report (one dict; empty when streaming).

    Raises ConfigError when the config names columns the input does not have.
    """
    source = config.source
    config = _with_kafka_columns(config)
    read = (
        _read_kafka(p, config, source, ctx)
        if isinstance(source, KafkaSource)
        else _read_parquet(p, config, source, ctx)
    )
    scored = read.tables | "InvokeEndpoint" >> InvokeEndpoint(
        InvokeSpec(
            config.endpoint,
            config.invoke,
            read.key_columns,
            read.prediction_schema,
            read.dead_letter_schema,
            ctx.progress_address,
        )
    )
    dead = (scored[DEAD_LETTERS], *read.dead_letters) | "AllDeadLetters" >> beam.Flatten()
    stats = (scored[STATS], *read.stats) | "AllStats" >> beam.Flatten()
    out = config.output
    if out.format == "kafka":
        producer = producer_config(config.output_bootstrap_servers or "", out.producer)
        written = [
            dead | "ProduceDeadLetters" >> WriteKafka(producer, out.dead_letters),
            scored[PREDICTIONS] | "ProducePredictions" >> WriteKafka(producer, out.predictions),
        ]
        if isinstance(source, KafkaSource) and source.mode == "streaming":
            if read.consumer:
                (*read.manifests, *written) | "CommitOffsets" >> CommitWhenWritten(read.consumer, ctx.partitions)
            return stats | "NoReport" >> beam.Filter(lambda _: False)  # a stream has no end to report at
        publications: list[Publication] = []
        report_path: str | None = config.report_location
    else:
        publications = [
            Publication(
                staging_path(out.dead_letters, ctx.run_id), out.dead_letters, read.dead_letter_schema, out.format
            ),
            Publication(staging_path(out.predictions, ctx.run_id), out.predictions, read.prediction_schema, out.format),
        ]
        report_path = None
        written = [
            dead | "WriteDeadLetters" >> WriteTables(publications[0]),
            scored[PREDICTIONS] | "WritePredictions" >> WriteTables(publications[1]),
        ]
    extra: dict[str, object] = {
        "job": config.job.name,
        "run_id": ctx.run_id,
        "date": ctx.date,
        "endpoint": config.endpoint.name,
        "strategy": config.invoke.strategy,
    }
    totals = stats | "MergeStats" >> beam.CombineGlobally(MergeStats())
    report = totals | "PublishOutputs" >> Publish(publications, written, extra, report_path)
    if read.consumer:  # bounded: the whole captured range, once every output is published
        report | "CommitOffsets" >> CommitAtEnd(read.consumer, ctx.partitions)
    return report
