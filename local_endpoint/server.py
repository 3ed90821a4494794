"""The SageMaker-Runtime-compatible HTTP server, on aiohttp.

One handler implements ``POST /endpoints/{EndpointName}/invocations``: authenticate,
validate against the service model, inject configured faults, route to a
variant / model / component / container, call the model within the container
timeout, and answer with the headers the real service sends.

Over 300 lines for a reason: the handler's steps stay in one file, in the order a request meets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import ssl
import struct
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from local_endpoint.auth import SigV4Verifier
from local_endpoint.capture import capture_record
from local_endpoint.config import PoisonRecords, ServerConfig, Variant, default_config
from local_endpoint.faults import FaultInjector
from local_endpoint.hosting import BackgroundServer, serve_app
from local_endpoint.models import (
    Invocation,
    Model,
    ModelFailure,
    ModelOutput,
    drop_last_prediction,
)
from local_endpoint.protocol import (
    SIMPLE_ERRORS,
    ServiceError,
    contract,
    model_error,
    simple_error,
    validation_error,
)
from local_endpoint.routing import EndpointRuntime
from local_endpoint.sessions import Session, SessionStore, new_session_header

log = logging.getLogger("local_endpoint")


def _too_large(size: int, limit: int) -> ServiceError:
    return validation_error(f"Request body of {size} bytes exceeds the maximum payload size of {limit} bytes.")


_MODEL_TIMED_OUT = (
    "Your invocation timed out while waiting for a response from container primary. "
    "Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again."
)
_PRE_MODEL_FAULTS = frozenset(SIMPLE_ERRORS) | {"model_error", "connection_reset", "stall"}


@dataclass(kw_only=True)
class _Headers:
    content_type: str
    accept: str | None
    custom_attributes: str | None
    target_model: str | None
    target_variant: str | None
    target_container: str | None
    inference_id: str | None
    enable_explanations: str | None
    component: str | None
    session_id: str | None


def _reset_connection(request: web.Request) -> None:
    """Abort the TCP connection with an RST, as a dropped load balancer connection looks."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


@dataclass(kw_only=True)
class CallStats:
    """Requests received, answers by status/error code, and when the first and last successful call ended."""

    received: int = 0  # counted on arrival: a request the client gave up on (a stall) is never answered in time
    answers: Counter[str] = field(default_factory=Counter)
    # The InferenceId of each request given an injected fault, by kind: what a test checks dead letters against.
    faulted: dict[str, list[str | None]] = field(default_factory=lambda: defaultdict(list))
    first_ok: float | None = None
    last_ok: float | None = None

    def add(self, status: int, code: str | None = None) -> None:
        self.answers[code or str(status)] += 1
        if status == 200:
            now = time.monotonic()
            self.first_ok = self.first_ok or now
            self.last_ok = now

    def snapshot(self) -> dict[str, object]:
        span = (self.last_ok - self.first_ok) if self.first_ok and self.last_ok else None
        return {
            "received": self.received,
            "answers": dict(self.answers),
            "faulted": dict(self.faulted),
            "ok_span_seconds": span,
            # CLOCK_MONOTONIC is one clock for every process of the machine: a benchmark on it times its contender's
            # start-up (launch to first answer) and end (last answer to exit).
            "first_ok_monotonic": self.first_ok,
            "last_ok_monotonic": self.last_ok,
        }


