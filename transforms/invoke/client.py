"""The InvokeEndpoint client of a worker: the direct one (:mod:`transforms.invoke.direct_client`) or boto3's,
either with botocore's retries off (our policy decides) and a pool sized to the concurrency.

Both have the async form of boto3's contract, ``await client.invoke_endpoint(**params)``, and run on the
worker's event loop: the direct client sends from the loop itself, boto3's blocks a pool thread per call.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import botocore.session
from botocore.config import Config

from transforms.core.settings import EndpointSettings
from transforms.invoke.credentials import web_identity_session
from transforms.invoke.direct_client import DirectInvokeClient
from transforms.invoke.request_logs import quiet_request_loggers
from transforms.invoke.wire import InvokeWire


@dataclass(frozen=True)
class StaticCredentials:
    """Keys handed to the client itself, never to the process environment: the bundled local
    endpoint's own test keys. Real endpoints use boto3's default chain or web identity."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


def make_client(
    endpoint: EndpointSettings,
    concurrency: int,
    credentials: StaticCredentials | None = None,
    kind: Literal["direct", "boto3"] = "direct",
) -> Any:
    """One client per worker process: ``direct`` (boto3's request without its per-call machinery) or ``boto3``."""
    quiet_request_loggers()
    core = botocore.session.get_session()
    if endpoint.web_identity and credentials is None:
        session = web_identity_session(endpoint.web_identity, endpoint.region, core=core)
    else:
        session = boto3.session.Session(
            botocore_session=core,
            aws_access_key_id=credentials.access_key_id if credentials else None,
            aws_secret_access_key=credentials.secret_access_key if credentials else None,
            region_name=endpoint.region,
        )
    client = session.client(
        "sagemaker-runtime",
        region_name=endpoint.region,
        endpoint_url=endpoint.endpoint_url,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=concurrency,
            connect_timeout=endpoint.connect_timeout_seconds,
            read_timeout=endpoint.read_timeout_seconds,
            tcp_keepalive=True,
        ),
    )
    if kind == "boto3":
        return ThreadedClient(client, concurrency)
    wire = InvokeWire(client, session.get_credentials())
    return DirectInvokeClient(wire, core.get_config_variable("ca_bundle"), concurrency)


class ThreadedClient:
    """boto3's client behind the async contract: each call, its body read included, blocks a pool thread."""

    def __init__(self, client: Any, threads: int) -> None:
        self.client = client
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="boto3-invoke")

    @property
    def endpoint_url(self) -> str:
        return str(self.client.meta.endpoint_url)

    async def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, params)

    async def close(self) -> None:
        self._pool.shutdown(wait=False)

    def _call(self, params: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.client.invoke_endpoint(**params)
        response["Body"] = io.BytesIO(response["Body"].read())
        return response
