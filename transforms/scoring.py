"""Scoring without Beam: plan requests over an Arrow batch, invoke, bisect failures, build rows.

:class:`BatchScorer` is what the invoke DoFn runs; it is tested directly against
the local endpoint, with no runner in between.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from botocore.config import Config

from transforms.codecs import EncodedRecords, encode, parse_predictions
from transforms.concurrency import AdaptiveLimiter
from transforms.credentials import web_identity_session
from transforms.errors import ErrorInfo
from transforms.ids import batch_id, record_ids
from transforms.outage import OutageBreaker
from transforms.outputs import ResponseMeta, Segment, dead_letter_rows, prediction_rows
from transforms.retry import InvokeFailed, RetryPolicy
from transforms.settings import EndpointSettings, InvokeSettings
from transforms.stats import RunStats

_JOB_FIELDS = {
    "CustomAttributes": "custom_attributes",
    "TargetModel": "target_model",
    "TargetVariant": "target_variant",
    "TargetContainerHostname": "target_container_hostname",
    "EnableExplanations": "enable_explanations",
    "InferenceComponentName": "inference_component_name",
    "SessionId": "session_id",
}


def make_client(endpoint: EndpointSettings, concurrency: int) -> Any:
    """One client per worker: botocore's retries off (our policy decides), pool sized to concurrency."""
    session = (
        web_identity_session(endpoint.web_identity, endpoint.region)
        if endpoint.web_identity
        else boto3.session.Session()
    )
    return session.client(
        "sagemaker-runtime",
        region_name=endpoint.region,
        endpoint_url=endpoint.endpoint_url,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=concurrency,
            connect_timeout=endpoint.connect_timeout_seconds,
            read_timeout=endpoint.read_timeout_seconds,
            tcp_keepalive=True,
        ),
    )


@dataclass(frozen=True)
class Scored:
    predictions: pa.Array
    meta: ResponseMeta


class EndpointInvoker:
    """One InvokeEndpoint call under the retry policy and the adaptive concurrency limit."""

    def __init__(
        self,
        client: Any,
        endpoint: EndpointSettings,
        settings: InvokeSettings,
        limiter: AdaptiveLimiter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.settings = settings
        self.limiter = limiter
        self.policy = RetryPolicy(settings.retry, sleep=sleep)
        self.breaker = OutageBreaker(settings.retry.abort_after_endpoint_failures, settings.retry.outage_seconds)
        fields = settings.fields
        self._base: dict[str, str] = {
            "EndpointName": endpoint.name,
            "ContentType": settings.content_type,
            "Accept": settings.accept,
        }
        self._base.update({p: getattr(fields, a) for p, a in _JOB_FIELDS.items() if getattr(fields, a) is not None})

    def invoke(
        self, body: bytes, inference_id: str, overrides: dict[str, str], expected: int, stats: RunStats
    ) -> Scored:
        params = {**self._base, **overrides, "Body": body, "InferenceId": inference_id}

        def attempt() -> tuple[pa.Array, dict[str, Any], float]:
            stats.requests += 1
            with self.limiter:
                start = time.perf_counter()
                response = self.client.invoke_endpoint(**params)
                payload = response["Body"].read()
                latency_ms = (time.perf_counter() - start) * 1000.0
            self.limiter.on_success()
            return (
                parse_predictions(payload, response.get("ContentType"), expected, self.settings),
                response,
                latency_ms,
            )

        def on_error(info: ErrorInfo) -> None:
            stats.errors[info.error_class] += 1
            if info.throttle:
                stats.throttles += 1
                self.limiter.on_throttle()

        self.breaker.check()
        try:
            result = self.policy.call(attempt, on_error=on_error)
        except InvokeFailed as failed:
            stats.retries += failed.attempts - 1
            self.breaker.failed(failed.info)
            raise
        self.breaker.answered()
        stats.retries += result.attempts - 1
        predictions, response, latency_ms = result.value
        meta = ResponseMeta(
            variant=response.get("InvokedProductionVariant"),
            content_type=response.get("ContentType"),
            custom_attributes=response.get("CustomAttributes"),
            new_session_id=response.get("NewSessionId"),
            closed_session_id=response.get("ClosedSessionId"),
            attempts=result.attempts,
            latency_ms=round(latency_ms, 3),
        )
        return Scored(predictions, meta)


@dataclass
class BatchPlan:
    """A batch ready to invoke: its records encoded once, its ids, and its request ranges."""

    table: pa.Table
    passthrough: pa.Table
    ids: pa.Array
    encoded: EncodedRecords | None
    ranges: list[tuple[int, int]]
    encode_error: str | None = None
    refused: dict[int, str] = field(default_factory=dict)  # records never sent: the encoder's, and those without an id


@dataclass
class ScoredPart:
    """What the requests of one range produced: successful segments (not tables yet), dead letters, stats."""

    segments: list[Segment] = field(default_factory=list)
    dead_letters: list[pa.Table] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)


