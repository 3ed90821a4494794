"""Adaptive concurrency: halve on a throttle (once per congestion event), grow back when healthy."""

from transforms.invoke.concurrency import AdaptiveLimiter


def test_adaptive_limiter_halves_on_throttle_and_recovers():
    limiter = AdaptiveLimiter(32)
    limiter.on_throttle()
    assert limiter.limit == 16
    limiter.on_throttle()
    assert limiter.limit == 8
    for _ in range(3000):
        limiter.on_success()
    assert limiter.limit == 32
    fixed = AdaptiveLimiter(8, adaptive=False)
    fixed.on_throttle()
    assert fixed.limit == 8


def test_one_congestion_event_halves_the_window_once():
    limiter = AdaptiveLimiter(32)
    limiter.acquire()  # this thread's request starts at window 32...
    other = AdaptiveLimiter(32)
    limiter.on_throttle()  # ...and is throttled: 16
    limiter.on_throttle()  # a second throttle of a request from before the halving: still 16
    assert limiter.limit == 16
    limiter.release()
    limiter.acquire()  # a request started after the halving may halve again
    limiter.on_throttle()
    assert limiter.limit == 8
    limiter.release()
    assert other.limit == 32
