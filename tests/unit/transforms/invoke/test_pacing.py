"""Request pacing: sends spaced min round trip / window apart, the minimum kept over a sliding window."""

import asyncio

import pytest

from tests.unit.transforms.invoke.stub_client import Clock
from transforms.invoke.concurrency import AdaptiveLimiter
from transforms.invoke.pacing import RequestPacer


def burst(pacer: RequestPacer, requests: int) -> None:
    """``requests`` sends asked for at the same instant."""

    async def run() -> None:
        await asyncio.gather(*(pacer.acquire() for _ in range(requests)))

    asyncio.run(run())


def test_no_spacing_before_a_round_trip_is_seen():
    clock = Clock()
    pacer = RequestPacer(AdaptiveLimiter(16), clock=clock, sleep=clock.sleep)
    burst(pacer, 16)
    assert clock.slept == [] and pacer.spacing == 0.0


def test_a_burst_leaves_spread_over_the_fastest_round_trip():
    clock = Clock()
    pacer = RequestPacer(AdaptiveLimiter(16), clock=clock, sleep=clock.sleep)
    for seconds in (0.040, 0.032, 0.050):
        pacer.observe(seconds)
    assert pacer.min_rtt == 0.032 and pacer.spacing == pytest.approx(0.002)  # 16 sends per 32 ms
    burst(pacer, 4)
    assert clock.slept == pytest.approx([0.002, 0.004, 0.006])  # the first goes at once


def test_a_halved_window_doubles_the_spacing():
    clock = Clock()
    limiter = AdaptiveLimiter(16)
    pacer = RequestPacer(limiter, clock=clock, sleep=clock.sleep)
    pacer.observe(0.032)
    limiter.on_throttle(0)
    pacer.observe(0.040)
    assert pacer.spacing == pytest.approx(0.004)  # 8 sends per 32 ms


def test_a_pause_under_a_millisecond_is_not_slept_but_its_slot_is_kept():
    clock = Clock()
    pacer = RequestPacer(AdaptiveLimiter(50), clock=clock, sleep=clock.sleep)
    pacer.observe(0.020)  # 0.4 ms apart
    burst(pacer, 4)
    assert clock.slept == pytest.approx([0.0012])  # due in 0.4 and 0.8 ms: they go at once; the fourth waits


def test_the_minimum_forgets_a_round_trip_no_longer_reached():
    clock = Clock()
    pacer = RequestPacer(AdaptiveLimiter(10), window_s=10.0, clock=clock, sleep=clock.sleep)
    pacer.observe(0.010)
    clock.now += 6  # next half-window: the 10 ms round trip is still within the window
    pacer.observe(0.050)
    assert pacer.min_rtt == 0.010
    clock.now += 6  # one more: it has left it
    pacer.observe(0.050)
    assert pacer.min_rtt == 0.050 and pacer.spacing == pytest.approx(0.005)


def test_after_a_silence_longer_than_the_window_only_new_round_trips_count():
    clock = Clock()
    pacer = RequestPacer(AdaptiveLimiter(10), window_s=10.0, clock=clock, sleep=clock.sleep)
    pacer.observe(0.010)
    clock.now += 60
    pacer.observe(0.030)
    assert pacer.min_rtt == 0.030
