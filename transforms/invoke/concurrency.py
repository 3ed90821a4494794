"""Adaptive concurrency: fewer requests in flight after throttles, more when healthy (AIMD).

Retrying a throttled call at the same concurrency only throttles again; halving
the window on a throttle and growing it by a quarter request per window of successes
keeps the endpoint near its capacity with few retries, as TCP does with a congested
link; a full request per window probes too often (BENCHMARKS.md has the figures).
As in TCP, one congestion event halves the window once: throttles of requests that
were already in flight when the window was halved do not halve it again.

It lives on the worker's event loop (:mod:`transforms.invoke.worker_loop`): no locks, waiters
served in order.
"""

from __future__ import annotations

import asyncio
import collections


class AdaptiveLimiter:
    def __init__(self, maximum: int, adaptive: bool = True, minimum: int = 1) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.adaptive = adaptive
        self._limit = float(maximum)
        self._in_flight = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._decreases = 0  # how many times the window was halved

    @property
    def limit(self) -> int:
        return max(self.minimum, int(self._limit))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def acquire(self) -> int:
        """Take a slot, waiting for one; returns the congestion epoch the request starts in, for :meth:`on_throttle`."""
        if self._waiting or self._in_flight >= self.limit:
            slot = asyncio.get_running_loop().create_future()
            self._waiting.append(slot)
            try:
                await slot  # a slot is taken on our behalf before this wakes
            except asyncio.CancelledError:
                if slot.done() and not slot.cancelled():
                    self.release()
                raise
        else:
            self._in_flight += 1
        return self._decreases

    def release(self) -> None:
        self._in_flight -= 1
        self._wake()

    def on_success(self) -> None:
        if self.adaptive:
            self._limit = min(float(self.maximum), self._limit + 0.25 / max(self._limit, 1.0))
            self._wake()

    def on_throttle(self, epoch: int) -> None:
        """Halve the window, unless this request started before the last halving (same congestion event)."""
        if self.adaptive and epoch == self._decreases:
            self._limit = max(float(self.minimum), self._limit * 0.5)
            self._decreases += 1

    def _wake(self) -> None:
        while self._waiting and self._in_flight < self.limit:
            slot = self._waiting.popleft()
            if not slot.done():
                self._in_flight += 1
                slot.set_result(None)
