"""Explicit Arrow schemas of the two outputs, and builders for their rows.

Every input record ends as exactly one row of one of these tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from transforms.core.errors import ErrorInfo

TIMESTAMP = pa.timestamp("ms", tz="UTC")


# Which request a row came from: the InferenceId it was sent with (a MultiRecord request's batch id, or the
# record's own when sent alone) and the service's x-amzn-RequestId, to join Data Capture and support cases.
_REQUEST_FIELDS = [pa.field("request_inference_id", pa.string()), pa.field("aws_request_id", pa.string())]


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
        *_REQUEST_FIELDS,
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
    *_REQUEST_FIELDS,
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


@dataclass(frozen=True, kw_only=True)
class ResponseMeta:
    variant: str | None
    content_type: str | None
    custom_attributes: str | None
    new_session_id: str | None
    closed_session_id: str | None
    attempts: int
    latency_ms: float
    request_inference_id: str
    aws_request_id: str | None


def _assemble(passthrough: pa.Table, schema: pa.Schema, values: dict[str, object]) -> pa.Table:
    """Passthrough columns, then each output column: an array (cast to the schema's type) or a scalar repeated."""
    n = passthrough.num_rows
    arrays = [passthrough.column(f.name) for f in passthrough.schema]
    for f in schema:
        if f.name not in passthrough.schema.names:
            value = values[f.name]
            if isinstance(value, pa.Array):
                arrays.append(value.cast(f.type))
            else:
                arrays.append(pa.repeat(pa.scalar(value, f.type), n))
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass(frozen=True, kw_only=True)
class Segment:
    """One successful request: rows ``[start, stop)`` of its batch, their predictions, the response metadata."""

    start: int
    stop: int
    predictions: pa.Array
    meta: ResponseMeta
    scored_at: dt.datetime


def prediction_rows(
    passthrough: pa.Table, ids: pa.Array, segments: list[Segment], endpoint: str, schema: pa.Schema
) -> pa.Table:
    """Every successful request of a batch as one table: one array per column, not a table per request.

    Rows are taken only when some requests failed; otherwise the batch's columns are used as they are.
    """
    lengths = np.array([s.stop - s.start for s in segments])
    rows = np.concatenate([np.arange(s.start, s.stop) for s in segments])
    if len(rows) < passthrough.num_rows or not (rows == np.arange(len(rows))).all():  # not all succeeded
        succeeded = pa.array(rows)
        passthrough, ids = passthrough.take(succeeded), ids.take(succeeded)
    request_of_row = pa.array(np.repeat(np.arange(len(segments)), lengths))
    types = {f.name: f.type for f in schema}

    def per_request(name: str, values: list[object]) -> pa.Array:
        return pa.array(values, types[name]).take(request_of_row)

    metas = [s.meta for s in segments]
    columns: dict[str, object] = {
        "inference_id": ids,
        "prediction": pa.concat_arrays([s.predictions for s in segments]),
        "invoked_variant": per_request("invoked_variant", [m.variant for m in metas]),
        "content_type": per_request("content_type", [m.content_type for m in metas]),
        "custom_attributes": per_request("custom_attributes", [m.custom_attributes for m in metas]),
        "new_session_id": per_request("new_session_id", [m.new_session_id for m in metas]),
        "closed_session_id": per_request("closed_session_id", [m.closed_session_id for m in metas]),
        "attempts": per_request("attempts", [m.attempts for m in metas]),
        "latency_ms": per_request("latency_ms", [m.latency_ms for m in metas]),
        "request_inference_id": per_request("request_inference_id", [m.request_inference_id for m in metas]),
        "aws_request_id": per_request("aws_request_id", [m.aws_request_id for m in metas]),
        "endpoint_name": endpoint,
        "scored_at": per_request("scored_at", [s.scored_at for s in segments]),
    }
    return _assemble(passthrough, schema, columns)


def dead_letter_rows(
    *,
    passthrough: pa.Table,
    ids: pa.Array,
    payloads: list[bytes],
    info: ErrorInfo,
    attempts: int,
    endpoint: str,
    schema: pa.Schema,
    now: dt.datetime,
    request_inference_id: str | None = None,
) -> pa.Table:
    """One dead-letter row per record of ``passthrough``, all failed alike (``info`` after ``attempts``) in the
    request sent as ``request_inference_id`` (none for a record never sent)."""
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
            "request_inference_id": request_inference_id,
            "aws_request_id": info.request_id,
            "endpoint_name": endpoint,
            "failed_at": now,
        },
    )
