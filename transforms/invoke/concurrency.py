"""Adaptive concurrency: fewer requests in flight after throttles, more when healthy (AIMD).

Retrying a throttled call at the same concurrency only throttles again; halving
the window on a throttle and growing it by a quarter request per window of successes
keeps the endpoint near its capacity with few retries, as TCP does with a congested
link; a full request per window probes too often (BENCHMARKS.md has the figures).
As in TCP, one congestion event halves the window once: throttles of requests that
were already in flight when the window was halved do not halve it again.
"""

from __future__ import annotations

import threading


class AdaptiveLimiter:
    def __init__(self, maximum: int, adaptive: bool = True, minimum: int = 1) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.adaptive = adaptive
        self._limit = float(maximum)
        self._in_flight = 0
        self._cond = threading.Condition()
        self._decreases = 0  # how many times the window was halved
        self._seen = threading.local()  # the count when this thread's request started

    @property
    def limit(self) -> int:
        return max(self.minimum, int(self._limit))

    def acquire(self) -> None:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
            self._seen.decreases = self._decreases

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

    def on_success(self) -> None:
        if self.adaptive:
            with self._cond:
                self._limit = min(float(self.maximum), self._limit + 0.25 / max(self._limit, 1.0))
                self._cond.notify()

    def on_throttle(self) -> None:
        """Halve the window, unless this request started before the last halving (same congestion event)."""
        if self.adaptive:
            with self._cond:
                if getattr(self._seen, "decreases", self._decreases) != self._decreases:
                    return
                self._limit = max(float(self.minimum), self._limit * 0.5)
                self._decreases += 1

    def __enter__(self) -> AdaptiveLimiter:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
