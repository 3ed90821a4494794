"""``build_pipeline``: sources -> invoke -> sinks, wired from a validated JobConfig."""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
import pyarrow as pa

from pipelines.config import ConfigError, JobConfig
from transforms.invoke import DEAD_LETTERS, PREDICTIONS, STATS, InvokeEndpoint, InvokeSpec, MergeStats
from transforms.outputs import dead_letter_schema, prediction_schema
from transforms.parquet_source import KEY_COLUMNS, ReadParquetTables, with_source_keys
from transforms.sinks import Publication, Publish, WriteTables, staging_path


@dataclass(frozen=True)
class RunContext:
    """Facts gathered before building: the input schema, run id, date, where progress goes."""

    input_schema: pa.Schema
    run_id: str
    date: str
    progress_address: str | None = None


def build_pipeline(p: beam.Pipeline, config: JobConfig, ctx: RunContext) -> beam.PCollection:
    """Wire the batch job; returns the PCollection holding the run report (one dict).

    Raises ConfigError when the config names columns the input does not have.
    """
    schema = with_source_keys(ctx.input_schema)
    invoke = config.invoke
    needed = invoke.input_columns(KEY_COLUMNS)
    unknown = [c for c in needed if c not in schema.names]
    if unknown:
        raise ConfigError([f"invoke: columns {unknown} are not in the input (it has {ctx.input_schema.names})"])
    passthrough = pa.schema([schema.field(c) for c in invoke.passthrough_columns])
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
