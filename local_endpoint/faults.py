"""Reproducible fault injection: latency, capacity and error draws from a seeded RNG."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from local_endpoint.config import FAULT_KINDS, Faults


class Capacity:
    """Concurrency and requests-per-second limits; over them a request is throttled.

    The rate limit is a token bucket holding one second of burst, so a client that
    keeps under ``max_rps`` on average is never throttled.
    """

    def __init__(
        self, max_concurrent: int | None, max_rps: float | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_concurrent = max_concurrent
        self.max_rps = max_rps
        self._clock = clock
        self._in_flight = 0
        self._tokens = float(max_rps or 0)
        self._last = clock()

    def try_acquire(self) -> bool:
        if self.max_concurrent is not None and self._in_flight >= self.max_concurrent:
            return False
        if self.max_rps is not None:
            now = self._clock()
            self._tokens = min(self.max_rps, self._tokens + (now - self._last) * self.max_rps)
            self._last = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
        self._in_flight += 1
        return True

    def release(self) -> None:
        self._in_flight -= 1


class FaultInjector:
    """Draws, per request, the fault to inject (or None) and the simulated model latency."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self.capacity = Capacity(faults.capacity.max_concurrent, faults.capacity.max_rps)
        rates = faults.errors
        self._thresholds: list[tuple[float, str]] = []
        acc = 0.0
        for kind in FAULT_KINDS:
            rate = getattr(rates, kind)
            if rate > 0:
                acc += rate
                self._thresholds.append((acc, kind))

    def draw_fault(self) -> str | None:
        if not self._thresholds:
            return None
        x = self._rng.random()
        return next((kind for limit, kind in self._thresholds if x < limit), None)

    def latency_seconds(self) -> float:
        spec = self.faults.latency
        ms = spec.fixed_ms
        jitter = spec.jitter
        if jitter is not None:
            if jitter.distribution == "exponential" and jitter.mean_ms > 0:
                ms += self._rng.expovariate(1.0 / jitter.mean_ms)
            elif jitter.distribution == "normal":
                ms += max(0.0, self._rng.gauss(jitter.mean_ms, jitter.stddev_ms))
            elif jitter.distribution == "uniform":
                ms += self._rng.uniform(0.0, 2 * jitter.mean_ms)
        return ms / 1000.0

    def choose(self, weights: list[float]) -> int:
        """Weighted choice from the same seeded stream (variant routing)."""
        return self._rng.choices(range(len(weights)), weights=weights)[0]

    def randrange(self, n: int) -> int:
        return self._rng.randrange(n)

    def sample(self, percentage: float) -> bool:
        return percentage >= 100.0 or self._rng.random() * 100.0 < percentage
