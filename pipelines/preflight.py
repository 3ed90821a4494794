"""Checks against the real inputs and outputs before a pipeline is built, so a bad run fails in seconds.

The source is described (Parquet footers, Kafka partition offsets), the config's columns are
checked against it, and every output location is probed for writing.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import pyarrow as pa

from pipelines.config import ConfigError, JobConfig, KafkaSource
from pipelines.report import report_file
from transforms.core.kafka_group import consumer_config
from transforms.core.offsets import PartitionRange
from transforms.core.rows import dead_letter_schema, prediction_schema
from transforms.sinks.kafka_delivery import producer_config
from transforms.sinks.kafka_transactions import fence
from transforms.sinks.staging import check_writable
from transforms.sources.kafka_decode import MessageDecoder
from transforms.sources.kafka_plan import plan_partitions
from transforms.sources.parquet_files import describe_input


@dataclass(frozen=True, kw_only=True)
class SourceFacts:
    """The input schema, the records expected (None for a stream), and a Kafka source's partition plan."""

    schema: pa.Schema
    total: int | None
    partitions: list[PartitionRange]
    planned_at_ms: int = 0
    shard_rows: dict[str, int] = field(default_factory=dict)  # a Parquet source's, by shard key


@dataclass(frozen=True)
class OutputSchemas:
    """The columns the invoke step reads, and the schemas of the two outputs."""

    needed: list[str]
    predictions: pa.Schema
    dead_letters: pa.Schema


def kafka_decoder(source: KafkaSource) -> MessageDecoder:
    return MessageDecoder(source.value_format, source.value_columns, source.csv_delimiter)


def describe_source(config: JobConfig) -> SourceFacts:
    source = config.source
    if isinstance(source, KafkaSource):
        conf = consumer_config(source.bootstrap_servers, source.group_id, source.consumer)
        bounded = source.mode == "bounded"
        planned_at_ms = int(time.time() * 1000)
        fencing = None
        if config.output.delivery == "exactly_once":
            producer = producer_config(config.output_bootstrap_servers or "", config.output.producer)
            fencing = functools.partial(fence, producer, source.group_id)
        ranges = plan_partitions(
            conf, source.topic, source.start, source.start_timestamp_ms, bounded, before_committed=fencing
        )
        total = sum(r.end - r.start for r in ranges) if bounded else None
        return SourceFacts(
            schema=kafka_decoder(source).schema, total=total, partitions=ranges, planned_at_ms=planned_at_ms
        )
    found = describe_input(source.path, config.invoke.input_columns([]))
    if found.schema is None:
        raise ConfigError([f"source.path: {source.path} matches no files"])
    return SourceFacts(schema=found.schema, total=found.rows, partitions=[], shard_rows=found.shard_rows)


def check_outputs_writable(config: JobConfig, run_id: str) -> None:
    """Probe each output folder's staging location (Kafka outputs need no probe)."""
    if config.output.format != "kafka":
        for final in (config.output.predictions, config.output.dead_letters):
            check_writable(final, run_id)


def output_schemas(config: JobConfig, schema: pa.Schema, key_columns: list[str]) -> OutputSchemas:
    """Check the config's columns against the input ``schema``; raise ConfigError naming the key."""
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
    return OutputSchemas(
        needed, prediction_schema(passthrough, invoke.prediction_type), dead_letter_schema(passthrough)
    )


def check_shared_locations(config: JobConfig, workers_share_our_disk: bool) -> None:
    """On a runner whose workers do not see this machine's disk, every output and the report must be on a
    shared store (gs://, s3://): a local path would be written on a worker's disk and read here from ours."""
    if workers_share_our_disk:
        return
    out = config.output
    paths = {"output.report": report_file(config)}  # Kafka outputs: out/<job>/report.json unless set
    if out.format != "kafka":
        paths |= {"output.predictions": out.predictions, "output.dead_letters": out.dead_letters}
    problems = [
        f"{key}: {path} is a local path; this runner's workers would write it on their own disks, "
        "not where it is read (use gs:// or s3://)"
        for key, path in paths.items()
        if path is not None and "://" not in path
    ]
    if problems:
        raise ConfigError(problems)