class LocalSageMakerRuntime:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.contract = contract()
        self.verifier = SigV4Verifier(
            {c.access_key_id: c.secret_access_key for c in config.credentials},
            self.contract.signing_name,
            config.max_clock_skew_seconds,
        )
        self.endpoints = {e.name: EndpointRuntime(e, config.model_timeout_seconds) for e in config.endpoints}
        self.sessions = SessionStore()
        self.stats = CallStats()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.contract.body_max + 1)  # _body refuses larger ones first
        app.router.add_post("/endpoints/{name}/invocations", self.handle_invoke)
        app.router.add_get("/ping", self.handle_ping)
        # Not part of SageMaker: call counts for benchmarks (goodput measured where the calls land).
        app.router.add_get("/_local/stats", self.handle_stats)
        app.router.add_delete("/_local/stats", self.handle_stats)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, _app: web.Application) -> None:
        for runtime in self.endpoints.values():
            for model in runtime.all_models():
                await model.close()
            if runtime.capture:
                runtime.capture.close()

    async def handle_ping(self, _request: web.Request) -> web.Response:
        return web.Response(text="healthy")

    async def handle_stats(self, request: web.Request) -> web.Response:
        body = self.stats.snapshot()
        if request.method == "DELETE":
            self.stats = CallStats()
        return web.json_response(body)

    async def handle_invoke(self, request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        self.stats.received += 1
        try:
            response = await self._invoke(request, request_id)
            self.stats.add(response.status)
            return response
        except ServiceError as err:
            if err.status >= 500 or err.code == "ThrottlingException":
                log.debug("invoke %s -> %s", request_id, err.code)
            self.stats.add(err.status, err.code)
            return err.response(request_id)
        except Exception:  # a bug here must still answer like the service, not drop the connection
            log.exception("invoke %s failed inside the local endpoint", request_id)
            return simple_error("internal_failure").response(request_id)

    def _validated_headers(self, request: web.Request) -> _Headers:
        values: dict[str, str | None] = {}
        for rule in self.contract.headers:
            value = request.headers.get(rule.header)
            if value is not None:
                problem = rule.problem(value)
                if problem:
                    raise validation_error(f"1 validation error detected: {problem}")
            values[rule.member] = value
        return _Headers(
            content_type=values.get("ContentType") or "application/octet-stream",
            accept=values.get("Accept"),
            custom_attributes=values.get("CustomAttributes"),
            target_model=values.get("TargetModel"),
            target_variant=values.get("TargetVariant"),
            target_container=values.get("TargetContainerHostname"),
            inference_id=values.get("InferenceId"),
            enable_explanations=values.get("EnableExplanations"),
            component=values.get("InferenceComponentName"),
            session_id=values.get("SessionId"),
        )

    async def _invoke(self, request: web.Request, request_id: str) -> web.StreamResponse:
        body = await self._body(request)
        headers = self._validated_headers(request)
        url = f"{request.scheme}://{request.host}{request.raw_path}"
        self.verifier.verify(request.method, url, request.headers.items(), body)
        name = request.match_info["name"]
        problem = self.contract.endpoint_name.problem(name)
        if problem:
            raise validation_error(f"1 validation error detected: {problem}")
        runtime = self.endpoints.get(name)
        if runtime is None:
            raise validation_error(f"Endpoint {name} of account 000000000000 not found.")
        session = self._session(runtime, headers)
        variant = runtime.variants[session.variant] if session else runtime.pick_variant(headers.target_variant)
        injectors = (runtime.faults, runtime.variant_faults[variant.name])
        acquired: list[FaultInjector] = []
        try:
            for injector in injectors:
                if not injector.capacity.try_acquire():
                    raise simple_error("throttling")
                acquired.append(injector)
            fault = next((f for f in (i.draw_fault() for i in injectors) if f), None)
            poison = next((i.faults.poison for i in injectors if i.faults.poison), None)
            if poison is not None and poison.marker.encode() in body:
                self.stats.faulted["poison"].append(headers.inference_id)
                return await self._poisoned(poison, runtime)
            if fault is not None:
                self.stats.faulted[fault].append(headers.inference_id)
            if fault in _PRE_MODEL_FAULTS:
                return await self._pre_model_fault(request, fault, runtime)
            instance = session.instance if session else runtime.faults.randrange(variant.instances)
            model = runtime.pick_model(variant, headers.target_model, headers.component, headers.target_container)
            latency = sum(i.latency_seconds() for i in injectors)
            output = await self._call_model(model, runtime, body, headers, f"{variant.name}/{instance}", latency)
        finally:
            for injector in acquired:
                injector.capacity.release()
        return self._respond(request_id, runtime, variant, instance, headers, body, output, fault)

    async def _body(self, request: web.Request) -> bytes:
        """The body, refused as soon as it is known to be over the limit: from its declared length before a byte
        of it is read, else once the bytes read pass the limit, never after buffering all of it."""
        limit = self.contract.body_max
        declared = request.content_length
        if declared is not None and declared > limit:
            raise _too_large(declared, limit)
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > limit:
                raise _too_large(len(body), limit)
        return bytes(body)

    def _session(self, runtime: EndpointRuntime, headers: _Headers) -> Session | None:
        if headers.session_id is None or headers.session_id == "NEW_SESSION":
            return None
        return self.sessions.get(runtime.spec.name, headers.session_id)

    async def _pre_model_fault(self, request: web.Request, fault: str, runtime: EndpointRuntime) -> web.StreamResponse:
        if fault == "connection_reset":
            _reset_connection(request)
            return web.Response(status=500)
        if fault == "stall":
            await asyncio.sleep(runtime.spec.faults.stall_seconds)
            raise simple_error("internal_failure")
        if fault == "model_error":
            status = runtime.spec.faults.model_error_status
            raise model_error(status, f"Injected model failure ({status})", runtime.spec.name)
        raise simple_error(fault)

    async def _poisoned(self, poison: PoisonRecords, runtime: EndpointRuntime) -> web.StreamResponse:
        """The container fails on a record it cannot take: its handler raises, or hangs until the service's
        model timeout answers for it."""
        if poison.fails_with == "stall":
            await asyncio.sleep(runtime.spec.faults.stall_seconds)
            raise model_error(0, _MODEL_TIMED_OUT, runtime.spec.name)
        status = runtime.spec.faults.model_error_status
        raise model_error(
            status, f"Received server error ({status}) from primary: the handler raised", runtime.spec.name
        )

    async def _call_model(
        self, model: Model, runtime: EndpointRuntime, body: bytes, headers: _Headers, instance: str, latency: float
    ) -> ModelOutput:
        invocation = Invocation(
            body=body,
            content_type=headers.content_type,
            accept=headers.accept,
            custom_attributes=headers.custom_attributes,
            enable_explanations=headers.enable_explanations,
            inference_id=headers.inference_id,
            session_id=headers.session_id,
            instance=instance,
        )

        try:
            async with asyncio.timeout(self.config.model_timeout_seconds):
                if latency > 0:
                    await asyncio.sleep(latency)
                return await model.invoke(invocation)
        except TimeoutError:
            raise model_error(0, _MODEL_TIMED_OUT, runtime.spec.name) from None
        except ModelFailure as failure:
            raise model_error(failure.status, failure.message, runtime.spec.name) from None

    def _respond(
        self,
        request_id: str,
        runtime: EndpointRuntime,
        variant: Variant,
        instance: int,
        headers: _Headers,
        request_body: bytes,
        output: ModelOutput,
        fault: str | None,
    ) -> web.Response:
        names = self.contract.response_headers
        body = output.body
        if fault == "malformed_body":
            body = b"\x00\x01 this is not a valid model response {"
        elif fault == "count_mismatch":
            body = drop_last_prediction(body, output.content_type)
        response_headers = {
            names["ContentType"]: output.content_type,
            names["InvokedProductionVariant"]: variant.name,
            "x-amzn-RequestId": request_id,
        }
        if output.custom_attributes is not None:
            response_headers[names["CustomAttributes"]] = output.custom_attributes
        if headers.session_id == "NEW_SESSION":
            session = self.sessions.open(runtime.spec.name, variant.name, instance, runtime.spec.session_ttl_seconds)
            response_headers[names["NewSessionId"]] = new_session_header(session)
        if output.closed_session_id is not None:
            self.sessions.close(output.closed_session_id)
            response_headers[names["ClosedSessionId"]] = output.closed_session_id
        capture = runtime.capture
        if capture is not None and runtime.faults.sample(runtime.spec.data_capture.sampling_percentage):  # type: ignore[union-attr]
            now = dt.datetime.now(dt.UTC)
            record = capture_record(
                request_body, headers.content_type, body, output.content_type, headers.inference_id, now
            )
            capture.write(variant.name, record, now)
        return web.Response(body=body, headers=response_headers)


class LocalEndpoint(BackgroundServer):
    """The local endpoint in-process, for tests: ``with LocalEndpoint(config) as ep: ep.url``."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config or default_config()
        app = LocalSageMakerRuntime(self.config).app()
        super().__init__(app, host, port, name="local-sagemaker-endpoint", tls=tls)


async def start_site(config: ServerConfig, host: str, port: int) -> tuple[web.AppRunner, int]:
    return await serve_app(LocalSageMakerRuntime(config).app(), host, port)


def running(config: ServerConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> LocalEndpoint:
    """``with running(config) as ep:`` -- the local endpoint for the duration of the block."""
    return LocalEndpoint(config, host, port)
