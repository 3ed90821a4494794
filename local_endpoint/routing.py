"""An endpoint's runtime: its variants' models, weighted routing, and the target model, component or container."""

from __future__ import annotations

import time

from local_endpoint.capture import CaptureWriter
from local_endpoint.config import DemoModelSpec, Endpoint, UpstreamModelSpec, Variant
from local_endpoint.faults import FaultInjector
from local_endpoint.models import DemoModel, Model
from local_endpoint.protocol import ServiceError, validation_error
from local_endpoint.upstream import UpstreamContainer


def build_model(spec: DemoModelSpec | UpstreamModelSpec, timeout_seconds: float) -> Model:
    if isinstance(spec, UpstreamModelSpec):
        return UpstreamContainer(spec.url, timeout_seconds)
    return DemoModel(bias=spec.bias, scale=spec.scale, echo_custom_attributes=spec.echo_custom_attributes)


class EndpointRuntime:
    """Live state of one configured endpoint: models, fault streams, sessions, capture."""

    def __init__(self, spec: Endpoint, timeout_seconds: float) -> None:
        self.spec = spec
        self.faults = FaultInjector(spec.faults)
        self.variants = {v.name: v for v in spec.variants}
        self.variant_faults = {v.name: FaultInjector(v.faults) for v in spec.variants}
        self.variant_models = {v.name: build_model(v.model, timeout_seconds) for v in spec.variants}
        mme = spec.multi_model
        self.target_models = {n: build_model(m, timeout_seconds) for n, m in (mme.models.items() if mme else [])}
        self.first_use: dict[str, float] = {}
        self.components = {n: build_model(m, timeout_seconds) for n, m in spec.inference_components.items()}
        self.containers = {n: build_model(m, timeout_seconds) for n, m in spec.containers.items()}
        self.capture = CaptureWriter(spec.data_capture.destination, spec.name) if spec.data_capture else None

    def all_models(self) -> list[Model]:
        return [
            *self.variant_models.values(),
            *self.target_models.values(),
            *self.components.values(),
            *self.containers.values(),
        ]

    def pick_variant(self, target: str | None) -> Variant:
        if target is not None:
            variant = self.variants.get(target)
            if variant is None:
                raise validation_error(f"The variant {target} does not exist for endpoint {self.spec.name}.")
            return variant
        weights = [v.weight for v in self.spec.variants]
        return self.spec.variants[self.faults.choose(weights)]

    def pick_model(
        self, variant: Variant, target_model: str | None, component: str | None, container: str | None
    ) -> Model:
        if target_model is not None:
            return self._target_model(target_model)
        if self.spec.multi_model is not None:
            raise validation_error("TargetModel is required for a multi-model endpoint.")
        if self.components:
            if component is None:
                raise validation_error("InferenceComponentName is required for an endpoint with inference components.")
            if component not in self.components:
                raise validation_error(f"Inference component {component} not found on endpoint {self.spec.name}.")
            return self.components[component]
        if component is not None:
            raise validation_error(f"Endpoint {self.spec.name} has no inference components.")
        if container is not None:
            if container not in self.containers:
                raise validation_error(
                    f"TargetContainerHostname {container} is not a container of endpoint {self.spec.name} "
                    "in direct invocation mode."
                )
            return self.containers[container]
        return self.variant_models[variant.name]

    def _target_model(self, name: str) -> Model:
        mme = self.spec.multi_model
        if mme is None:
            raise validation_error(
                f"Endpoint {self.spec.name} is not a multi-model endpoint. TargetModel is not supported."
            )
        model = self.target_models.get(name)
        if model is None:
            raise validation_error(
                f"Failed to load model {name}: it is not in the model artifacts of endpoint {self.spec.name}."
            )
        first = self.first_use.setdefault(name, time.monotonic())
        if time.monotonic() - first < mme.load_seconds:
            raise ServiceError("ModelNotReadyException", 429, f"Model {name} is loading; retry later.")
        return model
