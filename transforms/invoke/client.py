"""The InvokeEndpoint client of a worker: the direct one (:mod:`transforms.invoke.fast_client`) or boto3's,
either with botocore's retries off (our policy decides) and a pool sized to the concurrency."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import botocore.session
from botocore.config import Config

from transforms.core.settings import EndpointSettings
from transforms.invoke.credentials import web_identity_session
from transforms.invoke.fast_client import FastInvokeClient
from transforms.invoke.request_logs import quiet_request_loggers


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
    """One client per worker process: ``direct`` (boto3's contract without its per-call machinery) or ``boto3``."""
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
        return client
    return FastInvokeClient(client, session.get_credentials(), core.get_config_variable("ca_bundle"), concurrency)
