"""Typed settings of the reusable transforms, validated once before a pipeline is built.

Job configs (``pipelines.config``) compose these; the transforms receive them
already checked, so a DoFn never discovers a bad setting on a worker.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_PAYLOAD_BYTES = 6_291_456
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"

Serializer = Literal["csv", "json", "jsonlines", "raw"]
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "json": "application/json",
    "jsonlines": "application/jsonlines",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrySettings(Strict):
    """One tenacity policy: exponential backoff with full jitter, bounded by attempts and time."""

    max_attempts: int = Field(8, ge=1, le=100)
    max_elapsed_seconds: float = Field(600.0, gt=0)
    initial_backoff_seconds: float = Field(0.2, gt=0)
    max_backoff_seconds: float = Field(20.0, gt=0)
    retry_model_error_5xx: bool = True
    bad_response: Literal["dead_letter", "retry"] = "dead_letter"
    # Poison isolation (transforms/invoke/scorer.py): a multi-record request failing in the container (a model
    # 5xx, a read timeout, a bad answer) gets this many attempts before it is split in halves; past
    # max_isolated_records failing records, a request's bisection goes on only while they are at most a quarter
    # of the records it scored, and otherwise dead-letters what still fails in its halves.
    split_after_attempts: int = Field(2, ge=1, le=100)
    max_isolated_records: int = Field(8, ge=1, le=10_000)
    # The run stops (see transforms/invoke/outage.py) after this many requests in a row failed on the endpoint's
    # side after their retries, if none was answered in the last outage_seconds (or ever): 0 = never.
    abort_after_endpoint_failures: int = Field(16, ge=0)
    outage_seconds: float = Field(300.0, ge=0)


class WebIdentity(Strict):
    """Assume ``role_arn`` with the worker's Google ID token (Dataflow, GKE, GCE): no secret anywhere."""

    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    audience: str = "sts.amazonaws.com"
    session_name: str = Field("smscore", pattern=r"^[\w+=,.@-]{2,64}$")
    duration_seconds: int = Field(3600, ge=900, le=43200)


class EndpointSettings(Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    region: str = "us-east-1"
    endpoint_url: str | None = None
    web_identity: WebIdentity | None = None  # else boto3's default chain (env, profile, instance role)
    connect_timeout_seconds: float = Field(10.0, gt=0)
    read_timeout_seconds: float = Field(70.0, gt=0)


class RequestFields(Strict):
    """InvokeEndpoint fields; the job-wide value, or per record from a column where allowed."""

    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = Field(None, max_length=1024)
    target_model: str | None = None
    target_variant: str | None = Field(None, pattern=NAME_PATTERN)
    target_container_hostname: str | None = Field(None, pattern=NAME_PATTERN)
    enable_explanations: str | None = None
    inference_component_name: str | None = None
    session_id: str | None = None
    target_model_column: str | None = None
    target_variant_column: str | None = None
    custom_attributes_column: str | None = None

    def per_record_columns(self) -> dict[str, str]:
        """InvokeEndpoint parameter -> column for the fields that vary per record."""
        pairs = {
            "TargetModel": self.target_model_column,
            "TargetVariant": self.target_variant_column,
            "CustomAttributes": self.custom_attributes_column,
        }
        return {k: v for k, v in pairs.items() if v}


class InvokeSettings(Strict):
    strategy: Literal["SingleRecord", "MultiRecord"] = "MultiRecord"
    max_records: int = Field(500, ge=1)
    max_payload_bytes: int = Field(MAX_PAYLOAD_BYTES, ge=1, le=MAX_PAYLOAD_BYTES)
    serializer: Serializer = "csv"
    feature_columns: list[str] = []
    raw_column: str | None = None
    passthrough_columns: list[str] = []
    id_columns: list[str] = []
    inference_id_column: str | None = None  # ids as they are, not hashed (a dead letter's, when replaying)
    id_namespace: str = Field("smscore", min_length=1, max_length=31, pattern=r"^[\x21-\x7e]+$")
    concurrency: int = Field(16, ge=1, le=1024)
    adaptive_concurrency: bool = True
    pacing: bool = True  # requests spaced min round trip / concurrency apart (transforms/invoke/pacing.py)
    # direct: boto3's request without its per-call machinery, on an event loop (transforms/invoke/direct_client.py);
    # boto3: its client, on threads.
    client: Literal["direct", "boto3"] = "direct"
    # A job-wide budget: each worker process gets max_requests_per_second / worker_processes, the
    # processes the runner may run at once (derived from the runner options unless set here).
    max_requests_per_second: float | None = Field(None, gt=0)
    worker_processes: int | None = Field(None, ge=1)
    prediction_type: Literal["float64", "string"] = "float64"
    prediction_field: str | None = None
    fields: RequestFields = RequestFields()
    retry: RetrySettings = RetrySettings()

    @model_validator(mode="after")
    def _coherent(self) -> InvokeSettings:
        if self.inference_id_column and self.id_columns:
            raise ValueError("set id_columns (ids hashed from them) or inference_id_column (ids as they are), not both")
        if self.serializer == "raw":
            if not self.raw_column:
                raise ValueError("serializer 'raw' needs raw_column: the column that holds each request body")
            if not self.fields.content_type:
                raise ValueError("serializer 'raw' needs fields.content_type: the MIME type of raw_column")
        elif not self.feature_columns:
            raise ValueError(f"serializer '{self.serializer}' needs feature_columns: the columns sent to the model")
        return self

    @property
    def records_per_request(self) -> int:
        return 1 if self.strategy == "SingleRecord" else self.max_records

    @property
    def content_type(self) -> str:
        return self.fields.content_type or CONTENT_TYPES[self.serializer]

    @property
    def accept(self) -> str:
        return self.fields.accept or self.fields.content_type or CONTENT_TYPES.get(self.serializer, "application/json")

    def input_columns(self, source_key_columns: list[str]) -> list[str]:
        """Every column the invoke step reads, in a stable order, without repeats."""
        wanted = [
            *self.feature_columns,
            *([self.raw_column] if self.raw_column else []),
            *self.passthrough_columns,
            *([self.inference_id_column] if self.inference_id_column else self.id_columns or source_key_columns),
            *self.fields.per_record_columns().values(),
        ]
        return list(dict.fromkeys(wanted))
