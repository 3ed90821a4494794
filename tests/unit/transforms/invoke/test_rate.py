"""The request budget: requests spaced 1/rate apart, waiting callers served in turn, no burst."""

import asyncio

import pytest

from tests.unit.transforms.invoke.stub_client import Clock
from transforms.invoke.rate import RequestRate


def take(rate: RequestRate, times: int) -> list[float]:
    async def run() -> list[float]:
        return [await rate.acquire() for _ in range(times)]

    return asyncio.run(run())


def test_the_first_request_goes_at_once_and_the_next_wait_their_turn():
    clock = Clock()
    rate = RequestRate(4.0, clock=clock, sleep=clock.sleep)
    waits = take(rate, 4)  # all asked at the same instant
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75]) and clock.slept == pytest.approx([0.25, 0.5, 0.75])


def test_an_idle_budget_does_not_save_up_a_burst():
    clock = Clock()
    rate = RequestRate(10.0, clock=clock, sleep=clock.sleep)
    take(rate, 1)
    clock.now += 60  # a minute without requests
    assert take(rate, 2) == pytest.approx([0.0, 0.1])


def test_concurrent_callers_never_get_two_tokens_for_one_slot():
    clock = Clock()
    rate = RequestRate(1000.0, clock=clock, sleep=clock.sleep)

    async def run() -> list[float]:
        async def caller() -> list[float]:
            return [await rate.acquire() for _ in range(100)]

        return [w for waits in await asyncio.gather(*(caller() for _ in range(8))) for w in waits]

    waits = asyncio.run(run())
    assert sorted(round(w * 1000) for w in waits) == list(range(800))  # 800 distinct slots, 1 ms apart


def test_a_budget_must_be_positive():
    with pytest.raises(ValueError):
        RequestRate(0)
