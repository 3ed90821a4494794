"""Scoring one Arrow batch without Beam: invoke its planned requests, bisect failures, build the output rows.

:class:`BatchScorer` is what the invoke DoFn runs; it is unit-tested with a stub client and
integration-tested against the local endpoint, with no runner in between.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from transforms.batching.plan import BatchPlan, BatchPlanner
from transforms.codecs.requests import EncodedRecords
from transforms.core.errors import ErrorInfo
from transforms.core.rows import Segment, dead_letter_rows, prediction_rows
from transforms.core.stats import RunStats
from transforms.invoke.invoker import EndpointInvoker
from transforms.invoke.retry import InvokeFailed


@dataclass
class ScoredPart:
    """What the requests of one range produced: successful segments (not tables yet), dead letters, stats."""

    segments: list[Segment] = field(default_factory=list)
    dead_letters: list[pa.Table] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)


@dataclass
class _Isolation:
    """One planned request's bisection: the failing records it has isolated and the records it has scored.

    With ``a`` = ``split_after_attempts``, a request of ``n`` records of which ``p`` fail sends at most
    ``a * (1 + 2 * p * ceil(log2 n))`` requests. When the failures are not a few records' doing (a model that
    fails every request), bisecting would cost ~``2 * a * n`` requests for nothing: past ``limit`` isolated
    records, it goes on only while they are at most a quarter of the records the request has scored.
    """

    limit: int
    isolated: int = 0
    scored: int = 0

    def may_split(self) -> bool:
        return self.isolated < self.limit or self.isolated * 4 <= self.scored


@dataclass(frozen=True, kw_only=True)
class ScoredBatch:
    predictions: pa.Table | None
    dead_letters: pa.Table | None
    stats: RunStats
    latencies_ms: list[float]  # of each successful request, for the runner's latency metric


class BatchScorer:
    """Plans, invokes and assembles the outputs of one Arrow batch."""

    def __init__(
        self,
        invoker: EndpointInvoker,
        planner: BatchPlanner,
        *,
        prediction_schema: pa.Schema,
        dead_letter_schema: pa.Schema,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.invoker = invoker
        self.planner = planner
        self.prediction_schema = prediction_schema
        self.dead_letter_schema = dead_letter_schema
        self.clock = clock

    def plan(self, table: pa.Table) -> BatchPlan:
        return self.planner.plan(table)

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
        return ScoredBatch(
            predictions=predictions,
            dead_letters=pa.concat_tables(dead) if dead else None,
            stats=stats,
            latencies_ms=[s.meta.latency_ms for s in segments],
        )

    async def score(self, plan: BatchPlan) -> list[ScoredPart]:
        """Every planned request of the batch, all in flight at once under the invoker's limits."""
        return await asyncio.gather(*(self.score_range(plan, a, b) for a, b in plan.ranges))

    async def score_range(self, plan: BatchPlan, start: int, stop: int) -> ScoredPart:
        """Invoke one request; on a splittable failure bisect until the bad records are alone."""
        part = ScoredPart()
        part.stats.records_in += stop - start
        refusal = plan.refusal(start)
        if refusal is not None or not isinstance(plan.encoded, EncodedRecords):
            info = ErrorInfo(error_class="EncodeError", code="EncodeError", message=refusal or "", retryable=False)
            self._dead(part, plan, start, stop, info, 0, None)
            return part
        isolation = _Isolation(self.invoker.settings.retry.max_isolated_records)
        await self._score(part, plan, plan.encoded, start, stop, isolation, half=False)
        return part

    async def _score(
        self,
        part: ScoredPart,
        plan: BatchPlan,
        encoded: EncodedRecords,
        start: int,
        stop: int,
        isolation: _Isolation,
        half: bool,
    ) -> None:
        """One range; a failure that may be one record's doing splits it in halves (each with its own attempts)
        until the failing records stand alone, within the request's isolation limit."""
        n = stop - start
        request_id = self.planner.request_id(plan, start, stop)
        try:
            scored = await self.invoker.invoke(
                encoded.body(start, stop),
                request_id,
                self.planner.overrides(plan, start),
                n,
                part.stats,
                splittable=n > 1 or half,
            )
        except InvokeFailed as failed:
            info = failed.info
            if (info.split or info.poison) and n > 1 and isolation.may_split():
                mid = (start + stop) // 2
                await self._score(part, plan, encoded, start, mid, isolation, half=True)
                await self._score(part, plan, encoded, mid, stop, isolation, half=True)
                return
            if n == 1 and half:
                isolation.isolated += 1
            self._dead(part, plan, start, stop, info, failed.attempts, request_id)
            return
        part.segments.append(
            Segment(start=start, stop=stop, predictions=scored.predictions, meta=scored.meta, scored_at=self.clock())
        )
        part.stats.predictions_out += n
        part.stats.variant(scored.meta.variant).add(n, scored.meta.latency_ms)
        isolation.scored += n

    def _dead(
        self,
        part: ScoredPart,
        plan: BatchPlan,
        start: int,
        stop: int,
        info: ErrorInfo,
        attempts: int,
        request_id: str | None,
    ) -> None:
        n = stop - start
        part.dead_letters.append(
            dead_letter_rows(
                passthrough=plan.passthrough.slice(start, n),
                ids=plan.ids.slice(start, n),
                payloads=plan.payloads(start, stop),
                info=info,
                attempts=attempts,
                endpoint=self.invoker.endpoint.name,
                schema=self.dead_letter_schema,
                now=self.clock(),
                request_inference_id=request_id,
            )
        )
        part.stats.dead_letters_out += n
        part.stats.dead_letters_by_class[info.error_class] += n
