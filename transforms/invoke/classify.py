"""The one error classifier: what failed, whether to retry it, whether to split the batch.

Every exception raised around ``invoke_endpoint`` goes through :func:`classify`,
so the retry policy, the batch bisection and the dead-letter rows all agree on
what an error means.
"""

from __future__ import annotations

import re

import botocore.exceptions

from transforms.core.errors import BadResponse, ErrorInfo
from transforms.core.settings import RetrySettings

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


def classify(exc: BaseException, policy: RetrySettings) -> ErrorInfo:
    """Map an exception from one InvokeEndpoint attempt to what the pipeline does about it."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return _classify_client_error(exc, policy)
    if isinstance(exc, BadResponse):
        return ErrorInfo(
            error_class="BadResponse",
            code=exc.code,
            message=str(exc),
            retryable=policy.bad_response == "retry",
            poison=True,
        )
    if isinstance(exc, botocore.exceptions.NoCredentialsError):  # no request can be signed: stop the run
        return ErrorInfo(
            error_class="AuthError", code=type(exc).__name__, message=str(exc), retryable=False, outage=True
        )
    if isinstance(exc, NETWORK_ERRORS):
        stalled = isinstance(exc, botocore.exceptions.ReadTimeoutError)  # the container took the request and hung
        return ErrorInfo(
            error_class="NetworkError",
            code=type(exc).__name__,
            message=str(exc),
            retryable=True,
            outage=True,
            poison=stalled,
        )
    return ErrorInfo(error_class=type(exc).__name__, code=type(exc).__name__, message=str(exc), retryable=False)


def _classify_client_error(exc: botocore.exceptions.ClientError, policy: RetrySettings) -> ErrorInfo:
    response = exc.response
    error = response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", ""))
    metadata = response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode")
    common = {"http_status": status, "code": code, "message": message, "request_id": metadata.get("RequestId")}
    if code in THROTTLING_CODES:
        return ErrorInfo(error_class="ThrottlingException", retryable=True, throttle=True, outage=True, **common)
    if code == "ModelNotReadyException" or code in SERVICE_FAULT_CODES:
        return ErrorInfo(error_class=code, retryable=True, outage=True, **common)
    if code in AUTH_CODES or status == 403:
        return ErrorInfo(error_class="AuthError", retryable=False, outage=True, **common)
    if code == "ModelError":
        original = response.get("OriginalStatusCode")
        client_side = original is not None and 400 <= int(original) < 500
        return ErrorInfo(
            error_class="ModelError",
            retryable=(not client_side) and policy.retry_model_error_5xx,
            split=client_side,
            poison=not client_side,
            model_status=int(original) if original is not None else None,
            model_message=response.get("OriginalMessage"),
            log_stream_arn=response.get("LogStreamArn"),
            **common,
        )
    if code == "ValidationError":
        too_large = "payload" in message.lower() or "too large" in message.lower() or status == 413
        missing = _ENDPOINT_NOT_FOUND.match(message) is not None  # the job's endpoint name: no record can pass
        return ErrorInfo(error_class="ValidationError", retryable=False, split=too_large, outage=missing, **common)
    if status is not None and status >= 500:
        return ErrorInfo(error_class="ServiceError", retryable=True, outage=True, **common)
    return ErrorInfo(error_class="ClientError", retryable=False, **common)
