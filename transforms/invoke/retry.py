"""The one retry policy (tenacity), driven by :func:`transforms.errors.classify`.

``sleep`` is injected so tests exercise backoff without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
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
    """An attempt's failure with its classification, so tenacity's predicate needs no per-call state."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.error_class)
        self.info = info


class RetryPolicy:
    """One tenacity ``Retrying`` per policy, shared by every call and thread.

    tenacity keeps a call's state in thread-locals, so one instance serves all
    threads; building one per call costs more CPU than the rest of our per-call work.
    """

    def __init__(self, settings: RetrySettings, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self._calls = threading.local()  # the on_backoff hook of the call running on this thread
        self._retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, _Classified) and exc.info.retryable),
            stop=stop_after_attempt(settings.max_attempts) | stop_after_delay(settings.max_elapsed_seconds),
            wait=wait_random_exponential(multiplier=settings.initial_backoff_seconds, max=settings.max_backoff_seconds),
            sleep=sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _before_sleep(self, state: RetryCallState) -> None:
        hook = getattr(self._calls, "on_backoff", None)
        failure = state.outcome.exception() if state.outcome else None
        if hook is not None and isinstance(failure, _Classified) and state.next_action is not None:
            hook(failure.info, state.next_action.sleep)

    def call(
        self,
        fn: Callable[[], T],
        on_error: Callable[[ErrorInfo], None] | None = None,
        on_backoff: Callable[[ErrorInfo, float], None] | None = None,
    ) -> Attempted[T]:
        """Run ``fn`` under the policy; return its value and the attempts it took.

        ``on_error`` sees the classification of every failed attempt (for metrics
        and adaptive concurrency), retried or not; ``on_backoff`` each wait before
        a retry, with the failure that caused it (throttled time, for the runner).
        """
        self._calls.on_backoff = on_backoff
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            try:
                return fn()
            except Exception as exc:
                info = classify(exc, self.settings)
                if on_error is not None:
                    on_error(info)
                raise _Classified(info) from exc

        try:
            return Attempted(self._retrying(attempt), attempts)
        except _Classified as failed:
            raise InvokeFailed(failed.info, attempts) from failed.__cause__
