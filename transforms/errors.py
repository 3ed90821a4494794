"""The one error classifier: what failed, whether to retry it, whether to split the batch.

Every exception raised around ``invoke_endpoint`` goes through :func:`classify`,
so the retry policy, the batch bisection and the dead-letter rows all agree on
what an error means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import botocore.exceptions

from transforms.settings import RetrySettings

THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})
SERVICE_FAULT_CODES = frozenset({"InternalFailure", "ServiceUnavailable", "InternalDependencyException"})
AUTH_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "AccessDeniedException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
    }
)
_ENDPOINT_NOT_FOUND = re.compile(r"Endpoint \S+ of account \S+ not found")  # the service's words
NETWORK_ERRORS = (
    botocore.exceptions.ConnectionError,  # connection refused, connect timeout
    botocore.exceptions.HTTPClientError,  # connection reset/closed mid-request, read timeout
)


class BadResponse(Exception):
    """The endpoint answered 200 but the body cannot be matched to the records sent."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ErrorInfo:
    error_class: str
    code: str
    message: str
    retryable: bool
    throttle: bool = False
    split: bool = False  # a multi-record request failing like this may be one bad record: bisect
    http_status: int | None = None
    model_status: int | None = None
    model_message: str | None = None
    log_stream_arn: str | None = None
    outage: bool = False  # the endpoint, the way to it or the credentials failed: nothing about the records


def classify(exc: BaseException, policy: RetrySettings) -> ErrorInfo:
    """Map an exception from one InvokeEndpoint attempt to what the pipeline does about it."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return _classify_client_error(exc, policy)
    if isinstance(exc, BadResponse):
        return ErrorInfo("BadResponse", exc.code, str(exc), retryable=policy.bad_response == "retry")
    if isinstance(exc, NETWORK_ERRORS):
        return ErrorInfo("NetworkError", type(exc).__name__, str(exc), retryable=True, outage=True)
    return ErrorInfo(type(exc).__name__, type(exc).__name__, str(exc), retryable=False)


def _classify_client_error(exc: botocore.exceptions.ClientError, policy: RetrySettings) -> ErrorInfo:
    response = exc.response
    error = response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    common = {"http_status": status, "code": code, "message": message}
    if code in THROTTLING_CODES:
        return ErrorInfo("ThrottlingException", retryable=True, throttle=True, outage=True, **common)
    if code == "ModelNotReadyException" or code in SERVICE_FAULT_CODES:
        return ErrorInfo(code, retryable=True, outage=True, **common)
    if code in AUTH_CODES or status == 403:
        return ErrorInfo("AuthError", retryable=False, outage=True, **common)
    if code == "ModelError":
        original = response.get("OriginalStatusCode")
        client_side = original is not None and 400 <= int(original) < 500
        return ErrorInfo(
            "ModelError",
            retryable=(not client_side) and policy.retry_model_error_5xx,
            split=client_side,
            model_status=int(original) if original is not None else None,
            model_message=response.get("OriginalMessage"),
            log_stream_arn=response.get("LogStreamArn"),
            **common,
        )
    if code == "ValidationError":
        too_large = "payload" in message.lower() or "too large" in message.lower() or status == 413
        missing = _ENDPOINT_NOT_FOUND.match(message) is not None  # the job's endpoint name: no record can pass
        return ErrorInfo("ValidationError", retryable=False, split=too_large, outage=missing, **common)
    if status is not None and status >= 500:
        return ErrorInfo("ServiceError", retryable=True, outage=True, **common)
    return ErrorInfo("ClientError", retryable=False, **common)
