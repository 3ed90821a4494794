"""The one classifier: what each error means for retry, split, throttling and outage."""

import botocore.exceptions
import pytest

from transforms.core.errors import BadResponse
from transforms.core.settings import RetrySettings
from transforms.invoke.classify import classify

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
        (botocore.exceptions.NoCredentialsError(), "AuthError", False, False, False, True),
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


@pytest.mark.parametrize(
    ("exc", "poison"),
    [
        (client_error("ModelError", 424, OriginalStatusCode=500), True),
        (client_error("ModelError", 424, OriginalStatusCode=0), True),  # the container timed out
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), True),
        (BadResponse("CountMismatch", "3 for 4"), True),
        (client_error("ModelError", 424, OriginalStatusCode=400), False),  # split at once, not after attempts
        (client_error("InternalFailure", 500), False),
        (client_error("ThrottlingException", 400), False),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), False),
    ],
)
def test_failures_in_the_container_may_be_one_records_doing(exc, poison):
    assert classify(exc, POLICY).poison is poison
