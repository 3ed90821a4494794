"""A stub InvokeEndpoint client for unit tests of the invoke logic: pure logic, no network.

It answers CSV bodies with one score per line (the first feature doubled), and fails the way
SageMaker does (botocore ``ClientError`` with the modeled fields) when a body holds a poison value
or while scripted failures last. The real endpoint is exercised over HTTP by the integration tests.
"""

from __future__ import annotations

import io
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

POISON = "-1.0"


class Slept(list[float]):
    """An injected sleep that records how long it was asked to sleep, and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    """An injected clock that stands still, and its sleep (:class:`Slept`): time moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleep = self.slept = Slept()

    def __call__(self) -> float:
        return self.now


def model_error(original_status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ModelError", "Message": f"Received client error ({original_status}) from model"},
            "ResponseMetadata": {"HTTPStatusCode": 424},
            "OriginalStatusCode": original_status,
            "OriginalMessage": "cannot score this record",
            "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/e",
        },
        "InvokeEndpoint",
    )


def service_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "InvokeEndpoint"
    )


class StubClient:
    """``await invoke_endpoint(**params)``, the async form of boto3's contract; records every call's parameters."""

    def __init__(
        self, failures: list[Exception] | None = None, poison_status: int = 400, on_poison: str = "model_error"
    ) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failures = list(failures or [])  # raised first, one per call
        self.poison_status = poison_status
        self.on_poison = on_poison  # model_error (with poison_status), stall (a read timeout), short_answer

    async def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        if self.failures:
            raise self.failures.pop(0)
        lines = params["Body"].decode().splitlines()
        poisoned = any(line.split(",")[0] == POISON for line in lines)
        if poisoned and self.on_poison == "model_error":
            raise model_error(self.poison_status)
        if poisoned and self.on_poison == "stall":
            raise ReadTimeoutError(endpoint_url="http://stub")
        scores = "\n".join(str(2 * float(line.split(",")[0])) for line in lines[: -1 if poisoned else None]) + "\n"
        return {
            "Body": io.BytesIO(scores.encode()),
            "ContentType": "text/csv",
            "InvokedProductionVariant": "variant-a",
        }
