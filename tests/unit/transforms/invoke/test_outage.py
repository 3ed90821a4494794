import pytest

from transforms.core.errors import ErrorInfo
from transforms.invoke.outage import RETRY_AFTER_SECONDS, EndpointOutage, OutageBreaker

DOWN = ErrorInfo(
    error_class="NetworkError",
    code="EndpointConnectionError",
    message="Could not connect",
    retryable=True,
    outage=True,
)
BAD_RECORD = ErrorInfo(error_class="ModelError", code="ModelError", message="bad row", retryable=False, split=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(breaker, info, times):
    for _ in range(times):
        breaker.failed(info)


def test_a_worker_never_answered_stops_at_the_limit_and_every_thread_stops_after():
    breaker = OutageBreaker(limit=4, quiet_seconds=300, clock=Clock())
    fail(breaker, DOWN, 3)
    with pytest.raises(EndpointOutage, match=r"4 requests in a row, .*NetworkError/EndpointConnectionError"):
        breaker.failed(DOWN)
    with pytest.raises(EndpointOutage):
        breaker.check()  # the next request of any thread


def test_an_answer_or_a_record_level_error_resets_the_streak():
    breaker = OutageBreaker(limit=3, quiet_seconds=0, clock=Clock())
    for between in (breaker.answered, lambda: breaker.failed(BAD_RECORD)):
        fail(breaker, DOWN, 2)
        between()
    fail(breaker, DOWN, 2)
    breaker.check()


def test_a_worker_answered_recently_rides_out_a_short_outage_then_stops():
    clock = Clock()
    breaker = OutageBreaker(limit=3, quiet_seconds=300, clock=clock)
    breaker.answered()
    clock.now += 120
    fail(breaker, DOWN, 10)  # past the limit, but the endpoint answered two minutes ago
    breaker.check()
    clock.now += 180
    with pytest.raises(EndpointOutage, match="11 requests in a row"):
        breaker.failed(DOWN)


def test_limit_zero_never_stops():
    breaker = OutageBreaker(limit=0, quiet_seconds=0, clock=Clock())
    fail(breaker, DOWN, 1000)
    breaker.check()


def test_a_tripped_breaker_lets_a_request_through_a_minute_later_and_trips_again_at_its_first_failure():
    clock = Clock()
    breaker = OutageBreaker(limit=3, quiet_seconds=300, clock=clock)
    with pytest.raises(EndpointOutage):
        fail(breaker, DOWN, 3)
    clock.now += RETRY_AFTER_SECONDS - 1
    with pytest.raises(EndpointOutage):
        breaker.check()
    clock.now += 1
    breaker.check()  # a request may go: a runner retrying the bundle resumes if the endpoint is back
    with pytest.raises(EndpointOutage, match="4 requests in a row"):
        breaker.failed(DOWN)  # it is not
    clock.now += RETRY_AFTER_SECONDS
    breaker.check()
    breaker.answered()  # it is back
    fail(breaker, DOWN, 2)
    breaker.check()
