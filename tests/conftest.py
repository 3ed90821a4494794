"""Shared fixtures: the local endpoint over real HTTP and boto3 clients pointed at it."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from collections.abc import Callable, Iterator

import boto3
import pytest
from botocore.config import Config

from local_endpoint import LocalEndpoint, ServerConfig

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def make_client(url: str, **overrides: object):  # type: ignore[no-untyped-def]
    """A real boto3 sagemaker-runtime client with botocore's own retries off."""
    params: dict[str, object] = {"region_name": "us-east-1", **CREDENTIALS}
    params.update(overrides)
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=70, connect_timeout=5),
        **params,
    )


@pytest.fixture
def endpoint_factory() -> Iterator[Callable[[ServerConfig | dict | None], LocalEndpoint]]:
    started: list[LocalEndpoint] = []

    def start(config: ServerConfig | dict | None = None) -> LocalEndpoint:
        if isinstance(config, dict):
            config = ServerConfig.model_validate(config)
        ep = LocalEndpoint(config).start()
        started.append(ep)
        return ep

    yield start
    for ep in started:
        ep.stop()


@pytest.fixture
def default_endpoint(endpoint_factory) -> LocalEndpoint:  # type: ignore[no-untyped-def]
    return endpoint_factory(None)


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local endpoint's credentials in the environment, where boto3's default chain finds them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])


def endpoint_stats(url: str, reset: bool = False) -> dict:
    """The local endpoint's counts (requests received, answers, faulted InferenceIds); ``reset`` starts them over."""
    request = urllib.request.Request(f"{url}/_local/stats", method="DELETE" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def require(available: bool, what: str) -> None:
    """Skip when a service's parts are missing locally; in CI (CI=true) that is a failure, not a skip."""
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing in CI: the Makefile must provide it")
    pytest.skip(f"{what} is missing (run `make test`, which fetches it)")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """A real single-node Kafka broker on a free port for the whole session; yields its bootstrap address."""
    from local_kafka.broker import DEFAULT_JARS, running_broker

    require(any(DEFAULT_JARS.glob("kafka_2.13-*.jar")), "the Kafka broker jars (.jars/kafka-broker)")
    with running_broker() as broker:
        yield broker.bootstrap


@pytest.fixture
def gcs_server():
    """A GCS-compatible server (gcp-storage-emulator) with bucket ``lake``; Beam's GCS client is pointed at it."""
    from gcp_storage_emulator.server import create_server
    from google.cloud import storage

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="lake")
    server.start()
    host = f"http://127.0.0.1:{port}"
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = host  # google-cloud-storage (used by Beam) honours it
    yield host, storage.Client.create_anonymous_client()
    server.stop()
    if previous is None:
        del os.environ["STORAGE_EMULATOR_HOST"]
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = previous
