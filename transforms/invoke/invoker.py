"""One InvokeEndpoint call under the retry policy, the adaptive concurrency limit, pacing and the outage breaker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from transforms.codecs.responses import parse_predictions
from transforms.core.errors import ErrorInfo
from transforms.core.rows import ResponseMeta
from transforms.core.settings import EndpointSettings, InvokeSettings
from transforms.core.stats import RunStats
from transforms.invoke.concurrency import AdaptiveLimiter
from transforms.invoke.outage import OutageBreaker
from transforms.invoke.pacing import RequestPacer
from transforms.invoke.rate import RequestRate
from transforms.invoke.retry import InvokeFailed, RetryPolicy

_JOB_FIELDS = {
    "CustomAttributes": "custom_attributes",
    "TargetModel": "target_model",
    "TargetVariant": "target_variant",
    "TargetContainerHostname": "target_container_hostname",
    "EnableExplanations": "enable_explanations",
    "InferenceComponentName": "inference_component_name",
    "SessionId": "session_id",
}


@dataclass(frozen=True)
class Scored:
    predictions: pa.Array
    meta: ResponseMeta


class EndpointInvoker:
    """One InvokeEndpoint call under the retry policy, the request budget, the adaptive concurrency limit and pacing.

    ``client`` has the async form of boto3's contract: ``await client.invoke_endpoint(**params)``
    (:mod:`transforms.invoke.client`). Calls run on the worker's event loop.
    """

    def __init__(
        self,
        client: Any,
        endpoint: EndpointSettings,
        settings: InvokeSettings,
        limiter: AdaptiveLimiter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rate: RequestRate | None = None,
        breaker: OutageBreaker | None = None,
        pacer: RequestPacer | None = None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.settings = settings
        self.limiter = limiter
        self.rate = rate
        self.pacer = pacer
        self.policy = RetryPolicy(settings.retry, sleep=sleep)
        self.breaker = breaker or OutageBreaker(
            settings.retry.abort_after_endpoint_failures, settings.retry.outage_seconds
        )
        fields = settings.fields
        self._base: dict[str, str] = {
            "EndpointName": endpoint.name,
            "ContentType": settings.content_type,
            "Accept": settings.accept,
        }
        self._base.update({p: getattr(fields, a) for p, a in _JOB_FIELDS.items() if getattr(fields, a) is not None})

    async def invoke(
        self,
        body: bytes,
        inference_id: str,
        overrides: dict[str, str],
        expected: int,
        stats: RunStats,
        splittable: bool = False,
    ) -> Scored:
        """One request under the policy; ``splittable``: a poison failure gets ``split_after_attempts`` attempts,
        since the caller bisects it, rather than the policy's full ``max_attempts``."""
        params = {**self._base, **overrides, "Body": body, "InferenceId": inference_id}
        epoch = 0  # the congestion epoch of the attempt in flight, for the limiter

        async def attempt() -> tuple[pa.Array, dict[str, Any], float]:
            nonlocal epoch
            if self.rate is not None:  # before taking a concurrency slot: a wait for budget holds none
                stats.throttled_ms += round(await self.rate.acquire() * 1000)
            stats.requests += 1
            epoch = await self.limiter.acquire()
            try:
                if self.pacer is not None:
                    await self.pacer.acquire()
                start = time.perf_counter()
                response = await self.client.invoke_endpoint(**params)
                payload = response["Body"].read()
                latency = time.perf_counter() - start
            finally:
                self.limiter.release()
            self.limiter.on_success()
            if self.pacer is not None:
                self.pacer.observe(latency)
            return (
                parse_predictions(payload, response.get("ContentType"), expected, self.settings),
                response,
                latency * 1000.0,
            )

        def on_error(info: ErrorInfo) -> None:
            stats.errors[info.error_class] += 1
            if info.throttle:
                stats.throttles += 1
                self.limiter.on_throttle(epoch)

        def on_backoff(info: ErrorInfo, seconds: float) -> None:
            if info.throttle:
                stats.throttled_ms += round(seconds * 1000)

        self.breaker.check()
        try:
            poison_attempts = self.settings.retry.split_after_attempts if splittable else None
            result = await self.policy.call(
                attempt, on_error=on_error, on_backoff=on_backoff, poison_attempts=poison_attempts
            )
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
            request_inference_id=inference_id,
            aws_request_id=response.get("ResponseMetadata", {}).get("RequestId"),
        )
        return Scored(predictions, meta)
