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


def _constant(value: object, n: int, type_: pa.DataType) -> pa.Array:
    return pa.array([value] * n, type_)


def _assemble(passthrough: pa.Table, schema: pa.Schema, columns: dict[str, pa.Array]) -> pa.Table:
    arrays = [passthrough.column(f.name) for f in passthrough.schema]
    arrays += [columns[f.name] for f in schema if f.name not in passthrough.schema.names]
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
    n = len(ids)
    s = pa.string()
    return _assemble(
        passthrough,
        schema,
        {
            "inference_id": ids,
            "prediction": predictions,
            "invoked_variant": _constant(meta.variant, n, s),
            "content_type": _constant(meta.content_type, n, s),
            "custom_attributes": _constant(meta.custom_attributes, n, s),
            "new_session_id": _constant(meta.new_session_id, n, s),
            "closed_session_id": _constant(meta.closed_session_id, n, s),
            "attempts": _constant(meta.attempts, n, pa.int32()),
            "latency_ms": _constant(meta.latency_ms, n, pa.float64()),
            "endpoint_name": _constant(endpoint, n, s),
            "scored_at": _constant(now, n, TIMESTAMP),
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
    n = len(ids)
    s = pa.string()
    i32 = pa.int32()
    return _assemble(
        passthrough,
        schema,
        {
            "inference_id": ids,
            "payload": pa.array(payloads, pa.binary()),
            "error_class": _constant(info.error_class, n, s),
            "error_code": _constant(info.code, n, s),
            "http_status": _constant(info.http_status, n, i32),
            "message": _constant(info.message[:2048], n, s),
            "model_original_status": _constant(info.model_status, n, i32),
            "model_original_message": _constant(info.model_message, n, s),
            "model_log_stream_arn": _constant(info.log_stream_arn, n, s),
            "attempts": _constant(attempts, n, i32),
            "endpoint_name": _constant(endpoint, n, s),
            "failed_at": _constant(now, n, TIMESTAMP),
        },
    )
