"""The one retry policy (tenacity), driven by :func:`transforms.errors.classify`.

``sleep`` is injected so tests exercise backoff without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_random_exponential

from transforms.errors import ErrorInfo, classify
from transforms.settings import RetrySettings

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


class RetryPolicy:
    def __init__(self, settings: RetrySettings, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self._sleep = sleep

    def call(self, fn: Callable[[], T], on_error: Callable[[ErrorInfo], None] | None = None) -> Attempted[T]:
        """Run ``fn`` under the policy; return its value and the attempts it took.

        ``on_error`` sees the classification of every failed attempt (for metrics
        and adaptive concurrency), retried or not.
        """
        s = self.settings
        state = {"attempts": 0}

        def attempt() -> T:
            state["attempts"] += 1
            return fn()

        def retryable(exc: BaseException) -> bool:
            info = classify(exc, s)
            if on_error is not None:
                on_error(info)
            return info.retryable

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            stop=stop_after_attempt(s.max_attempts) | stop_after_delay(s.max_elapsed_seconds),
            wait=wait_random_exponential(multiplier=s.initial_backoff_seconds, max=s.max_backoff_seconds),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return Attempted(retrying(attempt), state["attempts"])
        except Exception as exc:
            raise InvokeFailed(classify(exc, s), state["attempts"]) from exc
