"""What went wrong with a record or a request, in the words every stage shares.

The classifier (:mod:`transforms.invoke.classify`) fills an :class:`ErrorInfo`; the retry policy,
the bisection and the dead-letter rows read it.
"""

from __future__ import annotations

from dataclasses import dataclass


class BadResponse(Exception):
    """The endpoint answered 200 but the body cannot be matched to the records sent."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, kw_only=True)
class ErrorInfo:
    error_class: str
    code: str
    message: str
    retryable: bool
    throttle: bool = False
    split: bool = False  # a multi-record request failing like this may be one bad record: bisect
    # The container failed on the request (a 5xx from the model, a stall past the read timeout, an answer that
    # does not match the records): possibly one record's doing. A multi-record request is tried
    # ``split_after_attempts`` times, then bisected like ``split``.
    poison: bool = False
    http_status: int | None = None
    model_status: int | None = None
    model_message: str | None = None
    log_stream_arn: str | None = None
    outage: bool = False  # the endpoint, the way to it or the credentials failed: nothing about the records
    request_id: str | None = None  # the error answer's x-amzn-RequestId; none where nothing answered
