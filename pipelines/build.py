"""``build_pipeline``: source -> invoke -> sinks, wired from a validated JobConfig.

Parquet and Kafka sources feed the same invoke transform; file and Kafka sinks take its two
outputs. Kafka offsets are committed after the outputs are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import pyarrow as pa

from pipelines.config import JobConfig, KafkaSource, ParquetSource
from pipelines.preflight import OutputSchemas, kafka_decoder, output_schemas
from pipelines.report import report_file
from pipelines.resume import Resumption
from transforms.core.carried import CarriedBatch
from transforms.core.kafka_group import consumer_config
from transforms.core.offsets import PartitionId, PartitionRange
from transforms.invoke.client import StaticCredentials
from transforms.invoke.transform import DEAD_LETTERS, OUTPUTS, PREDICTIONS, STATS, InvokeEndpoint, InvokeSpec
from transforms.sinks.commit import CommitAtEnd, CommitWhenWritten
from transforms.sinks.files import Publish, ShardSpec, WriteOutputs
from transforms.sinks.kafka_delivery import producer_config
from transforms.sinks.kafka_exactly_once import WriteKafkaExactlyOnce
from transforms.sinks.kafka_produce import WriteKafka
from transforms.sinks.staging import Publication, staging_path
from transforms.sources import kafka_read
from transforms.sources.kafka_batch import DeadLetterSpec, ReaderSpec
from transforms.sources.kafka_decode import KAFKA_KEY_COLUMNS
from transforms.sources.kafka_java import ReadKafkaJava, expansion_service
from transforms.sources.kafka_plan import start_read_time_ms
from transforms.sources.kafka_poll import stream_fetch_settings
from transforms.sources.kafka_read import ReadKafkaTables
from transforms.sources.parquet import ReadParquetTables
from transforms.sources.parquet_files import KEY_COLUMNS, SHARD_COLUMNS, SOURCE_FILE, SOURCE_GROUP, with_source_keys
from transforms.totals import CountStats, MergeStats


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """Facts gathered before building: the input schema, run id, date, where progress goes.

    For a Kafka source, ``partitions`` holds each partition's start (and, bounded, end) offset.
    """

    input_schema: pa.Schema
    run_id: str
    date: str
    resumption: Resumption | None = None  # a Parquet source into files: its staging key and finished shards
    progress_address: str | None = None
    partitions: list[PartitionRange] = field(default_factory=list)
    planned_at_ms: int = 0  # when the partitions were planned: where `start: latest` begins
    credentials: StaticCredentials | None = None  # the embedded local endpoint's keys
    requests_per_second: float | None = None  # each worker process's share of the job's request budget
    one_worker: bool = False  # every bundle runs in one worker process (a local runner)


def _with_shard_columns(config: JobConfig) -> tuple[JobConfig, list[str]]:
    """File outputs of a Parquet source record finished shards: every row carries its shard's key columns
    through the invoke step. Returns the config and those of the columns the files must not hold."""
    passthrough = config.invoke.passthrough_columns
    added = [c for c in SHARD_COLUMNS if c not in passthrough]
    invoke = config.invoke.model_copy(update={"passthrough_columns": [*passthrough, *added]})
    return config.model_copy(update={"invoke": invoke}), added


def _with_kafka_columns(config: JobConfig) -> JobConfig:
    """Kafka sinks need the message key and coordinates on every output row (key, offset commits)."""
    if config.output.format != "kafka":
        return config
    wanted = list(dict.fromkeys([*config.invoke.passthrough_columns, "kafka_key", *KAFKA_KEY_COLUMNS]))
    invoke = config.invoke.model_copy(update={"passthrough_columns": wanted})
    return config.model_copy(update={"invoke": invoke})


@dataclass(frozen=True, kw_only=True)
class _Read:
    """What a source hands the rest of the job."""

    tables: beam.PCollection
    key_columns: list[str]
    schemas: OutputSchemas
    dead_letters: list[beam.PCollection] = field(default_factory=list)  # malformed messages
    stats: list[beam.PCollection] = field(default_factory=list)
    manifests: list[beam.PCollection] = field(default_factory=list)  # for offset commits
    consumer: dict[str, object] | None = None  # set when we commit the source's offsets


def _read_parquet(p: beam.Pipeline, config: JobConfig, source: ParquetSource, ctx: RunContext) -> _Read:
    schemas = output_schemas(config, with_source_keys(ctx.input_schema), KEY_COLUMNS)
    skip = frozenset(ctx.resumption.finished) if ctx.resumption else frozenset()
    tables = p | "ReadParquet" >> ReadParquetTables(source.path, schemas.needed, config.batch_rows, skip)
    return _Read(tables=tables, key_columns=KEY_COLUMNS, schemas=schemas)


def reader_consumer_config(source: KafkaSource) -> dict[str, Any]:
    """The reader's librdkafka settings: the user's over a stream's fetch defaults. Java's consumer names its
    fetch settings differently, so KafkaIO gets the user's alone."""
    streaming = source.mode == "streaming" and source.reader == "confluent"
    fetch = stream_fetch_settings(source.max_wait_ms) if streaming else {}
    return consumer_config(source.bootstrap_servers, source.group_id, {**fetch, **source.consumer})


