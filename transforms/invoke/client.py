"""The InvokeEndpoint client of a worker: boto3's, with botocore's retries off and a pool sized to concurrency."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from transforms.core.settings import EndpointSettings
from transforms.invoke.credentials import web_identity_session


@dataclass(frozen=True)
class StaticCredentials:
    """Keys handed to the client itself, never to the process environment: the bundled local
    endpoint's own test keys. Real endpoints use boto3's default chain or web identity."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


def make_client(endpoint: EndpointSettings, concurrency: int, credentials: StaticCredentials | None = None) -> Any:
    """One client per worker: botocore's retries off (our policy decides), pool sized to concurrency."""
    if credentials is not None:
        session = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            region_name=endpoint.region,
        )
    elif endpoint.web_identity:
        session = web_identity_session(endpoint.web_identity, endpoint.region)
    else:
        session = boto3.session.Session()
    return session.client(
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
