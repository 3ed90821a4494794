"""Explicit Arrow schemas of the two outputs, and builders for their rows.

Every input record ends as exactly one row of one of these tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from transforms.errors import ErrorInfo

TIMESTAMP = pa.timestamp("ms", tz="UTC")


def prediction_fields(prediction_type: str) -> list[pa.Field]:
    return [
        pa.field("inference_id", pa.string(), nullable=False),
        pa.field("prediction", pa.float64() if prediction_type == "float64" else pa.string()),
        pa.field("invoked_variant", pa.string()),
        pa.field("content_type", pa.string()),
        pa.field("custom_attributes", pa.string()),
        pa.field("new_session_id", pa.string()),
        pa.field("closed_session_id", pa.string()),
        pa.field("attempts", pa.int32(), nullable=False),
        pa.field("latency_ms", pa.float64()),
        pa.field("endpoint_name", pa.string(), nullable=False),
        pa.field("scored_at", TIMESTAMP, nullable=False),
    ]


DEAD_LETTER_FIELDS = [
    pa.field("inference_id", pa.string(), nullable=False),
    pa.field("payload", pa.binary()),
    pa.field("error_class", pa.string(), nullable=False),
    pa.field("error_code", pa.string()),
    pa.field("http_status", pa.int32()),
    pa.field("message", pa.string()),
    pa.field("model_original_status", pa.int32()),
    pa.field("model_original_message", pa.string()),
    pa.field("model_log_stream_arn", pa.string()),
    pa.field("attempts", pa.int32(), nullable=False),
    pa.field("endpoint_name", pa.string(), nullable=False),
    pa.field("failed_at", TIMESTAMP, nullable=False),
]

RESERVED = frozenset(f.name for f in prediction_fields("float64")) | frozenset(f.name for f in DEAD_LETTER_FIELDS)


def _schema(passthrough: pa.Schema, meta: list[pa.Field]) -> pa.Schema:
    return pa.schema([*passthrough, *meta])


def prediction_schema(passthrough: pa.Schema, prediction_type: str) -> pa.Schema:
    return _schema(passthrough, prediction_fields(prediction_type))


def dead_letter_schema(passthrough: pa.Schema) -> pa.Schema:
    return _schema(passthrough, DEAD_LETTER_FIELDS)


@dataclass(frozen=True)
class ResponseMeta:
    variant: str | None
    content_type: str | None
    custom_attributes: str | None
    new_session_id: str | None
    closed_session_id: str | None
    attempts: int
    latency_ms: float


def _assemble(passthrough: pa.Table, schema: pa.Schema, values: dict[str, object]) -> pa.Table:
    """Passthrough columns, then each output column: an array as is, a scalar repeated (typed by the schema)."""
    n = passthrough.num_rows
    arrays = [passthrough.column(f.name) for f in passthrough.schema]
    for f in schema:
        if f.name not in passthrough.schema.names:
            value = values[f.name]
            arrays.append(value if isinstance(value, pa.Array) else pa.array([value] * n, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def prediction_rows(
    passthrough: pa.Table,
    ids: pa.Array,
    predictions: pa.Array,
    meta: ResponseMeta,
    endpoint: str,
    schema: pa.Schema,
    now: dt.datetime,
) -> pa.Table:
    return _assemble(
        passthrough,
        schema,
        {
            "inference_id": ids,
            "prediction": predictions,
            "invoked_variant": meta.variant,
            "content_type": meta.content_type,
            "custom_attributes": meta.custom_attributes,
            "new_session_id": meta.new_session_id,
            "closed_session_id": meta.closed_session_id,
            "attempts": meta.attempts,
            "latency_ms": meta.latency_ms,
            "endpoint_name": endpoint,
            "scored_at": now,
        },
    )


def dead_letter_rows(
    passthrough: pa.Table,
    ids: pa.Array,
    payloads: list[bytes],
    info: ErrorInfo,
    attempts: int,
    endpoint: str,
    schema: pa.Schema,
    now: dt.datetime,
) -> pa.Table:
    return _assemble(
        passthrough,
        schema,
        {
            "inference_id": ids,
            "payload": pa.array(payloads, pa.binary()),
            "error_class": info.error_class,
            "error_code": info.code,
            "http_status": info.http_status,
            "message": info.message[:2048],
            "model_original_status": info.model_status,
            "model_original_message": info.model_message,
            "model_log_stream_arn": info.log_stream_arn,
            "attempts": attempts,
            "endpoint_name": endpoint,
            "failed_at": now,
        },
    )
