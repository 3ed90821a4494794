"""The one retry policy, with an injected sleep: tests never wait."""

import asyncio

import botocore.exceptions
import pytest

from tests.unit.transforms.invoke.stub_client import Slept
from transforms.core.settings import RetrySettings
from transforms.invoke.retry import InvokeFailed, RetryPolicy

POLICY = RetrySettings()


def client_error(code, status, **extra):
    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}
    return botocore.exceptions.ClientError(response, "InvokeEndpoint")


def _flaky(failures):
    calls = {"n": 0}

    async def fn():
        calls["n"] += 1
        if calls["n"] <= len(failures):
            raise failures[calls["n"] - 1]
        return "ok"

    return fn, calls


def test_retries_until_success_with_injected_sleep():
    sleeps = Slept()
    seen = []
    fn, calls = _flaky([client_error("ThrottlingException", 400), client_error("InternalFailure", 500)])
    result = asyncio.run(RetryPolicy(RetrySettings(max_backoff_seconds=3), sleep=sleeps).call(fn, on_error=seen.append))
    assert (result.value, result.attempts, calls["n"]) == ("ok", 3, 3)
    assert len(sleeps) == 2 and all(0 <= s <= 3 for s in sleeps)
    assert [i.error_class for i in seen] == ["ThrottlingException", "InternalFailure"]


def test_non_retryable_fails_at_once():
    sleeps = Slept()
    fn, calls = _flaky([client_error("ValidationError", 400)])
    with pytest.raises(InvokeFailed) as info:
        asyncio.run(RetryPolicy(POLICY, sleep=sleeps).call(fn))
    assert (info.value.attempts, calls["n"], sleeps) == (1, 1, [])
    assert info.value.info.error_class == "ValidationError"


def test_gives_up_after_max_attempts():
    sleeps = Slept()
    fn, calls = _flaky([client_error("ServiceUnavailable", 503)] * 10)
    with pytest.raises(InvokeFailed) as info:
        asyncio.run(RetryPolicy(RetrySettings(max_attempts=4), sleep=sleeps).call(fn))
    assert (info.value.attempts, calls["n"], len(sleeps)) == (4, 4, 3)


def test_each_backoff_is_reported_with_the_failure_that_caused_it():
    slept = Slept()
    backoffs: list[tuple[str, float]] = []
    policy = RetryPolicy(POLICY, sleep=slept)
    failures = [client_error("ThrottlingException", 400), client_error("ServiceUnavailable", 503)]

    async def call() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    result = asyncio.run(
        policy.call(call, on_backoff=lambda info, seconds: backoffs.append((info.error_class, seconds)))
    )
    assert result.attempts == 3
    assert [c for c, _ in backoffs] == ["ThrottlingException", "ServiceUnavailable"]
    assert [s for _, s in backoffs] == slept
