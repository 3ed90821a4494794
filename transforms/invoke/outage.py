"""Stop a run when the endpoint is down, instead of dead-lettering every record of the outage.

A request that fails on the endpoint's side (network, credentials, capacity, service faults) after all
its retries says nothing about its records. A few of them are an incident: their records become dead
letters and the run goes on. A long run of them with no success in between is an outage or a
misconfiguration (a wrong URL, name or secret), and dead-lettering the rest of the input would hide it
behind hours of retries and a dead-letter set as large as the input. The run fails instead; nothing is
published, and rerunning the date is safe (deterministic ids, atomic outputs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from transforms.core.errors import ErrorInfo

RETRY_AFTER_SECONDS = 60.0


class EndpointOutage(RuntimeError):
    """The breaker tripped: the run stops and publishes nothing."""


class OutageBreaker:
    """Counts requests in a row that failed on the endpoint's side after their retries; a success resets it.

    It trips at ``limit`` of them (0: never) if this worker has not been answered yet, or if its last
    answer is at least ``quiet_seconds`` old: a worker that was scoring a moment ago rides out a short
    outage and dead-letters what it lost.

    A tripped breaker lets a request through again ``RETRY_AFTER_SECONDS`` later, and trips again at its
    first outage failure. A runner that retries failed bundles forever (Dataflow streaming) then resumes
    once the endpoint is back, instead of failing every bundle for the life of the worker.
    """

    def __init__(self, limit: int, quiet_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.quiet_seconds = quiet_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._streak = 0
        self._last_answer: float | None = None
        self._tripped: str | None = None  # why; each raise gets a fresh exception (shared ones pile up tracebacks)
        self._tripped_at = 0.0

    def check(self) -> None:
        """Before a request: once tripped, every thread stops instead of calling again, until the retry time."""
        if self._tripped is None:
            return
        with self._lock:
            if self._tripped is not None and self._clock() - self._tripped_at >= RETRY_AFTER_SECONDS:
                self._tripped = None  # the streak stays: its next outage failure trips it again
                return
        if self._tripped is not None:
            raise EndpointOutage(self._tripped) from None

    def answered(self) -> None:
        """The endpoint answered (a prediction, or an error about the request itself)."""
        with self._lock:
            self._streak = 0
            self._last_answer = self._clock()

    def failed(self, info: ErrorInfo) -> None:
        """A request's final failure; raises :class:`EndpointOutage` when the breaker trips."""
        if not info.outage:
            self.answered()
            return
        with self._lock:
            self._streak += 1
            quiet = self._last_answer is None or self._clock() - self._last_answer >= self.quiet_seconds
            if self._tripped is None and self.limit and self._streak >= self.limit and quiet:
                failed = f"{self._streak} requests in a row, each" if self._streak > 1 else "a request"
                self._tripped = (
                    f"the endpoint failed {failed} after its retries (the last: {info.error_class}/{info.code}: "
                    f"{info.message}); stopping rather than dead-lettering the rest of the input "
                    "(invoke.retry.abort_after_endpoint_failures; 0 = never)"
                )
                self._tripped_at = self._clock()
        self.check()
