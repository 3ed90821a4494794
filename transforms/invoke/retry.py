"""The one retry policy (tenacity), driven by :func:`transforms.invoke.classify.classify`.

``sleep`` is injected so tests exercise backoff without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.stop import stop_base
from tenacity.wait import wait_random_exponential

from transforms.core.errors import ErrorInfo
from transforms.core.settings import RetrySettings
from transforms.invoke.classify import classify

T = TypeVar("T")


@dataclass(frozen=True)
class Attempted(Generic[T]):
    value: T
    attempts: int


class InvokeFailed(Exception):
    """All attempts failed, or the error is not worth retrying."""

    def __init__(self, info: ErrorInfo, attempts: int) -> None:
        super().__init__(f"{info.error_class}/{info.code}: {info.message}")
        self.info = info
        self.attempts = attempts


class _Classified(Exception):
    """An attempt's failure with its classification and its call's own settings (backoff hook, attempts at a
    poison failure): tenacity's predicate, stop and ``before_sleep`` need no per-call state of their own."""

    def __init__(
        self, info: ErrorInfo, on_backoff: Callable[[ErrorInfo, float], None] | None, poison_attempts: int | None
    ) -> None:
        super().__init__(info.error_class)
        self.info = info
        self.on_backoff = on_backoff
        self.poison_attempts = poison_attempts


class _PoisonStop(stop_base):
    """A request that can be split stops at its poison-attempt limit: its halves get their own attempts."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        return (
            isinstance(failure, _Classified)
            and failure.info.poison
            and failure.poison_attempts is not None
            and retry_state.attempt_number >= failure.poison_attempts
        )


class RetryPolicy:
    """One tenacity ``AsyncRetrying`` per policy, shared by every call on the worker's event loop.

    Building one per call costs more CPU than the rest of our per-call work. Sharing is safe on one loop:
    tenacity keeps a call's bookkeeping on the instance only between the end of an attempt and the start
    of its sleep, and every hook here is synchronous, so no other call runs in between.
    """

    def __init__(self, settings: RetrySettings, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.settings = settings
        self._retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, _Classified) and exc.info.retryable),
            stop=stop_after_attempt(settings.max_attempts)
            | stop_after_delay(settings.max_elapsed_seconds)
            | _PoisonStop(),
            wait=wait_random_exponential(multiplier=settings.initial_backoff_seconds, max=settings.max_backoff_seconds),
            sleep=sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )

    @staticmethod
    def _before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Classified) and failure.on_backoff is not None and state.next_action is not None:
            failure.on_backoff(failure.info, state.next_action.sleep)

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        on_error: Callable[[ErrorInfo], None] | None = None,
        on_backoff: Callable[[ErrorInfo, float], None] | None = None,
        poison_attempts: int | None = None,
    ) -> Attempted[T]:
        """Run ``fn`` under the policy; return its value and the attempts it took.

        ``on_error`` sees the classification of every failed attempt (for metrics
        and adaptive concurrency), retried or not; ``on_backoff`` each wait before
        a retry, with the failure that caused it (throttled time, for the runner).
        ``poison_attempts`` caps the attempts at a poison failure (a request the caller can split).
        """
        attempts = 0

        async def attempt() -> T:
            nonlocal attempts
            attempts += 1
            try:
                return await fn()
            except Exception as exc:
                info = classify(exc, self.settings)
                if on_error is not None:
                    on_error(info)
                raise _Classified(info, on_backoff, poison_attempts) from exc

        try:
            return Attempted(await self._retrying(attempt), attempts)
        except _Classified as failed:
            raise InvokeFailed(failed.info, attempts) from failed.__cause__
