"""``build_pipeline``: sources -> invoke -> sinks, wired from a validated JobConfig."""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
import pyarrow as pa

from pipelines.config import JobConfig
from transforms.invoke import DEAD_LETTERS, PREDICTIONS, STATS, InvokeEndpoint, InvokeSpec, MergeStats
from transforms.outputs import dead_letter_schema, prediction_schema
from transforms.parquet_source import KEY_COLUMNS, ReadParquetTables
from transforms.sinks import Publication, Publish, WriteTables, staging_path


@dataclass(frozen=True)
class RunContext:
    """Facts gathered before building: the input schema, run id, date, where progress goes."""

    input_schema: pa.Schema
    run_id: str
    date: str
    progress_address: str | None = None


def _passthrough_schema(config: JobConfig, source_schema: pa.Schema) -> pa.Schema:
    missing = [c for c in config.invoke.passthrough_columns if c not in source_schema.names]
    if missing:
        raise ValueError(f"invoke.passthrough_columns: {missing} are not columns of the input")
    return pa.schema([source_schema.field(c) for c in config.invoke.passthrough_columns])


def source_schema_with_keys(input_schema: pa.Schema) -> pa.Schema:
    return input_schema.append(pa.field(KEY_COLUMNS[0], pa.string())).append(pa.field(KEY_COLUMNS[1], pa.int64()))


def build_pipeline(p: beam.Pipeline, config: JobConfig, ctx: RunContext) -> beam.PCollection:
    """Wire the batch job; returns the PCollection holding the run report (one dict)."""
    schema = source_schema_with_keys(ctx.input_schema)
    invoke = config.invoke
    needed = invoke.input_columns(KEY_COLUMNS)
    unknown = [c for c in needed if c not in schema.names]
    if unknown:
        raise ValueError(f"columns {unknown} named in the invoke section are not in the input {ctx.input_schema.names}")
    passthrough = _passthrough_schema(config, schema)
    predictions_schema = prediction_schema(passthrough, invoke.prediction_type)
    dead_schema = dead_letter_schema(passthrough)

    tables = p | "ReadParquet" >> ReadParquetTables(config.source.path, needed, config.source.batch_rows)
    scored = tables | "InvokeEndpoint" >> InvokeEndpoint(
        InvokeSpec(config.endpoint, invoke, KEY_COLUMNS, predictions_schema, dead_schema, ctx.progress_address)
    )
    out = config.output
    dead_pub = Publication(staging_path(out.dead_letters, ctx.run_id), out.dead_letters)
    pred_pub = Publication(staging_path(out.predictions, ctx.run_id), out.predictions)
    written_dead = scored[DEAD_LETTERS] | "WriteDeadLetters" >> WriteTables(dead_pub.staging, dead_schema, out.format)
    written_pred = scored[PREDICTIONS] | "WritePredictions" >> WriteTables(
        pred_pub.staging, predictions_schema, out.format
    )
    totals = scored[STATS] | "MergeStats" >> beam.CombineGlobally(MergeStats())
    extra: dict[str, object] = {
        "job": config.job.name,
        "run_id": ctx.run_id,
        "date": ctx.date,
        "endpoint": config.endpoint.name,
        "strategy": invoke.strategy,
    }
    return totals | "PublishOutputs" >> Publish([dead_pub, pred_pub], [written_dead, written_pred], extra)
