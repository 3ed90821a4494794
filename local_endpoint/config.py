"""Typed configuration of the local SageMaker Runtime endpoint.

Validated once when the server starts, so a typo in a fault rate or a variant
weight fails loudly with the key that is wrong instead of at request time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoModelSpec(_Strict):
    """The built-in deterministic model: one score per row of numeric features."""

    type: Literal["demo"] = "demo"
    bias: float = 0.0
    scale: float = 1.0
    echo_custom_attributes: bool = True  # as a container may; false: answers carry none


class UpstreamModelSpec(_Strict):
    """Forward to a server implementing the model-container contract (GET /ping, POST /invocations)."""

    type: Literal["upstream"]
    url: str


ModelSpec = Annotated[DemoModelSpec | UpstreamModelSpec, Field(discriminator="type")]


class Jitter(_Strict):
    distribution: Literal["exponential", "normal", "uniform"] = "exponential"
    mean_ms: float = Field(0.0, ge=0)
    stddev_ms: float = Field(0.0, ge=0)


class Latency(_Strict):
    fixed_ms: float = Field(0.0, ge=0)
    jitter: Jitter | None = None


class Capacity(_Strict):
    """Above these limits the endpoint answers ThrottlingException, as an overloaded one does."""

    max_concurrent: int | None = Field(None, ge=1)
    max_rps: float | None = Field(None, gt=0)


class ErrorRates(_Strict):
    """Probability per request of each injected fault (they are mutually exclusive)."""

    throttling: float = Field(0.0, ge=0, le=1)
    model_error: float = Field(0.0, ge=0, le=1)
    model_not_ready: float = Field(0.0, ge=0, le=1)
    internal_failure: float = Field(0.0, ge=0, le=1)
    service_unavailable: float = Field(0.0, ge=0, le=1)
    internal_dependency: float = Field(0.0, ge=0, le=1)
    validation: float = Field(0.0, ge=0, le=1)
    connection_reset: float = Field(0.0, ge=0, le=1)
    stall: float = Field(0.0, ge=0, le=1)
    malformed_body: float = Field(0.0, ge=0, le=1)
    count_mismatch: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_at_most_one(self) -> ErrorRates:
        total = sum(getattr(self, k) for k in type(self).model_fields)
        if total > 1.0 + 1e-9:
            raise ValueError(f"error rates add up to {total:.3f}; they must add up to at most 1")
        return self


FAULT_KINDS = tuple(ErrorRates.model_fields)


class PoisonRecords(_Strict):
    """Records the model cannot take: a request whose body holds ``marker`` fails in the container, as a
    handler that raises on one record (a 5xx ModelError) or hangs on it (no answer for ``stall_seconds``)."""

    marker: str = Field(min_length=1)
    fails_with: Literal["model_error", "stall"] = "model_error"


class Faults(_Strict):
    seed: int = 0
    latency: Latency = Latency()
    capacity: Capacity = Capacity()
    errors: ErrorRates = ErrorRates()
    model_error_status: int = Field(500, ge=400, le=599)
    stall_seconds: float = Field(75.0, gt=0)
    poison: PoisonRecords | None = None


class Variant(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    weight: float = Field(1.0, ge=0)
    instances: int = Field(1, ge=1)
    model: ModelSpec = DemoModelSpec()
    faults: Faults = Faults()


class MultiModel(_Strict):
    """A multi-model endpoint: TargetModel picks one of ``models``."""

    models: dict[str, ModelSpec]
    load_seconds: float = Field(0.0, ge=0)


class DataCapture(_Strict):
    destination: str
    sampling_percentage: float = Field(100.0, ge=0, le=100)


class Endpoint(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    variants: list[Variant] = Field(min_length=1)
    multi_model: MultiModel | None = None
    inference_components: dict[str, ModelSpec] = {}
    containers: dict[str, ModelSpec] = {}
    data_capture: DataCapture | None = None
    faults: Faults = Faults()
    session_ttl_seconds: float = Field(1200.0, gt=0)

    @field_validator("variants")
    @classmethod
    def _weights(cls, variants: list[Variant]) -> list[Variant]:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        if sum(v.weight for v in variants) <= 0:
            raise ValueError("at least one variant needs a positive weight")
        return variants


class Credential(_Strict):
    access_key_id: str = Field(min_length=1)
    secret_access_key: str = Field(min_length=1)


class ServerConfig(_Strict):
    credentials: list[Credential] = Field([Credential(access_key_id="test", secret_access_key="test")], min_length=1)
    max_clock_skew_seconds: float = Field(300.0, gt=0)
    model_timeout_seconds: float = Field(60.0, gt=0)
    endpoints: list[Endpoint] = Field(min_length=1)

    @field_validator("endpoints")
    @classmethod
    def _unique(cls, endpoints: list[Endpoint]) -> list[Endpoint]:
        names = [e.name for e in endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names must be unique, got {names}")
        return endpoints

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)


def default_config() -> ServerConfig:
    """The built-in default: ``local-demo`` with a 70/30 split over two demo variants."""
    return ServerConfig(
        endpoints=[
            Endpoint(
                name="local-demo",
                variants=[
                    Variant(name="variant-a", weight=0.7),
                    Variant(name="variant-b", weight=0.3, model=DemoModelSpec(bias=0.05)),
                ],
            )
        ]
    )


def load_config(path: str | Path | None) -> ServerConfig:
    """Load a YAML server config; ``None`` means the built-in default."""
    if path is None:
        return default_config()
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return ServerConfig.model_validate(raw)