def _read_kafka(p: beam.Pipeline, config: JobConfig, source: KafkaSource, ctx: RunContext) -> _Read:
    invoke = config.invoke
    decoder = kafka_decoder(source)
    schemas = output_schemas(config, decoder.schema, KAFKA_KEY_COLUMNS)
    dead_letters = DeadLetterSpec(
        passthrough_columns=invoke.passthrough_columns,
        id_columns=invoke.id_columns or KAFKA_KEY_COLUMNS,
        namespace=invoke.id_namespace,
        endpoint_name=config.endpoint.name,
        schema=schemas.dead_letters,
    )
    spec = ReaderSpec(
        conf=reader_consumer_config(source),
        decoder=decoder,
        dead_letters=dead_letters,
        max_records=source.max_records,
        max_wait_ms=source.max_wait_ms,
        carry=config.output.delivery == "exactly_once",
    )
    if source.reader == "java":  # KafkaIO commits its own offsets when checkpoints finalize
        bounded_total = sum(r.end - r.start for r in ctx.partitions) if source.mode == "bounded" else None
        service = expansion_service(source.expansion_service_jar, source.java_environment)
        start = start_read_time_ms(source.start, source.start_timestamp_ms, ctx.planned_at_ms)
        read = p | "ReadKafka" >> ReadKafkaJava(
            spec, source.topic, service, max_records_total=bounded_total, start_read_time_ms=start
        )
        manifests, consumer = [], None
    else:
        read = p | "ReadKafka" >> ReadKafkaTables(ctx.partitions, spec, config.streaming)
        manifests, consumer = [read[kafka_read.MANIFESTS]], spec.conf
    tables = read[kafka_read.TABLES] | "Project" >> beam.Map(_project, schemas.needed)
    return _Read(
        tables=tables,
        key_columns=KAFKA_KEY_COLUMNS,
        schemas=schemas,
        dead_letters=[read[kafka_read.DEAD_LETTERS]],
        stats=[read[kafka_read.STATS]],
        manifests=manifests,
        consumer=consumer,
    )


def transaction_warmup(ctx: RunContext, streaming: bool) -> list[PartitionId]:
    """The input partitions whose transactional producers a worker makes as it starts: a stream's, where one worker
    process runs every bundle; none where several would fence each other's producers."""
    return [r.id for r in ctx.partitions] if ctx.one_worker and streaming else []


