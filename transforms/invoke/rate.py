"""A job-wide request budget, as each worker process's share: a token bucket checked before every attempt.

The bucket holds one token, so requests are spaced ``1 / per_second`` apart and never burst: the
shares of many workers then add up to the job's cap at any moment, not only on average. A caller
that finds no token reserves the next one and sleeps until it is due, so waiting callers are served
in order and none spins. It lives on the worker's event loop, so reserving needs no lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RequestRate:
    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        min_pause: float = 0.0,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._min_pause = min_pause  # a shorter wait is not slept: the caller leaves early, its slot kept
        self._next_free = clock()  # when the next token is due

    async def acquire(self) -> float:
        """Take a token, waiting for it if need be; returns the seconds waited (throttled time)."""
        now = self._clock()
        due = max(self._next_free, now)
        self._next_free = due + self.interval
        wait = due - now
        if wait <= self._min_pause:
            return 0.0
        await self._sleep(wait)
        return wait