@dataclass
class ScoredBatch:
    predictions: pa.Table | None
    dead_letters: pa.Table | None
    stats: RunStats
    latencies_ms: list[float]  # of each successful request, for the runner's latency metric


def runs_of_equal_rows(table: pa.Table, columns: list[str]) -> list[tuple[int, int]]:
    """[start, stop) ranges of consecutive rows with equal values in ``columns`` (null equals null)."""
    n = table.num_rows
    if not columns or n < 2:
        return [(0, n)]
    change = np.zeros(n - 1, dtype=bool)
    for name in columns:
        values = table.column(name).combine_chunks()
        before, after = values.slice(0, n - 1), values.slice(1)
        differ = pc.fill_null(pc.not_equal(before, after), False)
        one_null = pc.xor(pc.is_null(before), pc.is_null(after))
        change |= pc.or_(differ, one_null).to_numpy(zero_copy_only=False)
    bounds = [0, *(np.flatnonzero(change) + 1).tolist(), n]
    return list(itertools.pairwise(bounds))


def _apart(ranges: list[tuple[int, int]], refused: dict[int, str]) -> list[tuple[int, int]]:
    """The request ranges with each refused record taken out into a range of its own, never sent."""
    if not refused:
        return ranges
    out: list[tuple[int, int]] = []
    for start, stop in ranges:
        for row in sorted(r for r in refused if start <= r < stop):
            if start < row:
                out.append((start, row))
            out.append((row, row + 1))
            start = row + 1
        if start < stop:
            out.append((start, stop))
    return out