def build_pipeline(p: beam.Pipeline, config: JobConfig, ctx: RunContext) -> beam.PCollection:
    """Wire the job; returns the PCollection holding the run report (one dict; empty when streaming).

    Raises ConfigError when the config names columns the input does not have.
    """
    source = config.source
    config = _with_kafka_columns(config)
    resumption = ctx.resumption
    exactly_once = config.output.delivery == "exactly_once"
    dropped: list[str] = []
    if resumption is not None:
        config, dropped = _with_shard_columns(config)
    read = (
        _read_kafka(p, config, source, ctx)
        if isinstance(source, KafkaSource)
        else _read_parquet(p, config, source, ctx)
    )
    scored = read.tables | "InvokeEndpoint" >> InvokeEndpoint(
        InvokeSpec(
            endpoint=config.endpoint,
            settings=config.invoke,
            key_columns=read.key_columns,
            prediction_schema=read.schemas.predictions,
            dead_letter_schema=read.schemas.dead_letters,
            progress_address=ctx.progress_address,
            credentials=ctx.credentials,
            requests_per_second=ctx.requests_per_second,
            tagged=resumption is not None or exactly_once,
        )
    )
    dead = (scored[DEAD_LETTERS], *read.dead_letters) | "AllDeadLetters" >> beam.Flatten()
    stats = (scored[STATS], *read.stats) | "AllStats" >> beam.Flatten() | "CountStats" >> CountStats()
    out = config.output
    if out.format == "kafka":
        producer = producer_config(config.output_bootstrap_servers or "", out.producer)
        if exactly_once:  # outputs and offsets in one transaction per stretch of a partition; commits included
            topics = {PREDICTIONS: out.predictions, DEAD_LETTERS: out.dead_letters}
            warm = transaction_warmup(ctx, config.streaming)
            transact = WriteKafkaExactlyOnce(producer, read.consumer or {}, topics, warm=warm)
            written = [scored[OUTPUTS] | "Transact" >> transact]
        else:
            written = [
                dead | "ProduceDeadLetters" >> WriteKafka(producer, out.dead_letters, acknowledge=config.streaming),
                scored[PREDICTIONS]
                | "ProducePredictions" >> WriteKafka(producer, out.predictions, acknowledge=config.streaming),
            ]
        if config.streaming:
            if read.consumer and not exactly_once:
                (*read.manifests, *written) | "CommitOffsets" >> CommitWhenWritten(read.consumer, ctx.partitions)
            return stats | "NoReport" >> beam.Filter(lambda _: False)  # a stream has no end to report at
        publications: list[Publication] = []
    else:
        key = resumption.key if resumption else ctx.run_id
        pubs = {
            tag: Publication(
                staging=staging_path(final, key), final=final, schema=_without(schema, dropped), fmt=out.format
            )
            for tag, final, schema in (
                (DEAD_LETTERS, out.dead_letters, read.schemas.dead_letters),
                (PREDICTIONS, out.predictions, read.schemas.predictions),
            )
        }
        publications = list(pubs.values())  # dead letters first: predictions' _SUCCESS comes last
        shards = (
            ShardSpec(
                rows=resumption.shard_rows,
                file_column=SOURCE_FILE,
                group_column=SOURCE_GROUP,
                dropped=dropped,
                ledger_folder=pubs[PREDICTIONS].staging,
            )
            if resumption
            else None
        )
        if resumption is not None:  # one writer keeps each shard's two outputs together
            written = [scored[OUTPUTS] | "WriteOutputs" >> WriteOutputs(pubs, shards)]
        else:
            written = [
                tables
                | f"Tag{tag.title()}" >> beam.Map(lambda t, tag=tag: (tag, t))
                | f"Write{tag.title()}" >> WriteOutputs(pubs)
                for tag, tables in ((DEAD_LETTERS, dead), (PREDICTIONS, scored[PREDICTIONS]))
            ]
    extra: dict[str, object] = {
        "job": config.job.name,
        "run_id": ctx.run_id,
        "date": ctx.date,
        "endpoint": config.endpoint.name,
        "strategy": config.invoke.strategy,
    }
    if resumption and resumption.finished:
        extra["resumed_shards"] = len(resumption.finished)
        extra["resumed_records"] = sum(e.rows for e in resumption.finished.values())
    totals = stats | "MergeStats" >> beam.CombineGlobally(MergeStats())
    publish = Publish(
        publications,
        written,
        extra,
        report_file(config),
        kept=resumption.kept_files if resumption else None,
        carried=resumption.carried() if resumption else None,
    )
    report = totals | "PublishOutputs" >> publish
    if read.consumer and not exactly_once:  # bounded: the whole captured range, once every output is published
        report | "CommitOffsets" >> CommitAtEnd(read.consumer, ctx.partitions)
    return report


def _project(element: pa.Table | CarriedBatch, columns: list[str]) -> pa.Table | CarriedBatch:
    """The columns the invoke step reads, of a table or of the table a batch carries."""
    if isinstance(element, CarriedBatch):
        table = element.table
        return CarriedBatch(table.select(columns) if table is not None else None, element.riders)
    return element.select(columns)


def _without(schema: pa.Schema, columns: list[str]) -> pa.Schema:
    return pa.schema([f for f in schema if f.name not in columns])
