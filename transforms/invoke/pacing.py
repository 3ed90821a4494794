"""Request pacing: a worker's requests leave spread over a round trip, not in bursts of a whole window.

When a window of requests leaves at once, they reach the endpoint together and queue behind one another
there; their answers come back together, the next window leaves together, and the bursts persist.
Spacing sends ``min_rtt / limit`` apart breaks them, so a request finds the endpoint idle. That spacing
never caps throughput below what the window reaches on its own: ``limit`` requests in flight cannot
complete faster than ``limit / min_rtt`` per second (TCP paces at congestion window / min RTT alike).

The minimum round trip is kept over a sliding window of ``window_s`` (two halves, so a round trip no longer
reached is forgotten, as after a model change), from successful calls only: an error answered at once says
nothing about how long scoring takes. Waits under a millisecond are not slept: the event loop's timers
fire at millisecond resolution, so such a pause is not kept and only costs a wake-up.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from transforms.invoke.concurrency import AdaptiveLimiter
from transforms.invoke.rate import RequestRate

MIN_PAUSE_S = 0.001


class RequestPacer:
    def __init__(
        self,
        limiter: AdaptiveLimiter,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limiter = limiter
        self._half = window_s / 2
        self._clock = clock
        # No spacing until a round trip is seen.
        self._slots = RequestRate(math.inf, clock=clock, sleep=sleep, min_pause=MIN_PAUSE_S)
        self._since = clock()  # start of the current half-window
        self._current = math.inf  # the fastest round trip of the current half-window
        self._previous = math.inf  # ... and of the one before it

    @property
    def min_rtt(self) -> float:
        return min(self._current, self._previous)

    @property
    def spacing(self) -> float:
        return self._slots.interval

    def observe(self, seconds: float) -> None:
        """A successful call's round trip."""
        now = self._clock()
        if now - self._since >= self._half:
            # The half-window that ends becomes the previous one, unless a silence longer than both ended it.
            self._previous = self._current if now - self._since < 2 * self._half else math.inf
            self._current = math.inf
            self._since = now
        self._current = min(self._current, seconds)
        self._slots.interval = self.min_rtt / self._limiter.limit

    async def acquire(self) -> None:
        """Wait for this request's turn to leave."""
        await self._slots.acquire()
