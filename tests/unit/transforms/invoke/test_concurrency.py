"""Adaptive concurrency: halve on a throttle (once per congestion event), grow back when healthy; waiters in turn."""

import asyncio

from transforms.invoke.concurrency import AdaptiveLimiter


def test_adaptive_limiter_halves_on_throttle_and_recovers():
    limiter = AdaptiveLimiter(32)
    limiter.on_throttle(0)
    assert limiter.limit == 16
    limiter.on_throttle(1)
    assert limiter.limit == 8
    for _ in range(3000):
        limiter.on_success()
    assert limiter.limit == 32
    fixed = AdaptiveLimiter(8, adaptive=False)
    fixed.on_throttle(0)
    assert fixed.limit == 8


def test_one_congestion_event_halves_the_window_once():
    async def run() -> None:
        limiter = AdaptiveLimiter(32)
        epoch = await limiter.acquire()  # this request starts at window 32...
        limiter.on_throttle(epoch)  # ...and is throttled: 16
        limiter.on_throttle(epoch)  # a second throttle of a request from before the halving: still 16
        assert limiter.limit == 16
        limiter.release()
        later = await limiter.acquire()  # a request started after the halving may halve again
        limiter.on_throttle(later)
        assert limiter.limit == 8
        limiter.release()

    asyncio.run(run())


def test_requests_beyond_the_window_wait_and_are_let_in_in_order():
    async def run() -> None:
        limiter = AdaptiveLimiter(2)
        order: list[int] = []

        async def request(i: int) -> None:
            await limiter.acquire()
            order.append(i)
            await asyncio.sleep(0)
            assert limiter.in_flight <= limiter.limit
            limiter.release()

        await asyncio.gather(*(request(i) for i in range(10)))
        assert order == list(range(10)) and limiter.in_flight == 0

    asyncio.run(run())


def test_a_waiter_cancelled_while_waiting_takes_no_slot():
    async def run() -> None:
        limiter = AdaptiveLimiter(1)
        await limiter.acquire()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        limiter.release()
        assert limiter.in_flight == 0
        await limiter.acquire()  # the slot is free again
        assert limiter.in_flight == 1

    asyncio.run(run())
