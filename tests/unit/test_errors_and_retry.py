import botocore.exceptions
import pytest

from transforms.concurrency import AdaptiveLimiter
from transforms.errors import BadResponse, classify
from transforms.retry import InvokeFailed, RetryPolicy
from transforms.settings import RetrySettings

POLICY = RetrySettings()


def client_error(code, status, **extra):
    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}
    return botocore.exceptions.ClientError(response, "InvokeEndpoint")


@pytest.mark.parametrize(
    ("exc", "error_class", "retryable", "throttle", "split", "outage"),
    [
        (client_error("ThrottlingException", 400), "ThrottlingException", True, True, False, True),
        (client_error("ModelNotReadyException", 429), "ModelNotReadyException", True, False, False, True),
        (client_error("InternalFailure", 500), "InternalFailure", True, False, False, True),
        (client_error("ServiceUnavailable", 503), "ServiceUnavailable", True, False, False, True),
        (client_error("InternalDependencyException", 530), "InternalDependencyException", True, False, False, True),
        (client_error("SomethingElse", 502), "ServiceError", True, False, False, True),
        (client_error("InvalidSignatureException", 403), "AuthError", False, False, False, True),
        (client_error("UnrecognizedClientException", 403), "AuthError", False, False, False, True),
        (client_error("ExpiredTokenException", 400), "AuthError", False, False, False, True),
        (client_error("ValidationError", 400), "ValidationError", False, False, False, False),
        (client_error("ModelError", 424, OriginalStatusCode=400), "ModelError", False, False, True, False),
        (client_error("ModelError", 424, OriginalStatusCode=503), "ModelError", True, False, False, False),
        (client_error("ModelError", 424, OriginalStatusCode=0), "ModelError", True, False, False, False),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), "NetworkError", True, False, False, True),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), "NetworkError", True, False, False, True),
        (BadResponse("CountMismatch", "3 for 4"), "BadResponse", False, False, False, False),
    ],
)
def test_classifier(exc, error_class, retryable, throttle, split, outage):
    info = classify(exc, POLICY)
    assert (info.error_class, info.retryable, info.throttle, info.split, info.outage) == (
        error_class,
        retryable,
        throttle,
        split,
        outage,
    )


def test_an_unknown_endpoint_is_an_outage_other_validation_errors_are_about_the_request():
    def info(message):
        return classify(
            client_error("ValidationError", 400, Error={"Code": "ValidationError", "Message": message}), POLICY
        )

    assert info("Endpoint nightly-model of account 123456789012 not found.").outage
    assert not info("Variant variant-x not found on endpoint nightly-model.").outage


def test_payload_too_large_validation_error_splits():
    exc = client_error("ValidationError", 400)
    exc.response["Error"]["Message"] = "Request payload exceeds the maximum size"
    assert classify(exc, POLICY).split


def test_model_error_5xx_retry_is_configurable():
    exc = client_error("ModelError", 424, OriginalStatusCode=500)
    assert not classify(exc, RetrySettings(retry_model_error_5xx=False)).retryable


def test_bad_response_retry_is_configurable():
    assert classify(BadResponse("CountMismatch", ""), RetrySettings(bad_response="retry")).retryable


def _flaky(failures):
    calls = {"n": 0}

    def fn():
        calls["n"] += 1
        if calls["n"] <= len(failures):
            raise failures[calls["n"] - 1]
        return "ok"

    return fn, calls


def test_retries_until_success_with_injected_sleep():
    sleeps = []
    seen = []
    fn, calls = _flaky([client_error("ThrottlingException", 400), client_error("InternalFailure", 500)])
    result = RetryPolicy(RetrySettings(max_backoff_seconds=3), sleep=sleeps.append).call(fn, on_error=seen.append)
    assert (result.value, result.attempts, calls["n"]) == ("ok", 3, 3)
    assert len(sleeps) == 2 and all(0 <= s <= 3 for s in sleeps)
    assert [i.error_class for i in seen] == ["ThrottlingException", "InternalFailure"]


def test_non_retryable_fails_at_once():
    sleeps = []
    fn, calls = _flaky([client_error("ValidationError", 400)])
    with pytest.raises(InvokeFailed) as info:
        RetryPolicy(POLICY, sleep=sleeps.append).call(fn)
    assert (info.value.attempts, calls["n"], sleeps) == (1, 1, [])
    assert info.value.info.error_class == "ValidationError"


def test_gives_up_after_max_attempts():
    sleeps = []
    fn, calls = _flaky([client_error("ServiceUnavailable", 503)] * 10)
    with pytest.raises(InvokeFailed) as info:
        RetryPolicy(RetrySettings(max_attempts=4), sleep=sleeps.append).call(fn)
    assert (info.value.attempts, calls["n"], len(sleeps)) == (4, 4, 3)


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
