"""The invoke transform: Arrow batches in; prediction, dead-letter and stats outputs out.

The DoFn is thin: the client, event loop and scorer are built in ``setup()`` on the worker
(never pickled), requests of several batches are in flight at once, and everything that
decides anything lives in plain modules (:mod:`transforms.batching.plan`,
:mod:`transforms.invoke.scorer`).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.utils.shared import Shared
from apache_beam.utils.windowed_value import WindowedValue

from transforms.batching.plan import BatchPlan, BatchPlanner
from transforms.core.carried import CarriedBatch
from transforms.core.collector import collect_less_often
from transforms.core.settings import EndpointSettings, InvokeSettings
from transforms.invoke.client import StaticCredentials, make_client
from transforms.invoke.concurrency import AdaptiveLimiter
from transforms.invoke.invoker import EndpointInvoker
from transforms.invoke.outage import OutageBreaker
from transforms.invoke.pacing import RequestPacer
from transforms.invoke.progress_sender import ProgressSender
from transforms.invoke.rate import RequestRate
from transforms.invoke.scorer import BatchScorer, ScoredBatch, ScoredPart
from transforms.invoke.worker_loop import WorkerLoop
from transforms.totals import NAMESPACE

PREDICTIONS = "predictions"
DEAD_LETTERS = "dead_letters"
STATS = "stats"
OUTPUTS = "outputs"  # with InvokeSpec.tagged: (PREDICTIONS or DEAD_LETTERS, table) in one stream


@dataclass(frozen=True, kw_only=True)
class InvokeSpec:
    """Everything a worker needs to build its scorer; pickled with the DoFn (no client inside)."""

    endpoint: EndpointSettings
    settings: InvokeSettings
    key_columns: list[str]
    prediction_schema: pa.Schema
    dead_letter_schema: pa.Schema
    progress_address: str | None = None
    credentials: StaticCredentials | None = None  # the local endpoint's keys; else boto3's chain
    requests_per_second: float | None = None  # this worker process's share of the job's request budget
    # Both outputs as (tag, table) on OUTPUTS, for a sink that keeps an input shard's two outputs together: one
    # stream, since a Flatten of the two would end the fused stage and hold every table until the last.
    tagged: bool = False


class WorkerResources:
    """What every invoke DoFn instance of a worker process shares: so ``concurrency``, the request budget, pacing
    and the outage count hold per process, however many instances the SDK harness runs. Their requests all run
    on one event loop."""

    def __init__(self, spec: InvokeSpec) -> None:
        settings = spec.settings
        collect_less_often()  # once per worker process, as the rest
        self.loop = WorkerLoop()
        self.client = make_client(spec.endpoint, settings.concurrency, spec.credentials, settings.client)
        self.loop.on_close(self.client.close)
        self.limiter = AdaptiveLimiter(settings.concurrency, settings.adaptive_concurrency)
        self.breaker = OutageBreaker(settings.retry.abort_after_endpoint_failures, settings.retry.outage_seconds)
        self.rate = RequestRate(spec.requests_per_second) if spec.requests_per_second else None
        self.pacer = RequestPacer(self.limiter) if settings.pacing else None


@dataclass(frozen=True, kw_only=True)
class _Pending:
    """A batch whose requests are in flight, and what goes out with its outputs."""

    plan: BatchPlan
    scored: Future[list[ScoredPart]]
    riders: tuple[tuple[str, Any], ...]
    window: Any
    timestamp: Any


class InvokeEndpointFn(beam.DoFn):
    def __init__(self, spec: InvokeSpec) -> None:
        self.spec = spec
        self._per_process = Shared()

    def setup(self) -> None:
        spec = self.spec
        # One set per process: every copy of this DoFn carries the same Shared key. Held here, since Shared
        # keeps only a weak reference.
        self._resources = self._per_process.acquire(lambda: WorkerResources(spec))
        shared = self._resources
        self._scorer = BatchScorer(
            EndpointInvoker(
                shared.client,
                spec.endpoint,
                spec.settings,
                shared.limiter,
                rate=shared.rate,
                breaker=shared.breaker,
                pacer=shared.pacer,
            ),
            BatchPlanner(spec.settings, spec.key_columns),
            prediction_schema=spec.prediction_schema,
            dead_letter_schema=spec.dead_letter_schema,
        )
        self._progress = ProgressSender(spec.progress_address)
        # Per request; Beam metrics are per thread, so they are updated here, not on the event loop.
        self._latency = Metrics.distribution(NAMESPACE, "latency_ms")
        self._max_pending = 4 * spec.settings.concurrency

    def start_bundle(self) -> None:
        self._pending: collections.deque[_Pending] = collections.deque()
        self._queued = 0  # requests of the pending batches

    def process(
        self, element: pa.Table | CarriedBatch, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam
    ) -> Iterator[Any]:
        table, riders = (element.table, element.riders) if isinstance(element, CarriedBatch) else (element, ())
        if table is None or not table.num_rows:  # nothing to score: the riders go on their own
            yield from _ride(riders, window, timestamp)
            return
        plan = self._scorer.plan(table)
        scored = self._resources.loop.submit(self._scorer.score(plan))
        self._pending.append(_Pending(plan=plan, scored=scored, riders=riders, window=window, timestamp=timestamp))
        self._queued += len(plan.ranges)
        yield from self._drain(block=False)

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._drain(block=True)

    def _drain(self, block: bool) -> Iterator[Any]:
        """Emit finished batches in arrival order; wait when too many requests are queued."""
        while self._pending:
            head = self._pending[0]
            if not (block or self._queued > self._max_pending or head.scored.done()):
                return
            parts = head.scored.result()  # waits; an outage raised on the loop is raised here
            self._pending.popleft()
            self._queued -= len(head.plan.ranges)
            yield from self._emit(self._scorer.assemble(head.plan, parts), head.window, head.timestamp)
            yield from _ride(head.riders, head.window, head.timestamp)

    def _emit(self, batch: ScoredBatch, window: Any, timestamp: Any) -> Iterator[Any]:
        for latency in batch.latencies_ms:
            self._latency.update(round(latency))
        self._progress.send(batch.stats.records_in)
        for tag, table in ((PREDICTIONS, batch.predictions), (DEAD_LETTERS, batch.dead_letters)):
            if table is not None:
                element = (tag, table) if self.spec.tagged else table
                yield TaggedOutput(OUTPUTS if self.spec.tagged else tag, WindowedValue(element, timestamp, (window,)))
        yield TaggedOutput(STATS, WindowedValue(batch.stats, timestamp, (window,)))


def _ride(riders: tuple[tuple[str, Any], ...], window: Any, timestamp: Any) -> Iterator[TaggedOutput]:
    """A carried batch's riders, on the ``outputs`` output beside its scored rows."""
    return (TaggedOutput(OUTPUTS, WindowedValue(rider, timestamp, (window,))) for rider in riders)


class InvokeEndpoint(beam.PTransform):
    """PCollection[pa.Table] -> tagged ``predictions``, ``dead_letters`` (pa.Table) and ``stats`` (RunStats);
    with ``spec.tagged``, ``outputs`` ((tag, pa.Table)) instead of the first two, and the riders of each
    :class:`CarriedBatch` input after its batch's outputs.

    Every input record appears in exactly one prediction or dead-letter row.
    """

    def __init__(self, spec: InvokeSpec) -> None:
        super().__init__()
        self._fn = InvokeEndpointFn(spec)

    def expand(self, tables: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return tables | beam.ParDo(self._fn).with_outputs(PREDICTIONS, DEAD_LETTERS, STATS, OUTPUTS)
