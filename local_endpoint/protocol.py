"""The InvokeEndpoint wire contract, read from botocore's own service model.

Header names, lengths and patterns come from ``sagemaker-runtime`` 2017-05-13 as
installed with botocore, so the server checks exactly what the real client
serializes instead of a retyped copy that drifts.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session
from aiohttp import web

SERVICE = "sagemaker-runtime"
OPERATION = "InvokeEndpoint"
ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sagemaker.runtime/"

# Java regex classes used by the model, in Python's dialect.
_JAVA_CLASSES = {
    r"\p{ASCII}": r"\x00-\x7f",
    r"\p{Print}": r"\x20-\x7e",
}


def java_pattern_to_python(pattern: str) -> re.Pattern[str]:
    """Translate the model's Java-flavoured patterns (\\p{..}, \\A, \\z) for ``re``."""
    out = pattern
    for java, py in _JAVA_CLASSES.items():
        out = out.replace(f"[{java}]", f"[{py}]").replace(java, f"[{py}]")
    out = out.replace(r"\z", r"\Z")
    return re.compile(out)


@dataclass(frozen=True, kw_only=True)
class FieldRule:
    member: str
    header: str
    min_len: int
    max_len: int | None
    pattern: re.Pattern[str] | None

    def problem(self, value: str) -> str | None:
        """Why ``value`` breaks the model's constraint, or None when it holds."""
        if len(value) < self.min_len:
            return f"Value for {self.member} must have length greater than or equal to {self.min_len}"
        if self.max_len is not None and len(value) > self.max_len:
            return f"Value for {self.member} must have length less than or equal to {self.max_len}"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return (
                f"Value '{value[:80]}' at '{self.member}' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern"
            )
        return None


@dataclass(frozen=True, kw_only=True)
class Contract:
    request_uri: str
    method: str
    body_max: int
    endpoint_name: FieldRule
    headers: tuple[FieldRule, ...]
    response_headers: dict[str, str]
    signing_name: str

    def header(self, member: str) -> str:
        return next(r.header for r in self.headers if r.member == member)


def _rule(member: str, shape: Any) -> FieldRule:
    meta = shape.metadata
    pattern = meta.get("pattern")
    return FieldRule(
        member=member,
        header=shape.serialization.get("name", member),
        min_len=int(meta.get("min", 0)),
        max_len=meta.get("max"),
        pattern=java_pattern_to_python(pattern) if pattern else None,
    )


@lru_cache(maxsize=1)
def contract() -> Contract:
    model = botocore.session.get_session().get_service_model(SERVICE)
    op = model.operation_model(OPERATION)
    members = op.input_shape.members
    headers = tuple(
        _rule(name, shape) for name, shape in members.items() if shape.serialization.get("location") == "header"
    )
    response_headers = {
        name: shape.serialization["name"]
        for name, shape in op.output_shape.members.items()
        if shape.serialization.get("location") == "header"
    }
    return Contract(
        request_uri=op.http["requestUri"],
        method=op.http["method"],
        body_max=int(members["Body"].metadata["max"]),
        endpoint_name=_rule("EndpointName", members["EndpointName"]),
        headers=headers,
        response_headers=response_headers,
        signing_name=model.signing_name,
    )


class ServiceError(Exception):
    """An error answered the way SageMaker Runtime answers it (x-amzn-ErrorType + JSON body)."""

    def __init__(self, code: str, status: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.fields = fields

    def response(self, request_id: str | None = None) -> web.Response:
        body = {"message": self.message, **self.fields}
        return web.Response(
            status=self.status,
            body=json.dumps(body).encode(),
            headers={
                "x-amzn-ErrorType": f"{self.code}:{ERROR_NAMESPACE}",
                "x-amzn-RequestId": request_id or str(uuid.uuid4()),
                "Content-Type": "application/json",
            },
        )


def validation_error(message: str) -> ServiceError:
    return ServiceError("ValidationError", 400, message)


def model_error(original_status: int, original_message: str, endpoint: str, container: str = "primary") -> ServiceError:
    kind = "client" if original_status < 500 else "server"
    return ServiceError(
        "ModelError",
        424,
        f'Received {kind} error ({original_status}) from {container} with message "{original_message}". '
        f"See {log_stream_arn(endpoint)} for more information.",
        OriginalStatusCode=original_status,
        OriginalMessage=original_message,
        LogStreamArn=log_stream_arn(endpoint),
    )


def log_stream_arn(endpoint: str) -> str:
    return f"arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/{endpoint}"


SIMPLE_ERRORS: dict[str, tuple[str, int, str]] = {
    "throttling": ("ThrottlingException", 400, "Rate exceeded"),
    "model_not_ready": ("ModelNotReadyException", 429, "Model is not ready to serve requests yet"),
    "internal_failure": ("InternalFailure", 500, "An internal error occurred"),
    "service_unavailable": ("ServiceUnavailable", 503, "The service is unavailable, please retry"),
    "internal_dependency": ("InternalDependencyException", 530, "An internal dependency failed"),
    "validation": ("ValidationError", 400, "Injected validation error"),
}


def simple_error(kind: str) -> ServiceError:
    code, status, message = SIMPLE_ERRORS[kind]
    return ServiceError(code, status, message)