class BatchScorer:
    """Plans, invokes and assembles the outputs of one Arrow batch."""

    def __init__(
        self,
        invoker: EndpointInvoker,
        settings: InvokeSettings,
        key_columns: list[str],
        prediction_schema: pa.Schema,
        dead_letter_schema: pa.Schema,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.invoker = invoker
        self.settings = settings
        self.key_columns = settings.id_columns or key_columns
        self.prediction_schema = prediction_schema
        self.dead_letter_schema = dead_letter_schema
        self.per_record = settings.fields.per_record_columns()
        self.clock = clock

    def plan(self, table: pa.Table) -> BatchPlan:
        if self.per_record:
            table = table.sort_by([(c, "ascending") for c in self.per_record.values()])
        passthrough = table.select(self.settings.passthrough_columns)
        ids, missing = self._ids(table)
        try:
            encoded = encode(table, self.settings)
        except (ValueError, pa.ArrowException) as exc:
            return BatchPlan(table, passthrough, ids, None, [(0, table.num_rows)], f"cannot encode records: {exc}")
        refused = {**missing, **encoded.refused}
        ranges = _apart(self._ranges(table, encoded), refused)
        return BatchPlan(table, passthrough, ids, encoded, ranges, refused=refused)

    def _ids(self, table: pa.Table) -> tuple[pa.Array, dict[int, str]]:
        """Each record's InferenceId, and the records that have none (a null in ``inference_id_column``)."""
        column = self.settings.inference_id_column
        if not column:
            return record_ids(table, self.key_columns, self.settings.id_namespace), {}
        ids = table.column(column).combine_chunks().cast(pa.string())
        missing = pc.indices_nonzero(ids.is_null()).to_pylist() if ids.null_count else []
        return pc.fill_null(ids, ""), dict.fromkeys(missing, f"inference_id_column {column!r} holds no id")

    def _ranges(self, table: pa.Table, encoded: EncodedRecords) -> list[tuple[int, int]]:
        """Contiguous request ranges within max_records, max_payload_bytes and per-record field groups."""
        limit = self.settings.max_payload_bytes - len(encoded.prefix) - len(encoded.suffix)
        per_request = self.settings.records_per_request
        ranges: list[tuple[int, int]] = []
        for group_start, group_stop in runs_of_equal_rows(table, list(self.per_record.values())):
            start = group_start
            while start < group_stop:
                stop = min(start + per_request, group_stop)
                fits = (
                    int(np.searchsorted(encoded.offsets, encoded.offsets[start] + limit + encoded.trim, side="right"))
                    - 1
                )
                stop = max(start + 1, min(stop, fits))
                ranges.append((start, stop))
                start = stop
        return ranges

    def assemble(self, plan: BatchPlan, parts: list[ScoredPart]) -> ScoredBatch:
        """The parts of one batch as its two output tables (built once per batch) and its summed stats."""
        stats = RunStats()
        segments: list[Segment] = []
        dead: list[pa.Table] = []
        for part in parts:
            segments += part.segments
            dead += part.dead_letters
            stats.merge(part.stats)
        predictions = (
            prediction_rows(plan.passthrough, plan.ids, segments, self.invoker.endpoint.name, self.prediction_schema)
            if segments
            else None
        )
        latencies = [s.meta.latency_ms for s in segments]
        return ScoredBatch(predictions, pa.concat_tables(dead) if dead else None, stats, latencies)

    def score_range(self, plan: BatchPlan, start: int, stop: int) -> ScoredPart:
        """Invoke one request; on a splittable failure bisect until the bad records are alone."""
        part = ScoredPart()
        part.stats.records_in += stop - start
        refusal = plan.encode_error if plan.encoded is None else plan.refused.get(start)
        if refusal is not None:  # the whole batch, or one record alone in its range (see _apart)
            self._dead(part, plan, start, stop, ErrorInfo("EncodeError", "EncodeError", refusal, retryable=False), 0)
            return part
        self._score(part, plan, start, stop)
        return part

    def _score(self, part: ScoredPart, plan: BatchPlan, start: int, stop: int) -> None:
        assert plan.encoded is not None
        first = plan.ids[start].as_py()
        n = stop - start
        request_id = first if n == 1 else batch_id(first, plan.ids[stop - 1].as_py(), n, self.settings.id_namespace)
        overrides = {
            param: value
            for param, col in self.per_record.items()
            if (value := plan.table.column(col)[start].as_py()) is not None
        }
        try:
            scored = self.invoker.invoke(
                plan.encoded.body(start, stop), request_id, overrides, stop - start, part.stats
            )
        except InvokeFailed as failed:
            if failed.info.split and stop - start > 1:
                mid = (start + stop) // 2
                self._score(part, plan, start, mid)
                self._score(part, plan, mid, stop)
                return
            self._dead(part, plan, start, stop, failed.info, failed.attempts)
            return
        n = stop - start
        part.segments.append(Segment(start, stop, scored.predictions, scored.meta, self.clock()))
        part.stats.predictions_out += n
        part.stats.variant(scored.meta.variant).add(n, scored.meta.latency_ms)

    def _dead(self, part: ScoredPart, plan: BatchPlan, start: int, stop: int, info: ErrorInfo, attempts: int) -> None:
        n = stop - start
        encoded = plan.encoded
        payloads = [b"" if not encoded or i in encoded.refused else encoded.record(i) for i in range(start, stop)]
        part.dead_letters.append(
            dead_letter_rows(
                plan.passthrough.slice(start, n),
                plan.ids.slice(start, n),
                payloads,
                info,
                attempts,
                self.invoker.endpoint.name,
                self.dead_letter_schema,
                self.clock(),
            )
        )
        part.stats.dead_letters_out += n
        part.stats.dead_letters_by_class[info.error_class] += n
