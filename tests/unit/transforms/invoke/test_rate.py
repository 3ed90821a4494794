"""The request budget: requests spaced 1/rate apart, waiting callers served in turn, no burst."""

import threading

import pytest

from transforms.invoke.rate import RequestRate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_the_first_request_goes_at_once_and_the_next_wait_their_turn():
    clock = Clock()
    rate = RequestRate(4.0, clock=clock, sleep=clock.sleep)
    waits = [rate.acquire() for _ in range(4)]  # all asked at the same instant
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75]) and clock.slept == pytest.approx([0.25, 0.5, 0.75])


def test_an_idle_budget_does_not_save_up_a_burst():
    clock = Clock()
    rate = RequestRate(10.0, clock=clock, sleep=clock.sleep)
    rate.acquire()
    clock.now += 60  # a minute without requests
    assert [rate.acquire(), rate.acquire()] == pytest.approx([0.0, 0.1])


def test_threads_never_get_two_tokens_for_one_slot():
    clock = Clock()
    rate = RequestRate(1000.0, clock=clock, sleep=clock.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(100):
            waited = rate.acquire()
            with lock:
                waits.append(waited)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(round(w * 1000) for w in waits) == list(range(800))  # 800 distinct slots, 1 ms apart


def test_a_budget_must_be_positive():
    with pytest.raises(ValueError):
        RequestRate(0)
